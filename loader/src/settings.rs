//! `--set NAME=VALUE`: a probe's options (`const volatile` globals, libbpf-tools style) written
//! into the initial value of libbpf's `.rodata` (or `.data`, `.bss`) map after the object is
//! opened and before it is loaded. Finding the variable and encoding the value is pure
//! (`btf::globals`); this module only reaches into libbpf's open object.

use std::path::Path;
use std::str::FromStr;

use libbpf_rs::{AsRawLibbpf as _, OpenObject};

use crate::{LoadError, ObjectBtf, Setting, SettingError, SettingValue};

/// One `--set NAME=VALUE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetArg {
    /// The variable's name.
    pub name: String,
    /// The value as given; parsed by the variable's BTF type when the object is opened.
    pub value: String,
}

impl FromStr for SetArg {
    type Err = SettingError;

    fn from_str(s: &str) -> Result<SetArg, SettingError> {
        match s.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok(SetArg {
                name: name.trim().into(),
                value: value.into(),
            }),
            _ => Err(SettingError::BadArg { arg: s.into() }),
        }
    }
}

/// A probe's setting with its default value, as `coreship inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingInfo {
    /// The variable's name.
    pub name: String,
    /// Its data section (`.rodata`, `.data`, `.bss`).
    pub section: String,
    /// Its C type without qualifiers (`bool`, `__u8`, `char[16]`).
    pub type_name: String,
    /// Its value in the object (`None` if libbpf has no map holding it).
    pub default: Option<SettingValue>,
    /// Whether `--set` can write it.
    pub settable: bool,
}

/// Writes every `sets` value into `open`'s data-section maps. Called once right after the
/// object is opened, before it is loaded; `path` names the object in errors.
pub(crate) fn apply(open: &mut OpenObject, path: &Path, sets: &[SetArg]) -> Result<(), LoadError> {
    if sets.is_empty() {
        return Ok(());
    }
    let settings = settings_of(open, path)?;
    for set in sets {
        let Some(setting) = settings.iter().find(|s| s.name() == set.name) else {
            return Err(SettingError::Unknown {
                name: set.name.clone(),
                known: settings
                    .iter()
                    .filter(|s| s.is_settable())
                    .map(|s| s.name().to_string())
                    .collect(),
            }
            .into());
        };
        let bytes = setting.encode(&set.value)?;
        let no_map = || SettingError::NoMap {
            name: setting.name().into(),
            section: setting.section().into(),
        };
        let mut map = open
            .maps_mut()
            .find(|m| is_section_map(&m.name().to_string_lossy(), setting.section()))
            .ok_or_else(no_map)?;
        let data = map.initial_value_mut().ok_or_else(no_map)?;
        let end = setting.offset() + bytes.len();
        data.get_mut(setting.offset()..end)
            .ok_or_else(no_map)?
            .copy_from_slice(&bytes);
    }
    Ok(())
}

/// The settings of the object in `bytes` with their values in it, read without loading;
/// `name` names the object in libbpf and in errors.
pub fn object_settings(name: &str, bytes: &[u8]) -> Result<Vec<SettingInfo>, LoadError> {
    let path = Path::new(name);
    let open = crate::session::open(name, bytes, path, None)?;
    let settings = settings_of(&open, path)?;
    Ok(settings
        .iter()
        .map(|s| {
            let default = open
                .maps()
                .find(|m| is_section_map(&m.name().to_string_lossy(), s.section()))
                .and_then(|m| s.read(m.initial_value()?));
            SettingInfo {
                name: s.name().into(),
                section: s.section().into(),
                type_name: s.type_name().into(),
                default,
                settable: s.is_settable(),
            }
        })
        .collect())
}

/// The variables of the open object's data sections, from the BTF libbpf holds: libbpf
/// fixes DATASEC offsets and sizes up from the ELF symbols when it opens an object, so this
/// is right even for objects that did not go through a linker.
fn settings_of(open: &OpenObject, path: &Path) -> Result<Vec<Setting>, LoadError> {
    let obj = open.as_libbpf_object();
    // SAFETY: `obj` is a live object owned by `open`; libbpf returns its BTF or NULL.
    let btf = unsafe { libbpf_sys::bpf_object__btf(obj.as_ptr()) };
    if btf.is_null() {
        return Ok(Vec::new());
    }
    let mut size = 0u32;
    // SAFETY: `btf` is non-null and owned by the object; `size` is a valid out-pointer.
    let raw = unsafe { libbpf_sys::btf__raw_data(btf, &mut size) };
    if raw.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: libbpf returned `size` readable bytes at `raw`, alive as long as `btf`, which
    // outlives this borrow (the bytes are parsed into an owned ObjectBtf before returning).
    let raw = unsafe { std::slice::from_raw_parts(raw.cast::<u8>(), size as usize) };
    let btf_err = |source| LoadError::Btf {
        path: path.to_path_buf(),
        source,
    };
    ObjectBtf::from_bytes(raw)
        .map_err(btf_err)?
        .settings()
        .map_err(btf_err)
}

/// Whether libbpf's map `map` holds `section`: internal maps are named `<object>.rodata`
/// (the object's name cut to 8 characters); `.rodata.str1.1` and other sections with a
/// suffix are maps of their own.
fn is_section_map(map: &str, section: &str) -> bool {
    map.ends_with(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_args_split_at_the_first_equals() {
        let a: SetArg = "per_disk=1".parse().unwrap();
        assert_eq!((a.name.as_str(), a.value.as_str()), ("per_disk", "1"));
        let a: SetArg = "comm=a=b".parse().unwrap();
        assert_eq!((a.name.as_str(), a.value.as_str()), ("comm", "a=b"));
        let a: SetArg = "comm=".parse().unwrap();
        assert_eq!(a.value, "");
        for bad in ["per_disk", "=1", " =1"] {
            let err = bad.parse::<SetArg>().unwrap_err();
            assert_eq!(err.to_string(), format!("`{bad}` is not NAME=VALUE"));
        }
    }

    #[test]
    fn section_maps_are_recognized_by_libbpf_naming() {
        assert!(is_section_map("biolaten.rodata", ".rodata"));
        assert!(is_section_map(".rodata", ".rodata"));
        assert!(is_section_map("ufunc.bss", ".bss"));
        assert!(!is_section_map("biolaten.rodata", ".data"));
        assert!(!is_section_map("x.rodata.str1.1", ".rodata"));
        assert!(is_section_map("my.probe.rodata", ".rodata"));
        assert!(!is_section_map("usecs", ".rodata"));
    }
}
