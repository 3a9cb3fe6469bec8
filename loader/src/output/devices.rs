//! [`DeviceNames`]: block device names for `__u32 dev` members, which coreship.h documents
//! as the kernel's dev_t (`major << 20 | minor`, as block tracepoints report it). Filled by
//! the caller (from sysfs, see `crate::devices`); rendering only looks names up.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::fmt::push_u64;

/// Bits of the minor number in the kernel's internal dev_t (`MINORBITS`).
const MINOR_BITS: u32 = 20;

/// The kernel's dev_t for `major:minor`.
pub fn kernel_dev(major: u32, minor: u32) -> u32 {
    (major << MINOR_BITS) | (minor & ((1 << MINOR_BITS) - 1))
}

/// `(major, minor)` of a kernel dev_t.
pub fn kernel_dev_split(dev: u32) -> (u32, u32) {
    (dev >> MINOR_BITS, dev & ((1 << MINOR_BITS) - 1))
}

/// Block device names by kernel dev_t; cheap to clone (shared). Empty by default, when every
/// device prints as `MAJ:MIN`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceNames(Option<Arc<BTreeMap<u32, Box<str>>>>);

impl DeviceNames {
    /// No names: every device prints as `MAJ:MIN`.
    pub const EMPTY: DeviceNames = DeviceNames(None);

    /// A table from `(major, minor, name)` entries.
    pub fn new(entries: impl IntoIterator<Item = (u32, u32, String)>) -> DeviceNames {
        let map: BTreeMap<u32, Box<str>> = entries
            .into_iter()
            .map(|(major, minor, name)| (kernel_dev(major, minor), name.into()))
            .collect();
        DeviceNames((!map.is_empty()).then(|| Arc::new(map)))
    }

    /// The name of kernel dev_t `dev`, if known.
    pub fn name(&self, dev: u32) -> Option<&str> {
        self.0.as_ref()?.get(&dev).map(|n| &**n)
    }

    /// Appends the name of `dev`, or `MAJ:MIN` when it has none.
    pub(crate) fn push(&self, out: &mut String, dev: u32) {
        match self.name(dev) {
            Some(name) => out.push_str(name),
            None => {
                let (major, minor) = kernel_dev_split(dev);
                push_u64(out, u64::from(major));
                out.push(':');
                push_u64(out, u64::from(minor));
            }
        }
    }
}

/// `(major, minor, DEVNAME)` from the text of a sysfs `uevent` file, if it has all three.
pub fn parse_uevent(text: &str) -> Option<(u32, u32, String)> {
    let (mut major, mut minor, mut name) = (None, None, None);
    for line in text.lines() {
        match line.split_once('=') {
            Some(("MAJOR", v)) => major = v.trim().parse().ok(),
            Some(("MINOR", v)) => minor = v.trim().parse().ok(),
            Some(("DEVNAME", v)) if !v.trim().is_empty() => name = Some(v.trim().to_string()),
            _ => {}
        }
    }
    Some((major?, minor?, name?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dev_t_splits_at_bit_20() {
        assert_eq!(kernel_dev(254, 0), 254 << 20);
        assert_eq!(kernel_dev(8, 17), (8 << 20) | 17);
        assert_eq!(kernel_dev_split((259 << 20) | 3), (259, 3));
    }

    #[test]
    fn names_known_devices_and_numbers_the_rest() {
        let names = DeviceNames::new([(254, 0, "vda".into()), (254, 1, "vda1".into())]);
        let mut out = String::new();
        names.push(&mut out, kernel_dev(254, 1));
        out.push(' ');
        names.push(&mut out, kernel_dev(8, 0));
        out.push(' ');
        DeviceNames::EMPTY.push(&mut out, kernel_dev(254, 0));
        assert_eq!(out, "vda1 8:0 254:0");
        assert_eq!(DeviceNames::new([]), DeviceNames::EMPTY);
    }

    #[test]
    fn uevent_gives_numbers_and_name() {
        let text = "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=9\n";
        assert_eq!(parse_uevent(text), Some((254, 0, "vda".into())));
        assert_eq!(parse_uevent("MAJOR=7\nMINOR=0\n"), None);
        assert_eq!(parse_uevent("MAJOR=x\nMINOR=0\nDEVNAME=a\n"), None);
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;
    use crate::btf::testutil::BtfWriter;
    use crate::{FormatCtx, ObjectBtf};

    #[test]
    fn unsigned_32_bit_members_named_dev_print_as_device_names() {
        let mut w = BtfWriter::new();
        let uint = w.int("unsigned int", 4, false);
        let u32_ = w.typedef("__u32", uint);
        let int = w.int("int", 4, true);
        let ull = w.int("unsigned long long", 8, false);
        let id = w.structure(
            "key",
            16,
            &[
                ("dev", u32_, 0, 0),
                ("other", int, 32, 0),
                ("ts2", ull, 64, 0),
            ],
        );
        let signed = w.structure("s", 4, &[("dev", int, 0, 0)]);
        let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
        let layout = btf.layout(id).unwrap();
        let ctx = FormatCtx {
            start_mono_ns: 0,
            devices: DeviceNames::new([(254, 0, "vda".into())]),
        };
        let mut rec = [0u8; 16];
        rec[..4].copy_from_slice(&kernel_dev(254, 0).to_le_bytes());
        rec[4] = 9;
        let mut out = String::new();
        layout.write_key(&rec, &ctx, &mut out).unwrap();
        assert_eq!(out, "vda, 9, 0");
        out.clear();
        layout.write_json(&rec, &ctx, &mut out).unwrap();
        assert_eq!(out, r#"{"dev":"vda","other":9,"ts2":0}"#);
        rec[..4].copy_from_slice(&kernel_dev(8, 16).to_le_bytes());
        out.clear();
        layout.write_json(&rec, &ctx, &mut out).unwrap();
        assert!(out.starts_with(r#"{"dev":"8:16","#), "{out}");
        // A signed `dev` is just a number.
        out.clear();
        let s = btf.layout(signed).unwrap();
        s.write_key(&(-1i32).to_le_bytes(), &ctx, &mut out).unwrap();
        assert_eq!(out, "-1");
    }
}
