//! Input generators shared by the fuzz targets (the targets themselves are in
//! `fuzz_targets/`). Nothing here is coreship logic: only ways to turn fuzz bytes into
//! inputs that get past the first checks of the code under test.

pub mod btf;
