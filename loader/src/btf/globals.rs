//! Settable globals: the `const volatile` variables a probe reads as options (libbpf-tools'
//! `targ_pid`, `targ_per_disk`), found by name among the VARs of the object's `.rodata`,
//! `.data` and `.bss` DATASECs, and the text a user gives (`--set per_disk=1`) turned into the
//! bytes libbpf loads as the section map's initial value.
//!
//! Pure: input is BTF, a value's text and a section's bytes; writing into libbpf's map is the
//! caller's (`settings.rs`).

use btf_rs::Type;

use super::object::{next_id, next_id_of, MAX_DEPTH};
use super::{BtfError, Endian, ObjectBtf};

/// The data sections whose variables can be set before load (libbpf maps each to an
/// internal array map named `<object>.rodata`, …).
pub const SETTING_SECTIONS: [&str; 3] = [".rodata", ".data", ".bss"];

/// One global variable of a data section, settable before load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    name: String,
    section: String,
    offset: usize,
    size: usize,
    type_name: String,
    kind: Kind,
    endian: Endian,
}

/// How a setting's value is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Int {
        signed: bool,
    },
    Bool,
    Enum {
        signed: bool,
        variants: Vec<(String, i128)>,
    },
    Str,
    /// Structs, pointers, floats, non-char arrays: listed, never written.
    Other,
}

/// A setting's value read from a section's bytes (e.g. its default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    /// An integer.
    Int(i128),
    /// A `bool`.
    Bool(bool),
    /// An enum: the variant's name when one has this value, and the value.
    Enum {
        /// The variant's name.
        name: Option<String>,
        /// The numeric value.
        value: i128,
    },
    /// A char array up to its first NUL (invalid UTF-8 replaced).
    Str(String),
    /// The bytes of a type `--set` cannot write.
    Bytes(Vec<u8>),
}

impl std::fmt::Display for SettingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingValue::Int(v) => write!(f, "{v}"),
            SettingValue::Bool(v) => write!(f, "{v}"),
            SettingValue::Enum { name: Some(n), .. } => f.write_str(n),
            SettingValue::Enum { name: None, value } => write!(f, "{value}"),
            SettingValue::Str(s) => write!(f, "{s:?}"),
            SettingValue::Bytes(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// Why a `--set NAME=VALUE` cannot be applied.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingError {
    /// The argument is not `NAME=VALUE`.
    #[error("`{arg}` is not NAME=VALUE")]
    BadArg {
        /// What was given.
        arg: String,
    },
    /// No variable of that name in the object's data sections.
    #[error("no setting `{name}` in this probe ({})", known_list(known))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The settable variables the probe has.
        known: Vec<String>,
    },
    /// The variable's type is not one a text value can be written to.
    #[error("{type_name} {name} cannot be set (only integers, bool, enums and char arrays can)")]
    Unsupported {
        /// The variable.
        name: String,
        /// Its type.
        type_name: String,
    },
    /// Not a decimal or `0x` hex number.
    #[error("value `{value}` for {type_name} {name} is not a number (decimal or 0x hex)")]
    NotANumber {
        /// The variable.
        name: String,
        /// Its type.
        type_name: String,
        /// What was given.
        value: String,
    },
    /// A number outside the type's range.
    #[error("value {value} does not fit {type_name} {name}")]
    DoesNotFit {
        /// The variable.
        name: String,
        /// Its type.
        type_name: String,
        /// What was given.
        value: String,
    },
    /// Not `true`, `false`, `1` or `0`.
    #[error("value `{value}` for {type_name} {name} is not true, false, 1 or 0")]
    NotABool {
        /// The variable.
        name: String,
        /// Its type.
        type_name: String,
        /// What was given.
        value: String,
    },
    /// Neither a variant's name nor a number.
    #[error(
        "value `{value}` for {type_name} {name} is neither a variant ({}) nor a number",
        variants.join(", ")
    )]
    NotAVariant {
        /// The variable.
        name: String,
        /// Its type.
        type_name: String,
        /// What was given.
        value: String,
        /// The enum's variants.
        variants: Vec<String>,
    },
    /// A string longer than the array minus its NUL.
    #[error("value `{value}` is {len} bytes, {type_name} {name} holds at most {max} (and a NUL)")]
    TooLong {
        /// The variable.
        name: String,
        /// Its type.
        type_name: String,
        /// What was given.
        value: String,
        /// Its length in bytes.
        len: usize,
        /// The longest string that fits.
        max: usize,
    },
    /// The object has no map for the variable's section (libbpf dropped or renamed it).
    #[error("setting `{name}`: the object has no {section} map to write it into")]
    NoMap {
        /// The variable.
        name: String,
        /// Its section.
        section: String,
    },
}

