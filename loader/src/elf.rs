//! Checks that bytes are a BPF ELF object and pulls out the sections coreship reads itself.
//!
//! libbpf parses the object too, but its failures surface as a bare errno; checking here first
//! turns "not an ELF", "an x86_64 program, not BPF" and "no BTF" into errors a user can act on.

use object::{Object as _, ObjectSection as _};
use std::path::Path;

use crate::LoadError;

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

impl<'a> BpfElf<'a> {
    /// Parses `bytes` (read from `path`, used in errors) as a BPF object.
    pub fn parse(bytes: &'a [u8], path: &Path) -> Result<BpfElf<'a>, LoadError> {
        let bad = |what: String| LoadError::BadObject {
            path: path.to_path_buf(),
            what,
        };
        if !bytes.starts_with(b"\x7fELF") {
            return Err(bad(
                "not an ELF file: expected a BPF object built by `coreship build`".into(),
            ));
        }
        let file = object::read::elf::ElfFile64::<object::Endianness>::parse(bytes)
            .map_err(|e| bad(format!("corrupt ELF ({e}): rebuild the object")))?;
        let machine = file.elf_header().e_machine.get(file.endian());
        if machine != object::elf::EM_BPF {
            return Err(bad(format!(
                "is a {} ELF, not a BPF object: build BPF objects with `coreship build`",
                machine_name(machine)
            )));
        }
        let section = |name: &str| -> Result<Option<&'a [u8]>, LoadError> {
            match file.section_by_name(name) {
                None => Ok(None),
                Some(s) => s
                    .data()
                    .map(Some)
                    .map_err(|e| bad(format!("corrupt section {name} ({e}): rebuild the object"))),
            }
        };
        let btf = section(".BTF")?.ok_or_else(|| {
            bad("has no .BTF section: compile it with -g (coreship build does)".into())
        })?;
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

fn machine_name(machine: object::elf::Machine) -> String {
    match machine {
        m if m == object::elf::EM_X86_64 => "x86_64".into(),
        m if m == object::elf::EM_AARCH64 => "aarch64".into(),
        m if m == object::elf::EM_386 => "i386".into(),
        m if m == object::elf::EM_ARM => "arm".into(),
        m if m == object::elf::EM_RISCV => "riscv".into(),
        other => format!("machine {}", other.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_elf_bytes_are_named_as_such() {
        let err = BpfElf::parse(b"hello", Path::new("x.o")).unwrap_err();
        assert!(err.to_string().contains("not an ELF file"), "{err}");
    }

    #[test]
    fn a_host_executable_is_not_a_bpf_object() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = BpfElf::parse(&exe, Path::new("t")).unwrap_err().to_string();
        assert!(err.contains("not a BPF object"), "{err}");
        assert!(err.contains(std::env::consts::ARCH), "{err}");
    }

    #[test]
    fn truncated_elf_is_corrupt() {
        let mut bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        bytes.truncate(40);
        let err = BpfElf::parse(&bytes, Path::new("t"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("corrupt ELF"), "{err}");
    }
}
