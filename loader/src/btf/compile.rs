//! Compiling a BTF type into a [`Layout`]: every offset, size, signedness and enum name is
//! looked up here, once, and checked to lie within the type so decoding cannot overrun.

use btf_rs::{Int, Struct, Type};

use super::object::{next_id, next_id_of, MAX_DEPTH};
use super::plan::{BitRepr, EnumNames, Field, Node, Scalar, ScalarKind};
use super::{BtfError, Layout, ObjectBtf};

/// Member names coreship.h documents as `bpf_ktime_get_ns()` timestamps.
const TIMESTAMP_NAMES: [&str; 3] = ["ts", "ts_ns", "timestamp"];

/// Whether an integer member holds an address (printed in hex like a pointer): `ip`, `addr`,
/// `*_ip`, `*_addr`, as coreship.h documents.
fn is_address_name(member: &str) -> bool {
    member == "ip" || member == "addr" || member.ends_with("_ip") || member.ends_with("_addr")
}

/// The member name coreship.h documents as a kernel dev_t, printed as a block device name.
const DEV_NAME: &str = "dev";

/// Element type names that make an array a string.
const CHAR_NAMES: [&str; 3] = ["char", "signed char", "unsigned char"];

/// Most nodes one plan may have. Real event and key types have hundreds; members that
/// overlap (unions, or any offsets in malformed BTF) nested a few levels deep would otherwise
/// compile into exponentially many.
const MAX_NODES: usize = 1 << 16;

/// Most values one record may decode to. Arrays of zero-sized elements take no bytes, so
/// without a bound a few bytes of record could decode into billions of values.
const MAX_VALUES: usize = 1 << 20;

impl ObjectBtf {
    /// Compiles the decode plan for type `id` (typically an event struct or map key).
    pub fn layout(&self, id: u32) -> Result<Layout, BtfError> {
        let type_name = self.type_name(id);
        let size = self.size_of(id)?;
        let mut nodes = 0;
        let root = self.node(id, 0, &type_name, "", 0, &mut nodes)?;
        if values(&root) > MAX_VALUES {
            return Err(BtfError::TooLarge {
                type_name,
                limit: MAX_VALUES,
                what: "values per record",
            });
        }
        Ok(Layout::new(type_name, size, self.endian, root))
    }

    /// The plan for type `id` placed at `base`; `member` is the member's name (for
    /// timestamp detection), `path` names it in errors.
    fn node(
        &self,
        id: u32,
        base: usize,
        path: &str,
        member: &str,
        depth: usize,
        nodes: &mut usize,
    ) -> Result<Node, BtfError> {
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep {
                type_name: path.into(),
                limit: MAX_DEPTH,
            });
        }
        count_node(nodes, path)?;
        let unsupported = |reason| BtfError::Unsupported {
            path: path.into(),
            reason,
        };
        let kind = match self.strip(id)?.1 {
            Type::Int(i) => int_kind(&i, member),
            Type::Float(f) => match f.size() {
                4 | 8 => ScalarKind::Float {
                    size: f.size() as u8,
                },
                len => ScalarKind::Bytes { len },
            },
            Type::Ptr(_) => ScalarKind::Ptr { size: 8 },
            Type::Enum(e) => enum_kind(e.size(), e.is_signed(), self.enum_names(&Type::Enum(e))),
            Type::Enum64(e) => {
                enum_kind(e.size(), e.is_signed(), self.enum_names(&Type::Enum64(e)))
            }
            Type::Array(a) => {
                let elem = next_id_of(&a);
                if self.is_char(elem)? {
                    ScalarKind::Str { len: a.len() }
                } else {
                    let elem_path = format!("{path}[]");
                    return Ok(Node::Array {
                        offset: base,
                        count: a.len(),
                        stride: self.size_of(elem)?,
                        elem: Box::new(self.node(elem, 0, &elem_path, "", depth + 1, nodes)?),
                    });
                }
            }
            Type::Struct(s) | Type::Union(s) => return self.record(&s, base, path, depth, nodes),
            Type::Void | Type::Fwd(_) => {
                return Err(unsupported(
                    "incomplete type (void or a forward declaration)",
                ))
            }
            _ => return Err(unsupported("not a data type")),
        };
        Ok(Node::Scalar(Scalar { offset: base, kind }))
    }

    fn record(
        &self,
        s: &Struct,
        base: usize,
        path: &str,
        depth: usize,
        nodes: &mut usize,
    ) -> Result<Node, BtfError> {
        let size = s.size();
        let mut fields = Vec::with_capacity(s.members.len());
        for m in &s.members {
            let name = self.name(m);
            let mpath = match name.is_empty() {
                true => path.to_string(),
                false => format!("{path}.{name}"),
            };
            let mty = next_id_of(m);
            let bit_off = m.bit_offset() as usize;
            let node = match m.bitfield_size() {
                Some(bits) if bits > 0 => {
                    count_node(nodes, &mpath)?;
                    self.bitfield(mty, base, bit_off, bits, size, &mpath)?
                }
                _ => {
                    if bit_off & 7 != 0 {
                        return Err(BtfError::Unsupported {
                            path: mpath,
                            reason: "member is not byte aligned",
                        });
                    }
                    if bit_off / 8 + self.size_of(mty)? > size {
                        return Err(BtfError::OutOfBounds { path: mpath });
                    }
                    self.node(mty, base + bit_off / 8, &mpath, &name, depth + 1, nodes)?
                }
            };
            match (name.is_empty(), node) {
                (false, node) => fields.push(Field {
                    json_key: json_key(&name),
                    text_key: text_key(&name),
                    name: name.into(),
                    node,
                }),
                // Anonymous struct or union: its members belong to this one, as in C.
                (true, Node::Record(inner)) => fields.extend(inner),
                // Unnamed padding bitfield.
                (true, _) => {}
            }
        }
        Ok(Node::Record(fields))
    }

    fn bitfield(
        &self,
        id: u32,
        base: usize,
        bit_off: usize,
        bits: u32,
        size: usize,
        path: &str,
    ) -> Result<Node, BtfError> {
        if bits > 64 {
            return Err(BtfError::Unsupported {
                path: path.into(),
                reason: "bitfield wider than 64 bits",
            });
        }
        let (signed, repr) = match self.strip(id)?.1 {
            Type::Int(i) if i.is_bool() => (false, BitRepr::Bool),
            Type::Int(i) => (i.is_signed(), BitRepr::Int),
            Type::Enum(e) => (
                e.is_signed(),
                BitRepr::Enum(Box::new(self.enum_names(&Type::Enum(e)))),
            ),
            Type::Enum64(e) => (
                e.is_signed(),
                BitRepr::Enum(Box::new(self.enum_names(&Type::Enum64(e)))),
            ),
            _ => {
                return Err(BtfError::Unsupported {
                    path: path.into(),
                    reason: "bitfield of a type other than an integer or enum",
                })
            }
        };
        let (byte, bit) = (bit_off / 8, bit_off % 8);
        let span = (bit + bits as usize).div_ceil(8);
        if byte + span > size {
            return Err(BtfError::OutOfBounds { path: path.into() });
        }
        Ok(Node::Scalar(Scalar {
            offset: base + byte,
            kind: ScalarKind::Bits {
                bit: bit as u8,
                bits: bits as u8,
                span: span as u8,
                signed,
                repr,
            },
        }))
    }

    /// Whether an array of `elem` is a string: its element is `char`, `signed char`,
    /// `unsigned char` or a BTF_INT_CHAR integer, possibly qualified, but not through a
    /// typedef (`__u8 buf[16]` is bytes, not text).
    pub(super) fn is_char(&self, mut id: u32) -> Result<bool, BtfError> {
        for _ in 0..MAX_DEPTH {
            let t = self.ty(id)?;
            match &t {
                Type::Const(_) | Type::Volatile(_) | Type::Restrict(_) | Type::TypeTag(_) => {
                    id = next_id(&t)
                }
                Type::Int(i) => {
                    return Ok(i.size() == 1
                        && !i.is_bool()
                        && (i.is_char() || CHAR_NAMES.contains(&self.name(i).as_str())))
                }
                _ => return Ok(false),
            }
        }
        Ok(false)
    }

    /// The enumerator names of enum type `t`, for decoding values by name.
    fn enum_names(&self, t: &Type) -> EnumNames {
        let variants = self.enumerators(t).unwrap_or_default();
        EnumNames::new(
            variants
                .into_iter()
                .map(|(v, name)| (v, name.into()))
                .collect(),
        )
    }
}

