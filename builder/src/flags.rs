//! The clang command line.
//!
//! clang runs in the workspace root with root-relative paths, `-fdebug-compilation-dir=.` and
//! `-ffile-prefix-map`, so no absolute path of the checkout reaches the object. Each path
//! argument also has a checkout-independent rendering ([`PathMapper::stable`]) for the input
//! hash.

use crate::paths::{PathMapper, OUT_ALIAS};
use coreship_registry::Arch;
use std::path::{Path, PathBuf};

/// Flags common to every probe and arch, recorded in the package description.
pub(crate) const CFLAGS: [&str; 6] = [
    "-g",
    "-O2",
    "-target",
    "bpf",
    // DWARF is stripped from the final object, but clang derives BTF from it: embedding the
    // source makes the BTF line info carry source text without reading files by their
    // remapped names (which need not exist relative to clang's working directory).
    "-gembed-source",
    "-fdebug-compilation-dir=.",
];

/// One clang argument: literal, or a path rendered per [`PathMapper`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// A flag without paths.
    Lit(String),
    /// `prefix` + path + `suffix`.
    Path {
        /// Text before the path, e.g. `-I`.
        prefix: &'static str,
        /// The absolute path.
        path: PathBuf,
        /// Text after the path.
        suffix: String,
        /// Whether clang must see it absolute (prefix maps) rather than root-relative.
        absolute: bool,
    },
}

impl Arg {
    fn path(prefix: &'static str, path: &Path, suffix: &str) -> Arg {
        Arg::Path {
            prefix,
            path: path.to_path_buf(),
            suffix: suffix.to_string(),
            absolute: false,
        }
    }

    fn absolute(prefix: &'static str, path: &Path, suffix: &str) -> Arg {
        Arg::Path {
            prefix,
            path: path.to_path_buf(),
            suffix: suffix.to_string(),
            absolute: true,
        }
    }

    /// As passed to clang.
    pub(crate) fn command(&self, m: &PathMapper) -> String {
        match self {
            Arg::Lit(s) => s.clone(),
            Arg::Path {
                prefix,
                path,
                suffix,
                absolute: true,
            } => format!("{prefix}{}{suffix}", path.display()),
            Arg::Path {
                prefix,
                path,
                suffix,
                absolute: false,
            } => format!("{prefix}{}{suffix}", m.command(path).display()),
        }
    }

    /// As hashed: the same on every checkout.
    pub(crate) fn stable(&self, m: &PathMapper) -> String {
        match self {
            Arg::Lit(s) => s.clone(),
            Arg::Path {
                prefix,
                path,
                suffix,
                ..
            } => format!("{prefix}{}{suffix}", m.stable(path)),
        }
    }
}

/// Everything but the input and output files: common flags, the arch define, include dirs in
/// search order, and the path maps.
pub(crate) fn compile_flags(arch: Arch, include_dirs: &[PathBuf], m: &PathMapper) -> Vec<Arg> {
    let mut args: Vec<Arg> = CFLAGS.iter().map(|f| Arg::Lit(f.to_string())).collect();
    args.push(Arg::Lit(format!("-D__TARGET_ARCH_{}", arch.libbpf_name())));
    args.extend(include_dirs.iter().map(|d| Arg::path("-I", d, "")));
    args.extend(prefix_maps(m));
    args
}

/// The `-ffile-prefix-map` flags.
fn prefix_maps(m: &PathMapper) -> Vec<Arg> {
    let mut maps = Vec::new();
    if m.out_outside_root() {
        maps.push(Arg::absolute(
            "-ffile-prefix-map=",
            m.out(),
            &format!("={OUT_ALIAS}"),
        ));
    }
    // Last: clang applies the last matching map first.
    maps.push(Arg::absolute("-ffile-prefix-map=", m.root(), "=."));
    maps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(args: &[Arg], m: &PathMapper, stable: bool) -> Vec<String> {
        args.iter()
            .map(|a| if stable { a.stable(m) } else { a.command(m) })
            .collect()
    }

    #[test]
    fn out_dir_inside_root_needs_one_prefix_map() {
        let m = PathMapper::new(Path::new("/src/ws"), Path::new("/src/ws/target/coreship"));
        let dirs = [
            PathBuf::from("/src/ws/bpf/include"),
            PathBuf::from("/src/ws/target/coreship/include"),
        ];
        let flags = compile_flags(Arch::Aarch64, &dirs, &m);
        let cmd = render(&flags, &m, false);
        assert_eq!(
            cmd,
            [
                "-g",
                "-O2",
                "-target",
                "bpf",
                "-gembed-source",
                "-fdebug-compilation-dir=.",
                "-D__TARGET_ARCH_arm64",
                "-Ibpf/include",
                "-Itarget/coreship/include",
                "-ffile-prefix-map=/src/ws=.",
            ]
        );
        let stable = render(&flags, &m, true);
        assert_eq!(stable[..9], cmd[..9]);
        assert_eq!(stable[9], "-ffile-prefix-map=.=.");
    }

    #[test]
    fn out_dir_outside_root_is_aliased_and_stable_across_checkouts() {
        let a = PathMapper::new(Path::new("/a/ws"), Path::new("/cache/out"));
        let b = PathMapper::new(Path::new("/home/someone/longer/ws"), Path::new("/o"));
        let flags = |m: &PathMapper, root: &str, out: &str| {
            let dirs = [
                Path::new(root).join("bpf/include"),
                Path::new(out).join("include"),
            ];
            compile_flags(Arch::X86_64, &dirs, m)
        };
        let fa = flags(&a, "/a/ws", "/cache/out");
        let fb = flags(&b, "/home/someone/longer/ws", "/o");
        assert_eq!(render(&fa, &a, true), render(&fb, &b, true));
        let cmd = render(&fa, &a, false);
        assert!(cmd.contains(&"-I/cache/out/include".to_string()), "{cmd:?}");
        assert!(cmd.contains(&"-ffile-prefix-map=/cache/out=coreship-out".to_string()));
        assert!(cmd.contains(&"-D__TARGET_ARCH_x86".to_string()));
        // The root map comes last so it wins.
        assert_eq!(cmd.last().unwrap(), "-ffile-prefix-map=/a/ws=.");
    }
}
