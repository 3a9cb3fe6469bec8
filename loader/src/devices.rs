//! The block devices of this machine, read from sysfs once at start so that `dev` members
//! (kernel dev_t) print as `vda` rather than `254:0`. Rendering stays pure: it only looks
//! names up in the [`DeviceNames`] this fills.

use std::path::Path;

use crate::{parse_uevent, DeviceNames};

/// Where the kernel lists block devices as `MAJ:MIN` links.
const SYS_DEV_BLOCK: &str = "/sys/dev/block";

/// Every block device (disks and partitions) of this machine, by name; empty if sysfs is
/// not mounted (then devices print as `MAJ:MIN`).
pub fn block_device_names() -> DeviceNames {
    read_block_devices(Path::new(SYS_DEV_BLOCK))
}

/// Reads `<dir>/MAJ:MIN/uevent` for every entry of `dir`; unreadable entries are skipped.
fn read_block_devices(dir: &Path) -> DeviceNames {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return DeviceNames::EMPTY;
    };
    DeviceNames::new(entries.flatten().filter_map(|e| {
        let text = std::fs::read_to_string(e.path().join("uevent")).ok()?;
        parse_uevent(&text)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_dev;

    #[test]
    fn reads_a_sysfs_like_tree() {
        let dir = std::env::temp_dir().join(format!("coreship-sysfs-{}", std::process::id()));
        for (entry, uevent) in [
            ("254:0", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n"),
            (
                "254:1",
                "MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition\n",
            ),
            ("7:0", "MAJOR=7\nMINOR=0\n"),
        ] {
            std::fs::create_dir_all(dir.join(entry)).unwrap();
            std::fs::write(dir.join(entry).join("uevent"), uevent).unwrap();
        }
        let names = read_block_devices(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(names.name(kernel_dev(254, 0)), Some("vda"));
        assert_eq!(names.name(kernel_dev(254, 1)), Some("vda1"));
        assert_eq!(names.name(kernel_dev(7, 0)), None);
        assert_eq!(
            read_block_devices(Path::new("/nonexistent")),
            DeviceNames::EMPTY
        );
    }
}
