//! Minimal BTF for kernels without `/sys/kernel/btf/vmlinux`: per object, the BTF types its
//! CO-RE relocations need from each supported kernel, keyed the way Inspektor Gadget and
//! BTFHub lay them out: `<ID>/<VERSION_ID>/<arch>/<uname -r>` (os-release ID and VERSION_ID,
//! BTFHub arch names `x86_64`/`arm64`).

use crate::Arch;
use std::fmt;

/// Which kernel a minimal BTF is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelKey {
    /// os-release `ID` (`debian`, `ubuntu`, a vendor's own).
    pub id: String,
    /// os-release `VERSION_ID` (`12`, `22.04`; `none` when the file has none).
    pub version_id: String,
    /// BTFHub arch name: `x86_64` or `arm64`.
    pub arch: String,
    /// `uname -r`.
    pub release: String,
}

/// BTFHub's name for `arch`.
pub fn btfhub_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "arm64",
    }
}

impl KernelKey {
    /// Parses `ID/VERSION_ID/ARCH/RELEASE` (a trailing `.btf` is ignored).
    pub fn parse(path: &str) -> Option<KernelKey> {
        let path = path.strip_suffix(".btf").unwrap_or(path);
        let mut parts = path.split('/');
        let key = KernelKey {
            id: parts.next()?.to_string(),
            version_id: parts.next()?.to_string(),
            arch: parts.next()?.to_string(),
            release: parts.next()?.to_string(),
        };
        let plain = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('\0');
        (parts.next().is_none()
            && plain(&key.id)
            && plain(&key.version_id)
            && plain(&key.arch)
            && plain(&key.release))
        .then_some(key)
    }

    /// The running kernel's key: `/etc/os-release` (or `/usr/lib/os-release`), the kernel
    /// release from `/proc/sys/kernel/osrelease`, and `arch`.
    pub fn running(arch: Arch) -> KernelKey {
        let os = std::fs::read_to_string("/etc/os-release")
            .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
            .unwrap_or_default();
        let (id, version_id) = os_release_ids(&os);
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|r| r.trim().to_string())
            .unwrap_or_default();
        KernelKey {
            id,
            version_id,
            arch: btfhub_arch(arch).to_string(),
            release,
        }
    }
}

/// `ID` and `VERSION_ID` of an os-release file (`linux`/`none` when absent, as BTFHub would
/// have no entry for them anyway).
pub fn os_release_ids(text: &str) -> (String, String) {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix('=')?;
            Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
    };
    (
        get("ID").unwrap_or_else(|| "linux".into()),
        get("VERSION_ID").unwrap_or_else(|| "none".into()),
    )
}

impl fmt::Display for KernelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.id, self.version_id, self.arch, self.release
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_reject_odd_paths() {
        let k = KernelKey::parse("debian/12/x86_64/6.1.0-47-cloud-amd64.btf").unwrap();
        assert_eq!(k.release, "6.1.0-47-cloud-amd64");
        assert_eq!(k.to_string(), "debian/12/x86_64/6.1.0-47-cloud-amd64");
        for bad in ["debian/12/x86_64", "a/b/c/d/e", "../12/x86_64/r", "a//b/c"] {
            assert!(KernelKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn os_release_ids_are_read_with_quotes() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\nVERSION_ID=\"12\"\n";
        assert_eq!(os_release_ids(text), ("debian".into(), "12".into()));
        assert_eq!(
            os_release_ids("ID=buildroot\n"),
            ("buildroot".into(), "none".into())
        );
    }
}
