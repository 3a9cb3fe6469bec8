//! Target architectures and their names in each vocabulary (Rust/uname, libbpf, OCI).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A CPU architecture a probe object is compiled for.
///
/// BPF bytecode itself is arch-neutral, but `bpf_tracing.h` reads registers (`PT_REGS_PARM1`,
/// …) with arch-specific offsets selected by `__TARGET_ARCH_<arch>`, so kprobe/uprobe objects
/// differ per arch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// 64-bit x86 (`x86_64`, OCI `amd64`).
    X86_64,
    /// 64-bit Arm (`aarch64`, OCI `arm64`).
    Aarch64,
}

/// An architecture name coreship does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown architecture `{0}` (known: x86_64, aarch64)")]
pub struct UnknownArch(pub String);

impl Arch {
    /// Every architecture coreship builds for by default.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The name as `uname -m` and Rust's `target_arch` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The suffix of libbpf's `__TARGET_ARCH_<arch>` define.
    pub fn libbpf_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The OCI platform `architecture` value.
    pub fn oci_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The architecture this program was compiled for, if coreship knows it.
    pub fn host() -> Option<Arch> {
        std::env::consts::ARCH.parse().ok()
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Arch {
    type Err = UnknownArch;

    /// Accepts every vocabulary's name: `x86_64`/`amd64`/`x86`, `aarch64`/`arm64`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" | "amd64" | "x86" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            other => Err(UnknownArch(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_every_vocabulary() {
        for arch in Arch::ALL {
            assert_eq!(arch.as_str().parse::<Arch>().unwrap(), arch);
            assert_eq!(arch.oci_name().parse::<Arch>().unwrap(), arch);
            assert_eq!(arch.libbpf_name().parse::<Arch>().unwrap(), arch);
        }
        assert!("mips".parse::<Arch>().is_err());
    }
}