fn known_list(known: &[String]) -> String {
    match known.is_empty() {
        true => "it has no settings".into(),
        false => format!("settings: {}", known.join(", ")),
    }
}

impl ObjectBtf {
    /// The variables of the object's `.rodata`, `.data` and `.bss` sections, in section
    /// order (`.rodata` first). Variables of types `--set` cannot write are included (their
    /// [`Setting::encode`] fails saying so).
    pub fn settings(&self) -> Result<Vec<Setting>, BtfError> {
        let mut out = Vec::new();
        for section in SETTING_SECTIONS {
            for id in self.btf.resolve_ids_by_name(section).unwrap_or_default() {
                let Type::Datasec(sec) = self.ty(id)? else {
                    continue;
                };
                for v in &sec.variables {
                    let Type::Var(var) = self.ty(next_id_of(v))? else {
                        continue;
                    };
                    let ty = next_id_of(&var);
                    out.push(Setting {
                        name: self.name(&var),
                        section: section.into(),
                        offset: v.offset() as usize,
                        size: v.size(),
                        type_name: self.unqualified_name(ty)?,
                        kind: self.setting_kind(ty, v.size())?,
                        endian: self.endian,
                    });
                }
            }
        }
        Ok(out)
    }

    /// An enum's enumerators as (name, value), the order settings parse them in.
    fn variants(&self, t: &Type) -> Vec<(String, i128)> {
        let all = self.enumerators(t).unwrap_or_default();
        all.into_iter().map(|(v, name)| (name, v)).collect()
    }

    /// How a variable of type `id` occupying `size` bytes is written.
    fn setting_kind(&self, id: u32, size: usize) -> Result<Kind, BtfError> {
        let fits = |n: usize| n == size && matches!(n, 1 | 2 | 4 | 8);
        Ok(match self.strip(id)?.1 {
            Type::Int(i) if i.is_bool() && fits(i.size()) => Kind::Bool,
            Type::Int(i) if fits(i.size()) => Kind::Int {
                signed: i.is_signed(),
            },
            Type::Enum(e) if fits(e.size()) => Kind::Enum {
                signed: e.is_signed(),
                variants: self.variants(&Type::Enum(e)),
            },
            Type::Enum64(e) if fits(e.size()) => Kind::Enum {
                signed: e.is_signed(),
                variants: self.variants(&Type::Enum64(e)),
            },
            Type::Array(a) if self.is_char(next_id_of(&a))? && a.len() == size && size > 0 => {
                Kind::Str
            }
            _ => Kind::Other,
        })
    }

    /// The type's C name without the `const volatile` a probe's options carry, at the top
    /// or on an array's elements: `bool`, `__u8`, `char[16]`.
    fn unqualified_name(&self, mut id: u32) -> Result<String, BtfError> {
        let mut dims = String::new();
        for _ in 0..MAX_DEPTH {
            let t = self.ty(id)?;
            match &t {
                Type::Const(_) | Type::Volatile(_) | Type::Restrict(_) | Type::TypeTag(_) => {
                    id = next_id(&t)
                }
                Type::Array(a) => {
                    dims.push_str(&format!("[{}]", a.len()));
                    id = next_id_of(a);
                }
                _ => break,
            }
        }
        Ok(format!("{}{dims}", self.type_name(id)))
    }
}

impl Setting {
    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its data section: `.rodata`, `.data` or `.bss`.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// Its byte offset in the section.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Its C type without qualifiers: `bool`, `__u8`, `char[16]`, `enum mode`.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// Whether `--set` can write it (an integer, bool, enum or char array).
    pub fn is_settable(&self) -> bool {
        self.kind != Kind::Other
    }

