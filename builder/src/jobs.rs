//! A small pool: independent (probe, arch) jobs on scoped std threads, in order, stopping
//! after the first failure like cargo does.

use crate::BuildError;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `f(0..count)` on up to `threads` threads; stops starting jobs after the first error.
/// `None` marks a job that panicked or was not started because an earlier one failed.
pub(crate) fn run_jobs<T: Send>(
    count: usize,
    threads: usize,
    f: impl Fn(usize) -> Result<T, BuildError> + Sync,
) -> Vec<Option<Result<T, BuildError>>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<T, BuildError>>>> =
        Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, count.max(1)) {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= count {
                    break;
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(j)));
                match r {
                    Ok(r) => {
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        results.lock().expect("results lock")[j] = Some(r);
                    }
                    Err(_) => failed.store(true, Ordering::Relaxed),
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    // Report the first real error, not a job skipped because of it.
    if let Some(first_err) = results.iter().position(|r| matches!(r, Some(Err(_)))) {
        results.truncate(first_err + 1);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_parallel_and_stop_after_an_error() {
        let r = run_jobs(8, 3, |j| Ok::<_, BuildError>(j * 2));
        let got: Vec<usize> = r.into_iter().map(|r| r.unwrap().unwrap()).collect();
        assert_eq!(got, [0, 2, 4, 6, 8, 10, 12, 14]);

        let r = run_jobs(100, 1, |j| {
            if j == 3 {
                Err(BuildError::NoSuchProbe {
                    name: "x".into(),
                    available: String::new(),
                })
            } else {
                Ok(j)
            }
        });
        assert_eq!(r.len(), 4);
        assert!(matches!(r[3], Some(Err(BuildError::NoSuchProbe { .. }))));
        assert!(run_jobs(0, 4, |_| Ok::<(), BuildError>(())).is_empty());
    }
}
