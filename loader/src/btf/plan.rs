//! The compiled decode plan: a tree of nodes with byte offsets resolved ahead of time, so
//! decoding a record never consults BTF. [`Scalar::read`] turns bytes into a borrowed
//! [`Raw`] value that the [`Value`](crate::Value) builder and the text and JSON writers share.

use super::Endian;

/// One node of a plan. Offsets are relative to the start of the record, or of the array
/// element the node sits in (arrays pass each element's start as `base`).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A leaf read from bytes.
    Scalar(Scalar),
    /// A struct or union: named fields, in declaration order. Union members overlap.
    Record(Vec<Field>),
    /// `count` elements of `stride` bytes from `offset`.
    Array {
        offset: usize,
        count: usize,
        stride: usize,
        elem: Box<Node>,
    },
}

/// A named member of a record.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// Member name.
    pub(crate) name: Box<str>,
    /// `"name":`, escaped once at compile time so JSON output only copies it.
    pub(crate) json_key: Box<str>,
    /// `name=` for text output, control characters escaped (BTF names are any bytes).
    pub(crate) text_key: Box<str>,
    pub(crate) node: Node,
}

/// A leaf: where it is and how to read it.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub(crate) offset: usize,
    pub(crate) kind: ScalarKind,
}

/// How a leaf's bytes are interpreted.
#[derive(Debug, Clone)]
pub(crate) enum ScalarKind {
    /// Integer of 1, 2, 4, 8 or 16 bytes.
    Int { size: u8, signed: bool },
    /// `bool` / `_Bool` of `size` bytes.
    Bool { size: u8 },
    /// `float` (4) or `double` (8).
    Float { size: u8 },
    /// A pointer, printed as an address.
    Ptr { size: u8 },
    /// An enum of `size` bytes.
    Enum {
        size: u8,
        signed: bool,
        names: Box<EnumNames>,
    },
    /// A bitfield: `bits` bits starting `bit` bits into the `span` bytes at the offset.
    Bits {
        bit: u8,
        bits: u8,
        span: u8,
        signed: bool,
        repr: BitRepr,
    },
    /// A char array: a NUL-terminated string of at most `len` bytes.
    Str { len: usize },
    /// Bytes printed in hex (types with no better rendering, e.g. `long double`).
    Bytes { len: usize },
    /// A `bpf_ktime_get_ns()` timestamp (8-byte integer named `ts`, `ts_ns`, `timestamp`).
    Timestamp,
    /// A kernel dev_t (unsigned 4-byte integer named `dev`), printed as the device's name.
    Dev,
}

/// What a bitfield holds.
#[derive(Debug, Clone)]
pub(crate) enum BitRepr {
    Int,
    Bool,
    Enum(Box<EnumNames>),
}

/// An enum's variants sorted by value for binary search; the first declared name wins
/// when several share a value.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnumNames {
    sorted: Vec<(i128, Box<str>)>,
}

impl EnumNames {
    pub(crate) fn new(mut variants: Vec<(i128, Box<str>)>) -> Self {
        variants.sort_by_key(|v| v.0); // stable: declaration order among equal values
        variants.dedup_by_key(|v| v.0);
        EnumNames { sorted: variants }
    }

    pub(crate) fn name(&self, value: i128) -> Option<&str> {
        let i = self.sorted.binary_search_by_key(&value, |v| v.0).ok()?;
        Some(&self.sorted[i].1)
    }

    /// Length of the longest variant name (for column widths).
    pub(crate) fn max_len(&self) -> usize {
        self.sorted.iter().map(|v| v.1.len()).max().unwrap_or(0)
    }
}

