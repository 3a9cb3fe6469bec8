//! The package description (`package.json`, also the artifact's config blob): parse, check,
//! re-serialize, and resolve every file it names against a package directory.
#![no_main]

use coreship_registry::{Arch, KernelKey, Package, PackageError};
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};

/// A package directory that does not exist: nothing it names can be read, and every path an
/// error reports must still lie inside it.
const DIR: &str = "/nonexistent-coreship-fuzz/pkg";

fn inside(path: &Path) -> bool {
    path.strip_prefix(DIR)
        .is_ok_and(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))))
}

fn check_paths<T>(what: &str, r: Result<T, PackageError>) {
    match r {
        Err(PackageError::Io { path, .. } | PackageError::DigestMismatch { path, .. }) => {
            assert!(
                inside(&path),
                "{what} reads {} outside {DIR}",
                path.display()
            )
        }
        Err(PackageError::NoArch { .. }) => {}
        Err(e) => panic!("{what}: unexpected error {e}"),
        Ok(_) => panic!("{what} read a file from a directory that does not exist"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(pkg) = Package::from_json(data, Path::new("package.json")) else {
        return;
    };
    let json = pkg.to_json();
    let back =
        Package::from_json(&json, Path::new("again.json")).expect("a written package reads back");
    assert_eq!(back, pkg, "package.json round trip");
    let dir = Path::new(DIR);
    for arch in Arch::ALL {
        let has = pkg.objects.iter().any(|o| o.arch == arch);
        assert_eq!(pkg.object(arch).is_ok(), has);
        check_paths("object_for", pkg.object_for(dir, arch));
        match pkg.min_btf_for(dir, arch) {
            Ok(files) => assert!(files.is_empty() && has),
            r => check_paths("min_btf_for", r),
        }
    }
    for m in pkg.objects.iter().flat_map(|o| &o.min_btf) {
        if let Some(key) = KernelKey::parse(&m.kernel) {
            assert_eq!(KernelKey::parse(&key.to_string()), Some(key));
        }
    }
});
