//! The pure BTF layer: parse the `.BTF` section of a BPF object ([`ObjectBtf`]), find the
//! output maps coreship.h declared ([`Marker`]), look types up by name, and compile a type
//! into a [`Layout`] that decodes raw event and map-key bytes without further BTF lookups.
//!
//! Nothing here touches the kernel, files or the network: input is BTF bytes (as libbpf's
//! `btf__raw_data` returns them) and record bytes. Rendering rows lives in `output/`.

mod compile;
mod error;
mod globals;
mod hist_key;
mod layout;
mod lookup;
mod marker;
mod names;
mod object;
pub(crate) mod plan;
mod value;

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;

pub use error::{BtfError, DecodeError};
pub use globals::{Setting, SettingError, SettingValue, SETTING_SECTIONS};
pub use hist_key::{HistKey, HIST_SLOTS};
pub use layout::{Column, Layout};
pub use marker::{Marker, MARKER_SECTION};
pub use object::{Endian, ObjectBtf};
pub use value::Value;
