//! Which BTF CO-RE relocates against: `--btf FILE`, else the kernel's own
//! (`/sys/kernel/btf/vmlinux`), else the minimal BTF the artifact ships for this kernel
//! (matched by os-release ID, VERSION_ID, arch and `uname -r`), written to a temporary file
//! for libbpf's `btf_custom_path`.

use std::path::{Path, PathBuf};

use coreship_registry::{Arch, KernelKey};

use crate::{LoadError, ProbeSource};

/// Where the kernel exposes its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The BTF chosen for a load; a minimal BTF file is removed when this is dropped.
#[derive(Debug)]
pub(crate) struct ChosenBtf {
    /// Path for libbpf's `btf_custom_path`, or `None` for the kernel's own.
    pub path: Option<PathBuf>,
    /// The kernel key of the minimal BTF used, if one was.
    pub min_btf: Option<String>,
    temp: Option<PathBuf>,
}

impl Drop for ChosenBtf {
    fn drop(&mut self) {
        if let Some(t) = &self.temp {
            let _ = std::fs::remove_file(t);
        }
    }
}

/// Chooses the BTF for `src` (see the module docs). `ignore_kernel_btf` behaves as on a kernel
/// without BTF.
pub(crate) fn choose(
    src: &ProbeSource,
    btf: Option<&Path>,
    ignore_kernel_btf: bool,
) -> Result<ChosenBtf, LoadError> {
    let none = |path| ChosenBtf {
        path,
        min_btf: None,
        temp: None,
    };
    if let Some(b) = btf {
        return Ok(none(Some(b.to_path_buf())));
    }
    if !ignore_kernel_btf && Path::new(KERNEL_BTF).exists() {
        return Ok(none(None));
    }
    let arch = Arch::host().ok_or(LoadError::NoKernelBtf {
        running: "an unknown arch".into(),
        shipped: String::new(),
    })?;
    let key = KernelKey::running(arch).to_string();
    let Some((_, bytes)) = src.min_btf.iter().find(|(k, _)| *k == key) else {
        let shipped: Vec<&str> = src.min_btf.iter().map(|(k, _)| k.as_str()).collect();
        return Err(LoadError::NoKernelBtf {
            running: key,
            shipped: shipped.join(", "),
        });
    };
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("coreship-min-btf-{}-{seq}.btf", std::process::id()));
    std::fs::write(&path, bytes).map_err(|source| LoadError::Read {
        path: path.clone(),
        source,
    })?;
    Ok(ChosenBtf {
        path: Some(path.clone()),
        min_btf: Some(key),
        temp: Some(path),
    })
}
