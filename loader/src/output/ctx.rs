//! [`FormatCtx`]: what rendering needs beyond the record's bytes.

use super::DeviceNames;

/// Context for rendering records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormatCtx {
    /// CLOCK_MONOTONIC nanoseconds timestamps are printed relative to (the loader's start),
    /// as seconds: `1.234567`.
    pub start_mono_ns: u64,
    /// Names of block devices, for `__u32 dev` members (kernel dev_t); unknown ones print
    /// as `MAJ:MIN`.
    pub devices: DeviceNames,
}

impl FormatCtx {
    /// Seconds from the start to a `bpf_ktime_get_ns()` timestamp (negative if before).
    pub fn relative_secs(&self, ns: u64) -> f64 {
        (i128::from(ns) - i128::from(self.start_mono_ns)) as f64 / 1e9
    }
}
