//! Where the local artifact cache lives (an image [`Layout`](crate::layout::Layout) whose
//! names are full references; the registry client's `Cache` manages it).

use std::path::{Path, PathBuf};

/// The cache directory: `$CORESHIP_CACHE_DIR`, else `$XDG_CACHE_HOME/coreship`, else
/// `/var/cache/coreship` when running as root, else `~/.cache/coreship`; `None` when none of
/// those can be told (no HOME for a non-root user).
pub fn cache_dir() -> Option<PathBuf> {
    dir_from(
        &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
        euid_is_root(),
    )
}

/// [`cache_dir`] for a given environment; `euid_is_root` decides between `/var/cache` and the
/// home directory.
pub(crate) fn dir_from(
    env: &dyn Fn(&str) -> Option<String>,
    euid_is_root: bool,
) -> Option<PathBuf> {
    if let Some(d) = env("CORESHIP_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return Some(Path::new(&d).join("coreship"));
    }
    if euid_is_root {
        return Some(PathBuf::from("/var/cache/coreship"));
    }
    env("HOME").map(|h| Path::new(&h).join(".cache/coreship"))
}

/// Whether the effective user is root, from `/proc/self/status` (no libc needed).
fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|e| e == "0")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_cache_directory_follows_the_environment_and_the_user() {
        let env = |pairs: &[(&'static str, &'static str)]| {
            let m: HashMap<&str, &str> = pairs.iter().copied().collect();
            move |k: &str| m.get(k).map(|v| v.to_string())
        };
        let all = [
            ("CORESHIP_CACHE_DIR", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(dir_from(&env(&all), true), Some(PathBuf::from("/c")));
        assert_eq!(
            dir_from(&env(&all[1..]), true),
            Some(PathBuf::from("/x/coreship"))
        );
        assert_eq!(
            dir_from(&env(&all[2..]), true),
            Some(PathBuf::from("/var/cache/coreship"))
        );
        assert_eq!(
            dir_from(&env(&all[2..]), false),
            Some(PathBuf::from("/home/u/.cache/coreship"))
        );
        assert_eq!(dir_from(&env(&[]), false), None);
    }
}
