//! Checks that bytes are a BPF ELF object and extracts the sections `inspect` reads itself.

use super::InspectError;
use object::elf::Machine;
use object::read::elf::ElfFile64;
use object::{Object as _, ObjectSection as _};
use std::path::Path;

/// The raw sections of a BPF object.
#[derive(Debug)]
pub(crate) struct BpfSections<'a> {
    /// `.BTF`.
    pub btf: &'a [u8],
    /// `.BTF.ext`, when the object has one.
    pub btf_ext: Option<&'a [u8]>,
}

impl<'a> BpfSections<'a> {
    /// Parses `bytes` (read from `path`, named in errors).
    pub fn parse(path: &Path, bytes: &'a [u8]) -> Result<BpfSections<'a>, InspectError> {
        let path_buf = || path.to_path_buf();
        if !bytes.starts_with(b"\x7fELF") {
            return Err(InspectError::NotElf { path: path_buf() });
        }
        // e_machine sits at the same place in 32- and 64-bit headers; checking it before a full
        // parse names 32-bit host binaries correctly too.
        if let Some(&[a, b]) = bytes.get(18..20) {
            let machine = Machine(match bytes.get(5) {
                Some(2) => u16::from_be_bytes([a, b]),
                _ => u16::from_le_bytes([a, b]),
            });
            if machine != object::elf::EM_BPF {
                return Err(InspectError::NotBpf {
                    path: path_buf(),
                    machine: machine_name(machine),
                });
            }
        }
        let file = ElfFile64::<object::Endianness>::parse(bytes).map_err(|source| {
            InspectError::CorruptElf {
                path: path_buf(),
                source,
            }
        })?;
        let section = |name: &str| match file.section_by_name(name) {
            None => Ok(None),
            Some(s) => s
                .data()
                .map(Some)
                .map_err(|source| InspectError::CorruptElf {
                    path: path_buf(),
                    source,
                }),
        };
        let btf = section(".BTF")?.ok_or_else(|| InspectError::NoBtf { path: path_buf() })?;
        Ok(BpfSections {
            btf,
            btf_ext: section(".BTF.ext")?,
        })
    }
}

/// A machine name for errors, with its article: `an x86_64`, `a riscv`.
fn machine_name(machine: Machine) -> String {
    let name = match machine {
        object::elf::EM_X86_64 => "x86_64".to_string(),
        object::elf::EM_AARCH64 => "aarch64".into(),
        object::elf::EM_386 => "i386".into(),
        object::elf::EM_ARM => "arm".into(),
        object::elf::EM_RISCV => "riscv".into(),
        object::elf::EM_PPC64 => "ppc64".into(),
        object::elf::EM_S390 => "s390".into(),
        Machine(other) => return format!("an e_machine {other}"),
    };
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u', 'x']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(bytes: &[u8]) -> String {
        BpfSections::parse(Path::new("p.o"), bytes)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn non_elf_and_truncated_elf_are_told_apart() {
        assert_eq!(err(b"#!/bin/sh\n"), "p.o is not an ELF file");
        assert!(err(b"\x7fELF\x02\x01\x01").starts_with("p.o is a truncated or corrupt ELF"));
    }

    #[test]
    fn host_elfs_are_named_by_machine() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let msg = err(&exe);
        assert!(
            msg.contains(", not a BPF object; build it with `coreship build`"),
            "{msg}"
        );
        if cfg!(target_arch = "x86_64") {
            assert!(msg.contains("is an x86_64 ELF"), "{msg}");
        }
    }

    #[test]
    fn articles_match_the_name() {
        assert_eq!(machine_name(object::elf::EM_X86_64), "an x86_64");
        assert_eq!(machine_name(object::elf::EM_RISCV), "a riscv");
        assert_eq!(machine_name(Machine(9999)), "an e_machine 9999");
    }
}
