//! Carries the `hello` probe declared in `Cargo.toml` (cargo needs a target to read the
//! package); build it with `cargo coreship build`.
