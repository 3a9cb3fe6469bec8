//! A BTF type section from a structured description: ints, chars, floats, pointers, arrays,
//! structs and unions (members laid out automatically or at any bit offset, bitfields),
//! enums, typedefs and qualifiers, plus the kinds the decoder must refuse (functions,
//! variables, sections, forward declarations) and raw records of any kind. Type references
//! are mostly to earlier types, so most descriptions are valid BTF; some point anywhere.
//!
//! Layout: include/uapi/linux/btf.h (a 24-byte header, `btf_type` records with their
//! kind-specific trailers, then the string section).

use arbitrary::Arbitrary;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_ENUM64: u32 = 19;
/// `BTF_KIND_VOLATILE`, `CONST`, `RESTRICT`, `TYPE_TAG`.
const QUALIFIERS: [u32; 4] = [9, 10, 11, 18];

/// Names the decoder treats specially, and a few ordinary ones.
const NAMES: [&str; 24] = [
    "char",
    "unsigned char",
    "signed char",
    "_Bool",
    "ts",
    "ts_ns",
    "timestamp",
    "ip",
    "func_ip",
    "addr",
    "dev",
    "pid",
    "comm",
    "key",
    "slot",
    "event",
    "__u8",
    "coreship_nokey",
    ".coreship",
    ".rodata",
    ".data",
    ".bss",
    "__coreship_events__events",
    "__coreship_hist__lat",
];

/// A name: none, one of [`NAMES`], or any string.
#[derive(Arbitrary, Debug, Clone)]
pub enum Name {
    None,
    Known(u8),
    Raw(String),
}

/// A reference to another type.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Ref {
    Void,
    /// The n-th type before this one (wrapping), so chains are acyclic.
    Back(u8),
    /// Any id: forward, itself, or out of range.
    Id(u32),
}

/// An element count.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Count {
    Small(u8),
    Any(u32),
}

/// Where a member sits.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Offset {
    /// Right after the previous member (unions: at 0).
    Auto,
    /// Any bit offset.
    Bits(u32),
}

/// A struct or union member.
#[derive(Arbitrary, Debug, Clone)]
pub struct Member {
    pub name: Name,
    pub ty: Ref,
    pub offset: Offset,
    /// Bitfield width (0: not a bitfield).
    pub bits: u8,
}

/// One type.
#[derive(Arbitrary, Debug, Clone)]
pub enum Kind {
    Int {
        name: Name,
        size: u8,
        /// `BTF_INT_SIGNED` 1, `CHAR` 2, `BOOL` 4.
        encoding: u8,
    },
    Char {
        signed: bool,
    },
    Float {
        size: u8,
    },
    Ptr(Ref),
    Array {
        elem: Ref,
        count: Count,
    },
    Struct {
        name: Name,
        union: bool,
        /// `None`: the size the members need.
        size: Option<u32>,
        members: Vec<Member>,
    },
    Enum {
        name: Name,
        size: u8,
        signed: bool,
        values: Vec<(Name, i32)>,
    },
    Enum64 {
        name: Name,
        signed: bool,
        values: Vec<(Name, i64)>,
    },
    Typedef {
        name: Name,
        target: Ref,
    },
    Qualifier {
        which: u8,
        target: Ref,
    },
    Fwd(Name),
    Var {
        name: Name,
        ty: Ref,
    },
    Datasec {
        name: Name,
        vars: Vec<(Ref, u16, u16)>,
    },
    FuncProto {
        ret: Ref,
        params: Vec<(Name, Ref)>,
    },
    Func {
        name: Name,
        proto: Ref,
    },
    /// Any record: kind, `info` low bits and `size_or_type`, then trailing words.
    Raw {
        name: Name,
        kind: u8,
        info: u16,
        kind_flag: bool,
        size_or_type: u32,
        trailer: Vec<u32>,
    },
}

/// A whole BTF blob.
#[derive(Arbitrary, Debug, Clone)]
pub struct Spec {
    pub big_endian: bool,
    pub types: Vec<Kind>,
}

struct Writer {
    big_endian: bool,
    types: Vec<u8>,
    strings: Vec<u8>,
    /// Best-effort byte size of each type id (index 0: void), for automatic layout.
    sizes: Vec<u64>,
}

impl Writer {
    fn word(&mut self, v: u32) {
        let b = match self.big_endian {
            true => v.to_be_bytes(),
            false => v.to_le_bytes(),
        };
        self.types.extend_from_slice(&b);
    }