    /// The bytes (exactly [`Setting::size`] of them, in the object's byte order) for `value`:
    /// integers in decimal or `0x` hex (`-` for signed types), bools as `true`/`false`/`1`/`0`,
    /// enums by variant name or number, char arrays as a string that fits with its NUL.
    pub fn encode(&self, value: &str) -> Result<Vec<u8>, SettingError> {
        let value = value.trim();
        match &self.kind {
            Kind::Int { signed } => {
                let v = parse_int(value).ok_or_else(|| SettingError::NotANumber {
                    name: self.name.clone(),
                    type_name: self.type_name.clone(),
                    value: value.into(),
                })?;
                self.int_bytes(v, *signed, value)
            }
            Kind::Bool => {
                let v = match value {
                    "true" | "1" => 1,
                    "false" | "0" => 0,
                    _ => {
                        return Err(SettingError::NotABool {
                            name: self.name.clone(),
                            type_name: self.type_name.clone(),
                            value: value.into(),
                        })
                    }
                };
                self.int_bytes(v, false, value)
            }
            Kind::Enum { signed, variants } => {
                let v = match variants.iter().find(|(n, _)| n == value) {
                    Some(&(_, v)) => v,
                    None => parse_int(value).ok_or_else(|| SettingError::NotAVariant {
                        name: self.name.clone(),
                        type_name: self.type_name.clone(),
                        value: value.into(),
                        variants: variants.iter().map(|v| v.0.clone()).collect(),
                    })?,
                };
                self.int_bytes(v, *signed, value)
            }
            Kind::Str => {
                if value.len() >= self.size {
                    return Err(SettingError::TooLong {
                        name: self.name.clone(),
                        type_name: self.type_name.clone(),
                        value: value.into(),
                        len: value.len(),
                        max: self.size - 1,
                    });
                }
                let mut bytes = vec![0u8; self.size];
                bytes[..value.len()].copy_from_slice(value.as_bytes());
                Ok(bytes)
            }
            Kind::Other => Err(SettingError::Unsupported {
                name: self.name.clone(),
                type_name: self.type_name.clone(),
            }),
        }
    }

    /// `v` as `size` bytes, if it is within the range of a `size`-byte integer.
    fn int_bytes(&self, v: i128, signed: bool, text: &str) -> Result<Vec<u8>, SettingError> {
        let bits = self.size as u32 * 8;
        let (min, max) = match signed {
            true => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
            false => (0, (1i128 << bits) - 1),
        };
        if v < min || v > max {
            return Err(SettingError::DoesNotFit {
                name: self.name.clone(),
                type_name: self.type_name.clone(),
                value: text.into(),
            });
        }
        let le = (v as u128).to_le_bytes();
        let mut bytes = le[..self.size].to_vec();
        if self.endian == Endian::Big {
            bytes.reverse();
        }
        Ok(bytes)
    }

    /// The variable's value in `section` (the section's bytes, e.g. the map's initial
    /// value); `None` if the section is too short to hold it.
    pub fn read(&self, section: &[u8]) -> Option<SettingValue> {
        let bytes = section.get(self.offset..self.offset.checked_add(self.size)?)?;
        let uint = || {
            let mut le = bytes.to_vec();
            if self.endian == Endian::Big {
                le.reverse();
            }
            le.resize(16, 0);
            u128::from_le_bytes(le.try_into().unwrap_or([0; 16]))
        };
        let int = |signed: bool| {
            let shift = 128 - self.size as u32 * 8;
            match signed {
                true => ((uint() << shift) as i128) >> shift,
                false => uint() as i128,
            }
        };
        Some(match &self.kind {
            Kind::Int { signed } => SettingValue::Int(int(*signed)),
            Kind::Bool => SettingValue::Bool(uint() != 0),
            Kind::Enum { signed, variants } => {
                let value = int(*signed);
                SettingValue::Enum {
                    name: variants.iter().find(|v| v.1 == value).map(|v| v.0.clone()),
                    value,
                }
            }
            Kind::Str => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                SettingValue::Str(String::from_utf8_lossy(&bytes[..end]).into_owned())
            }
            Kind::Other => SettingValue::Bytes(bytes.to_vec()),
        })
    }
}

/// A decimal or `0x` hex integer, optionally signed.
fn parse_int(s: &str) -> Option<i128> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            i128::from_str_radix(hex, 16).ok()?
        }
        Some(_) => return None,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<i128>().ok()?
        }
        None => return None,
    };
    Some(if neg { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests;

coreship_registry::debug_as_display!(SettingError);
