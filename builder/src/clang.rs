//! Finding clang and asking its version.
//!
//! Order: `$CLANG`, then `clang-19` down to `clang-14`, then `clang` on `PATH`. The first line of
//! `clang --version` is part of every input hash and of the package description.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Versioned names tried on `PATH` before plain `clang`, newest first.
const VERSIONED: [&str; 6] = [
    "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14",
];

/// What to do when no clang is found (also shown when `$CLANG` is unusable).
const ADVICE: &str =
    "install clang (e.g. `apt-get install clang-19`) or set CLANG to a clang binary";

/// A usable clang.
#[derive(Debug, Clone)]
pub struct Clang {
    /// The binary.
    pub path: PathBuf,
    /// First line of `clang --version`, e.g. `Debian clang version 19.1.7 (3+b1)`.
    pub version: String,
}

/// Errors finding or running clang.
#[derive(Debug, thiserror::Error)]
pub enum ClangError {
    /// No clang on `PATH` and `$CLANG` unset.
    #[error("no clang found (tried $CLANG, {}, clang on PATH): {ADVICE}", VERSIONED.join(", "))]
    NotFound,
    /// The clang named (by `$CLANG` or found on `PATH`) could not be run.
    #[error("cannot run clang `{}`{}: {error}; {ADVICE}", path.display(), if *from_env { " (from $CLANG)" } else { "" })]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// Whether `$CLANG` named it.
        from_env: bool,
        /// The OS error (in the message, not a `source`: the advice must come last).
        error: io::Error,
    },
    /// `clang --version` failed.
    #[error("`{} --version` failed: {stderr}", path.display())]
    Version {
        /// The binary.
        path: PathBuf,
        /// What it printed on stderr.
        stderr: String,
    },
}

impl Clang {
    /// Finds clang from the environment (`$CLANG`, then `PATH`) and reads its version.
    pub fn find() -> Result<Clang, ClangError> {
        let env = std::env::var_os("CLANG").filter(|v| !v.is_empty());
        let from_env = env.is_some();
        let path = match env {
            Some(p) => PathBuf::from(p),
            None => search_path(std::env::var_os("PATH").as_deref()).ok_or(ClangError::NotFound)?,
        };
        Clang::at_inner(&path, from_env)
    }

    /// Uses the clang at `path` (a path or a name looked up on `PATH`).
    pub fn at(path: &Path) -> Result<Clang, ClangError> {
        Clang::at_inner(path, false)
    }

    fn at_inner(path: &Path, from_env: bool) -> Result<Clang, ClangError> {
        let out = Command::new(path)
            .arg("--version")
            .output()
            .map_err(|error| ClangError::Spawn {
                path: path.to_path_buf(),
                from_env,
                error,
            })?;
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if !out.status.success() || first.is_empty() {
            return Err(ClangError::Version {
                path: path.to_path_buf(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(Clang {
            path: path.to_path_buf(),
            version: first,
        })
    }
}

/// The first of [`VERSIONED`] then `clang` found in `path_var`'s directories.
fn search_path(path_var: Option<&OsStr>) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::env::split_paths(path_var.unwrap_or_default()).collect();
    VERSIONED
        .iter()
        .copied()
        .chain(["clang"])
        .map(OsString::from)
        .find_map(|name| {
            dirs.iter()
                .map(|d| d.join(&name))
                .find(|p| is_executable(p))
        })
}

fn is_executable(p: &Path) -> bool {
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_bin(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, "#!/bin/sh\necho 'fake clang version 1.0'\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn versioned_names_win_over_plain_clang_and_path_order_breaks_ties() {
        let base = std::env::temp_dir().join(format!("coreship-clang-unit-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fake_bin(&a, "clang");
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(search_path(Some(&path)), Some(a.join("clang")));
        fake_bin(&b, "clang-15");
        assert_eq!(search_path(Some(&path)), Some(b.join("clang-15")));
        fake_bin(&b, "clang-18");
        assert_eq!(search_path(Some(&path)), Some(b.join("clang-18")));
        // Not executable: skipped.
        fs::write(a.join("clang-19"), "").unwrap();
        assert_eq!(search_path(Some(&path)), Some(b.join("clang-18")));
        assert_eq!(search_path(Some(OsStr::new(""))), None);
        let clang = Clang::at(&b.join("clang-18")).unwrap();
        assert_eq!(clang.version, "fake clang version 1.0");
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn unusable_clang_is_one_line_with_advice() {
        let err = Clang::at_inner(Path::new("/nonexistent/clang"), true).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(
            msg.contains("$CLANG") && msg.contains("apt-get install clang"),
            "{msg}"
        );
        assert!(ClangError::NotFound
            .to_string()
            .contains("clang-19, clang-18"));
    }
}