/// Counts one more node of a plan against [`MAX_NODES`].
fn count_node(nodes: &mut usize, path: &str) -> Result<(), BtfError> {
    *nodes += 1;
    match *nodes > MAX_NODES {
        true => Err(BtfError::TooLarge {
            type_name: path.into(),
            limit: MAX_NODES,
            what: "plan nodes",
        }),
        false => Ok(()),
    }
}

/// How many values decoding one record with `node` produces (an empty struct is one).
fn values(node: &Node) -> usize {
    match node {
        Node::Scalar(_) => 1,
        Node::Record(fields) => fields
            .iter()
            .fold(1usize, |n, f| n.saturating_add(values(&f.node))),
        Node::Array { count, elem, .. } => count.saturating_mul(values(elem)),
    }
}

fn int_kind(i: &Int, member: &str) -> ScalarKind {
    let size = i.size();
    match size {
        _ if i.is_bool() && size <= 16 => ScalarKind::Bool { size: size as u8 },
        8 if TIMESTAMP_NAMES.contains(&member) => ScalarKind::Timestamp,
        8 if !i.is_signed() && is_address_name(member) => ScalarKind::Ptr { size: 8 },
        4 if !i.is_signed() && member == DEV_NAME => ScalarKind::Dev,
        1 | 2 | 4 | 8 | 16 => ScalarKind::Int {
            size: size as u8,
            signed: i.is_signed(),
        },
        len => ScalarKind::Bytes { len },
    }
}

#[cfg(test)]
#[test]
fn address_names_are_recognized() {
    for yes in ["ip", "addr", "func_ip", "ret_addr"] {
        assert!(is_address_name(yes), "{yes}");
    }
    for no in ["ipaddr_count", "pid", "zip", "address"] {
        assert!(!is_address_name(no), "{no}");
    }
}

fn enum_kind(size: usize, signed: bool, names: EnumNames) -> ScalarKind {
    match size {
        1 | 2 | 4 | 8 => ScalarKind::Enum {
            size: size as u8,
            signed,
            names: Box::new(names),
        },
        len => ScalarKind::Bytes { len },
    }
}

/// `name=` with control characters escaped, as text output writes strings.
fn text_key(name: &str) -> Box<str> {
    let mut s = String::with_capacity(name.len() + 1);
    crate::output::push_text_str(&mut s, name.as_bytes());
    s.push('=');
    s.into()
}

/// `"name":` with the name JSON-escaped.
fn json_key(name: &str) -> Box<str> {
    let mut s = String::with_capacity(name.len() + 3);
    crate::output::push_json_str(&mut s, name.as_bytes());
    s.push(':');
    s.into()
}
