//! Where the local artifact cache lives (an image [`Layout`](crate::layout::Layout) whose
//! names are full references).

use std::path::PathBuf;

/// The cache directory: `$CORESHIP_CACHE_DIR`, else `$XDG_CACHE_HOME/coreship`, else
/// `/var/cache/coreship` for root, else `~/.cache/coreship`.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("CORESHIP_CACHE_DIR") {
        return dir;
    }
    if let Some(xdg) = env("XDG_CACHE_HOME") {
        return xdg.join("coreship");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/cache/coreship");
    }
    match env("HOME") {
        Some(home) => home.join(".cache").join("coreship"),
        None => PathBuf::from("/var/cache/coreship"),
    }
}
