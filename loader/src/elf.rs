//! Checks that bytes are a BPF ELF object and pulls out the sections coreship reads itself.
//!
//! libbpf parses the object too, but its failures surface as a bare errno; checking here first
//! turns "not an ELF", "an x86_64 program, not BPF" and "no BTF" into errors a user can act on.
//! The loader and `coreship inspect` both read objects through this one check.

use object::elf::Machine;
use object::{Object as _, ObjectSection as _};

/// The parts of a BPF object read without libbpf.
#[derive(Debug)]
pub struct BpfElf<'a> {
    /// Raw `.BTF` section (type information, required by coreship).
    pub btf: &'a [u8],
    /// Raw `.BTF.ext` section (func/line info and CO-RE relocations), if present.
    pub btf_ext: Option<&'a [u8]>,
    /// Contents of the `license` section up to its NUL, if present.
    pub license: Option<String>,
}

/// Why bytes are not a usable BPF object. Messages are predicates on the file, so callers
/// write `"{path} {error}"`.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The bytes do not start with the ELF magic.
    #[error("is not an ELF file: expected a BPF object built by `coreship build`")]
    NotElf,
    /// The ELF headers or a section are cut short or inconsistent.
    #[error("is a truncated or corrupt ELF file ({0}): rebuild it")]
    Corrupt(object::Error),
    /// An ELF for another machine (a host binary or a host object).
    #[error("is {machine} ELF, not a BPF object; build it with `coreship build`")]
    NotBpf {
        /// The machine with its article, e.g. `an x86_64`.
        machine: String,
    },
    /// No `.BTF` section: compiled without `-g`.
    #[error("has no BTF: compile it with -g (coreship build does)")]
    NoBtf,
}

impl<'a> BpfElf<'a> {
    /// Parses `bytes` as a BPF object.
    pub fn parse(bytes: &'a [u8]) -> Result<BpfElf<'a>, ElfError> {
        if !bytes.starts_with(b"\x7fELF") {
            return Err(ElfError::NotElf);
        }
        let file = object::read::elf::ElfFile64::<object::Endianness>::parse(bytes)
            .map_err(ElfError::Corrupt)?;
        let machine = file.elf_header().e_machine.get(file.endian());
        if machine != object::elf::EM_BPF {
            return Err(ElfError::NotBpf {
                machine: machine_name(machine),
            });
        }
        let section = |name: &str| -> Result<Option<&'a [u8]>, ElfError> {
            match file.section_by_name(name) {
                None => Ok(None),
                Some(s) => s.data().map(Some).map_err(ElfError::Corrupt),
            }
        };
        let btf = section(".BTF")?.ok_or(ElfError::NoBtf)?;
        let btf_ext = section(".BTF.ext")?;
        let license = section("license")?.map(|d| {
            let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
            String::from_utf8_lossy(&d[..end]).into_owned()
        });
        Ok(BpfElf {
            btf,
            btf_ext,
            license,
        })
    }
}

/// `an x86_64`, `a riscv`: the machine with the article the error sentence needs.
fn machine_name(machine: Machine) -> String {
    let name = match machine {
        object::elf::EM_X86_64 => "x86_64",
        object::elf::EM_AARCH64 => "aarch64",
        object::elf::EM_386 => "i386",
        object::elf::EM_ARM => "arm",
        object::elf::EM_RISCV => "riscv",
        object::elf::EM_PPC64 => "ppc64",
        object::elf::EM_S390 => "s390",
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
        BpfElf::parse(bytes).unwrap_err().to_string()
    }

    #[test]
    fn non_elf_bytes_are_named_as_such() {
        assert_eq!(
            err(b"hello"),
            "is not an ELF file: expected a BPF object built by `coreship build`"
        );
    }

    #[test]
    fn a_host_executable_is_not_a_bpf_object() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = err(&exe);
        assert!(err.contains("not a BPF object"), "{err}");
        assert!(err.contains(std::env::consts::ARCH), "{err}");
        assert!(
            err.contains(", not a BPF object; build it with `coreship build`"),
            "{err}"
        );
        if cfg!(target_arch = "x86_64") {
            assert!(err.contains("is an x86_64 ELF"), "{err}");
        }
    }

    #[test]
    fn truncated_elf_is_corrupt() {
        let mut bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        bytes.truncate(40);
        assert!(err(&bytes).contains("corrupt ELF"), "{}", err(&bytes));
        assert!(err(b"\x7fELF\x02\x01\x01").starts_with("is a truncated or corrupt ELF"));
    }

    #[test]
    fn articles_match_the_name() {
        assert_eq!(machine_name(object::elf::EM_X86_64), "an x86_64");
        assert_eq!(machine_name(object::elf::EM_RISCV), "a riscv");
        assert_eq!(machine_name(Machine(9999)), "an e_machine 9999");
    }
}