    fn string(&mut self, name: &Name) -> u32 {
        let s = match name {
            Name::None => return 0,
            Name::Known(i) => NAMES[usize::from(*i) % NAMES.len()],
            Name::Raw(s) => s.as_str(),
        };
        let off = self.strings.len() as u32;
        self.strings.extend(s.bytes().filter(|&b| b != 0));
        self.strings.push(0);
        off
    }

    fn header(&mut self, name: &Name, kind: u32, vlen: u32, kind_flag: bool, size_or_type: u32) {
        let off = self.string(name);
        self.word(off);
        self.word((vlen & 0xffff) | ((kind & 0x1f) << 24) | (u32::from(kind_flag) << 31));
        self.word(size_or_type);
    }

    /// The id `r` names from type `id`.
    fn id(&self, id: u32, r: Ref) -> u32 {
        match r {
            Ref::Void => 0,
            Ref::Back(n) if id > 1 => id - 1 - u32::from(n) % (id - 1),
            Ref::Back(_) => 0,
            Ref::Id(i) => i,
        }
    }

    fn size(&self, id: u32) -> u64 {
        self.sizes.get(id as usize).copied().unwrap_or(0)
    }

    /// Writes type `id` (ids are handed out in order from 1); returns its size.
    fn kind(&mut self, id: u32, k: &Kind) -> u64 {
        match k {
            Kind::Int {
                name,
                size,
                encoding,
            } => {
                let size = u32::from(*size % 17);
                self.header(name, KIND_INT, 0, false, size);
                self.word((u32::from(*encoding & 7) << 24) | (size * 8).min(128));
                u64::from(size)
            }
            Kind::Char { signed } => {
                let name = Name::Known(if *signed { 2 } else { 0 });
                self.header(&name, KIND_INT, 0, false, 1);
                self.word((u32::from(*signed) << 24) | 8);
                1
            }
            Kind::Float { size } => {
                let size = u32::from(*size % 17);
                self.header(&Name::Known(0), KIND_FLOAT, 0, false, size);
                u64::from(size)
            }
            Kind::Ptr(r) => {
                let target = self.id(id, *r);
                self.header(&Name::None, KIND_PTR, 0, false, target);
                8
            }
            Kind::Array { elem, count } => {
                let elem = self.id(id, *elem);
                let n = match count {
                    Count::Small(n) => u32::from(*n % 17),
                    Count::Any(n) => *n,
                };
                self.header(&Name::None, KIND_ARRAY, 0, false, 0);
                self.word(elem);
                self.word(elem);
                self.word(n);
                self.size(elem).saturating_mul(u64::from(n))
            }
            Kind::Struct {
                name,
                union,
                size,
                members,
            } => self.aggregate(id, name, *union, *size, members),
            Kind::Enum {
                name,
                size,
                signed,
                values,
            } => {
                let size = [1, 2, 4, 8, 3][usize::from(*size) % 5];
                self.header(name, KIND_ENUM, values.len() as u32, *signed, size);
                for (n, v) in values.iter().take(0xffff) {
                    let off = self.string(n);
                    self.word(off);
                    self.word(*v as u32);
                }
                u64::from(size)
            }
            Kind::Enum64 {
                name,
                signed,
                values,
            } => {
                self.header(name, KIND_ENUM64, values.len() as u32, *signed, 8);
                for (n, v) in values.iter().take(0xffff) {
                    let off = self.string(n);
                    self.word(off);
                    self.word(*v as u64 as u32);
                    self.word((*v as u64 >> 32) as u32);
                }
                8
            }
            Kind::Typedef { name, target } => {
                let target = self.id(id, *target);
                let name = match name {
                    Name::None => Name::Known(16),
                    n => n.clone(),
                };
                self.header(&name, KIND_TYPEDEF, 0, false, target);
                self.size(target)
            }
            Kind::Qualifier { which, target } => {
                let target = self.id(id, *target);
                let kind = QUALIFIERS[usize::from(*which) % QUALIFIERS.len()];
                let name = match kind {
                    18 => Name::Raw("tag".into()),
                    _ => Name::None,
                };
                self.header(&name, kind, 0, false, target);
                self.size(target)
            }
            Kind::Fwd(name) => {
                self.header(name, KIND_FWD, 0, false, 0);
                0
            }
            Kind::Var { name, ty } => {
                let ty = self.id(id, *ty);
                self.header(name, KIND_VAR, 0, false, ty);
                self.word(1);
                0
            }
            Kind::Datasec { name, vars } => {
                let size: u32 = vars
                    .iter()
                    .map(|v| u32::from(v.1) + u32::from(v.2))
                    .max()
                    .unwrap_or(0);
                self.header(name, KIND_DATASEC, vars.len() as u32, false, size);
                for (r, off, len) in vars.iter().take(0xffff) {
                    let ty = self.id(id, *r);
                    self.word(ty);
                    self.word(u32::from(*off));
                    self.word(u32::from(*len));
                }
                0
            }
            Kind::FuncProto { ret, params } => {
                let ret = self.id(id, *ret);
                self.header(
                    &Name::None,
                    KIND_FUNC_PROTO,
                    params.len() as u32,
                    false,
                    ret,
                );
                for (n, r) in params.iter().take(0xffff) {
                    let off = self.string(n);
                    let ty = self.id(id, *r);
                    self.word(off);
                    self.word(ty);
                }
                0
            }
            Kind::Func { name, proto } => {
                let proto = self.id(id, *proto);
                self.header(name, KIND_FUNC, 0, false, proto);
                0
            }
            Kind::Raw {
                name,
                kind,
                info,
                kind_flag,
                size_or_type,
                trailer,
            } => {
                self.header(
                    name,
                    u32::from(*kind),
                    u32::from(*info),
                    *kind_flag,
                    *size_or_type,
                );
                for w in trailer {
                    self.word(*w);
                }
                0
            }
        }
    }

