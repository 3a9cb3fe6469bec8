//! Transfer progress, reported per blob so that a front end can drive its own progress bars
//! (the builder uses indicatif) without the client depending on one.

use crate::Sha256Digest;

/// Receives `done`/`total` bytes per blob as transfers advance.
pub trait Progress {
    /// `done` of `total` bytes of the blob `digest` have moved (0 at the start; `total` at the
    /// end, also for blobs skipped because the other side already has them).
    fn update(&self, digest: &Sha256Digest, done: u64, total: u64);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &Sha256Digest, _: u64, _: u64) {}
}

/// Progress reported to a closure.
pub struct ProgressFn<F: Fn(&Sha256Digest, u64, u64)>(pub F);

impl<F: Fn(&Sha256Digest, u64, u64)> Progress for ProgressFn<F> {
    fn update(&self, digest: &Sha256Digest, done: u64, total: u64) {
        (self.0)(digest, done, total)
    }
}
