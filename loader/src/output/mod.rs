//! Rendering decoded output: event rows as aligned text or JSON (methods on
//! [`Layout`](crate::Layout)), log2 histograms and counters as bpftrace prints them.
//!
//! Writers append to a caller-owned `String` and never print; the caller decides where
//! the text goes and reuses the buffer, so rendering an event allocates nothing.

mod counters;
mod ctx;
mod devices;
mod fmt;
mod hist;
mod json;
mod text;
mod walk;

pub use counters::{counters_json, render_counters};
pub use ctx::FormatCtx;
pub use devices::{kernel_dev, kernel_dev_split, parse_uevent, DeviceNames};
pub(crate) use fmt::{push_json_str, push_text_str};
pub use hist::{hist_json, log2_slot_bounds, render_log2_hist};