    fn aggregate(
        &mut self,
        id: u32,
        name: &Name,
        union: bool,
        size: Option<u32>,
        members: &[Member],
    ) -> u64 {
        let bitfields = members.iter().any(|m| m.bits != 0);
        let mut words = Vec::with_capacity(members.len() * 3);
        let mut end_bits = 0u64;
        let mut need_bits = 0u64;
        for m in members.iter().take(0xffff) {
            let ty = self.id(id, m.ty);
            let width = match m.bits {
                0 => self.size(ty).saturating_mul(8),
                b => u64::from(b % 65),
            };
            let at = match (m.offset, union) {
                (Offset::Bits(b), _) => u64::from(b),
                (Offset::Auto, true) => 0,
                // Whole members start on a byte.
                (Offset::Auto, false) if m.bits == 0 => end_bits.div_ceil(8) * 8,
                (Offset::Auto, false) => end_bits,
            };
            end_bits = at.saturating_add(width);
            need_bits = need_bits.max(end_bits);
            let name_off = self.string(&m.name);
            let off = at.min(u64::from(u32::MAX)) as u32;
            let off = match bitfields {
                true => (u32::from(m.bits % 65) << 24) | (off & 0xff_ffff),
                false => off,
            };
            words.extend([name_off, ty, off]);
        }
        let size = size.unwrap_or(need_bits.div_ceil(8).min(u64::from(u32::MAX)) as u32);
        let kind = if union { KIND_UNION } else { KIND_STRUCT };
        self.header(name, kind, words.len() as u32 / 3, bitfields, size);
        for w in words {
            self.word(w);
        }
        u64::from(size)
    }
}

impl Spec {
    /// The raw BTF bytes, as libbpf's `btf__raw_data` returns them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer {
            big_endian: self.big_endian,
            types: Vec::new(),
            strings: vec![0],
            sizes: vec![0],
        };
        for (i, k) in self.types.iter().enumerate() {
            let size = w.kind(i as u32 + 1, k);
            w.sizes.push(size);
        }
        let mut out = Vec::with_capacity(24 + w.types.len() + w.strings.len());
        let word = |out: &mut Vec<u8>, v: u32| match self.big_endian {
            true => out.extend_from_slice(&v.to_be_bytes()),
            false => out.extend_from_slice(&v.to_le_bytes()),
        };
        match self.big_endian {
            true => out.extend_from_slice(&0xeb9fu16.to_be_bytes()),
            false => out.extend_from_slice(&0xeb9fu16.to_le_bytes()),
        }
        out.extend_from_slice(&[1, 0]);
        let (types, strings) = (w.types.len() as u32, w.strings.len() as u32);
        for v in [24, 0, types, types, strings] {
            word(&mut out, v);
        }
        out.extend_from_slice(&w.types);
        out.extend_from_slice(&w.strings);
        out
    }
}