/// A decoded leaf borrowing from the record; no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Uint(u128),
    Int(i128),
    Bool(bool),
    Float(f64),
    Ptr(u64),
    Enum(Option<&'a str>, i128),
    /// The bytes before the first NUL.
    Str(&'a [u8]),
    Bytes(&'a [u8]),
    Timestamp(u64),
    Dev(u32),
}

impl Scalar {
    /// Byte size the leaf occupies (bitfields: the bytes their bits span).
    pub(crate) fn size(&self) -> usize {
        match &self.kind {
            ScalarKind::Int { size, .. }
            | ScalarKind::Bool { size }
            | ScalarKind::Float { size }
            | ScalarKind::Ptr { size }
            | ScalarKind::Enum { size, .. } => usize::from(*size),
            ScalarKind::Bits { span, .. } => usize::from(*span),
            ScalarKind::Str { len } | ScalarKind::Bytes { len } => *len,
            ScalarKind::Timestamp => 8,
            ScalarKind::Dev => 4,
        }
    }

    /// Reads the leaf from `data` at `base + offset`. The plan was checked at compile time
    /// to lie within the type's size, and callers check `data` is at least that long.
    pub(crate) fn read<'a>(&'a self, data: &'a [u8], base: usize, endian: Endian) -> Raw<'a> {
        let at = base + self.offset;
        let bytes = &data[at..at + self.size()];
        match &self.kind {
            ScalarKind::Int { signed: false, .. } => Raw::Uint(load(bytes, endian)),
            ScalarKind::Int { signed: true, size } => {
                Raw::Int(sign_extend(load(bytes, endian), u32::from(*size) * 8))
            }
            ScalarKind::Bool { .. } => Raw::Bool(load(bytes, endian) != 0),
            ScalarKind::Float { size: 4 } => {
                Raw::Float(f64::from(f32::from_bits(load(bytes, endian) as u32)))
            }
            ScalarKind::Float { .. } => Raw::Float(f64::from_bits(load(bytes, endian) as u64)),
            ScalarKind::Ptr { .. } => Raw::Ptr(load(bytes, endian) as u64),
            ScalarKind::Enum {
                signed,
                names,
                size,
            } => {
                let v = load(bytes, endian);
                let v = match signed {
                    true => sign_extend(v, u32::from(*size) * 8),
                    false => v as i128,
                };
                Raw::Enum(names.name(v), v)
            }
            ScalarKind::Bits {
                bit,
                bits,
                span,
                signed,
                repr,
            } => {
                let word = load(bytes, endian);
                let shift = match endian {
                    Endian::Little => u32::from(*bit),
                    // Big-endian bit offsets count from the most significant bit.
                    Endian::Big => u32::from(*span) * 8 - u32::from(*bit) - u32::from(*bits),
                };
                let v = (word >> shift) & ((1u128 << bits) - 1);
                let sv = match signed {
                    true => sign_extend(v, u32::from(*bits)),
                    false => v as i128,
                };
                match repr {
                    BitRepr::Bool => Raw::Bool(v != 0),
                    BitRepr::Enum(names) => Raw::Enum(names.name(sv), sv),
                    BitRepr::Int if *signed => Raw::Int(sv),
                    BitRepr::Int => Raw::Uint(v),
                }
            }
            ScalarKind::Str { .. } => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                Raw::Str(&bytes[..end])
            }
            ScalarKind::Bytes { .. } => Raw::Bytes(bytes),
            ScalarKind::Timestamp => Raw::Timestamp(load(bytes, endian) as u64),
            ScalarKind::Dev => Raw::Dev(load(bytes, endian) as u32),
        }
    }
}

/// Loads up to 16 bytes as an unsigned integer in the given byte order.
#[inline]
fn load(bytes: &[u8], endian: Endian) -> u128 {
    match (bytes.len(), endian) {
        (1, _) => u128::from(bytes[0]),
        (2, Endian::Little) => u128::from(u16::from_le_bytes([bytes[0], bytes[1]])),
        (4, Endian::Little) => {
            u128::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        (8, Endian::Little) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(bytes);
            u128::from(u64::from_le_bytes(a))
        }
        (n, Endian::Little) => {
            let mut a = [0u8; 16];
            a[..n.min(16)].copy_from_slice(&bytes[..n.min(16)]);
            u128::from_le_bytes(a)
        }
        (n, Endian::Big) => {
            let n = n.min(16);
            let mut a = [0u8; 16];
            a[16 - n..].copy_from_slice(&bytes[..n]);
            u128::from_be_bytes(a)
        }
    }
}

/// Interprets the low `bits` bits of `v` as a two's complement number.
#[inline]
fn sign_extend(v: u128, bits: u32) -> i128 {
    let shift = 128 - bits.clamp(1, 128);
    ((v << shift) as i128) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_both_byte_orders() {
        assert_eq!(load(&[0x01, 0x02], Endian::Little), 0x0201);
        assert_eq!(load(&[0x01, 0x02], Endian::Big), 0x0102);
        assert_eq!(load(&[1, 2, 3], Endian::Little), 0x030201);
        assert_eq!(
            load(&[1, 2, 3, 4, 5, 6, 7, 8], Endian::Big),
            0x0102030405060708
        );
    }

    #[test]
    fn sign_extends() {
        assert_eq!(sign_extend(0xff, 8), -1);
        assert_eq!(sign_extend(0x7f, 8), 127);
        assert_eq!(sign_extend(0b101, 3), -3);
        assert_eq!(sign_extend(u128::MAX, 128), -1);
    }

    #[test]
    fn enum_names_keep_first_of_duplicates() {
        let n = EnumNames::new(vec![(2, "B".into()), (1, "A".into()), (2, "B2".into())]);
        assert_eq!(n.name(1), Some("A"));
        assert_eq!(n.name(2), Some("B"));
        assert_eq!(n.name(3), None);
        assert_eq!(n.max_len(), 1);
    }
}
