//! coreship's loader: open a CO-RE BPF object, let libbpf relocate it against the running
//! kernel's BTF, attach every program by its section, and print what its maps carry, decoded
//! generically from the object's own BTF.
#![deny(missing_docs)]

mod btf;
mod output;

pub use btf::*;
pub use output::*;
