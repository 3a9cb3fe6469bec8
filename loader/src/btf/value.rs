//! [`Value`]: an owned, decoded record, for callers that inspect fields rather than print
//! them (printing goes straight from bytes to text or JSON, see `output/`).

use super::plan::{Node, Raw};
use super::{DecodeError, Endian, Layout};

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An unsigned integer (or unsigned bitfield).
    Uint(u128),
    /// A signed integer (or signed bitfield).
    Int(i128),
    /// A `bool`.
    Bool(bool),
    /// A `float` or `double`.
    Float(f64),
    /// A char array up to its first NUL; invalid UTF-8 is replaced by U+FFFD.
    Str(String),
    /// Bytes of a type with no better rendering.
    Bytes(Vec<u8>),
    /// An enum: the variant's name, if one has this value, and the value.
    Enum {
        /// The variant's name, `None` for a value no variant has.
        name: Option<String>,
        /// The numeric value.
        value: i128,
    },
    /// A pointer's address.
    Ptr(u64),
    /// A non-string array.
    Array(Vec<Value>),
    /// A struct or union, members in declaration order (a union lists every member).
    Struct(Vec<(String, Value)>),
    /// A `bpf_ktime_get_ns()` timestamp; see [`FormatCtx::relative_secs`](crate::FormatCtx::relative_secs).
    Timestamp {
        /// CLOCK_MONOTONIC nanoseconds.
        ns: u64,
    },
}

impl Value {
    /// The member `name` of a struct value.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|f| f.0 == name).map(|f| &f.1),
            _ => None,
        }
    }
}

impl Layout {
    /// Decodes one record into an owned [`Value`].
    pub fn decode(&self, data: &[u8]) -> Result<Value, DecodeError> {
        self.check(data)?;
        Ok(decode_node(&self.root, data, 0, self.endian))
    }
}

fn decode_node(node: &Node, data: &[u8], base: usize, endian: Endian) -> Value {
    match node {
        Node::Scalar(s) => from_raw(s.read(data, base, endian)),
        Node::Record(fields) => Value::Struct(
            fields
                .iter()
                .map(|f| (f.name.to_string(), decode_node(&f.node, data, base, endian)))
                .collect(),
        ),
        Node::Array {
            offset,
            count,
            stride,
            elem,
        } => Value::Array(
            (0..*count)
                .map(|i| decode_node(elem, data, base + offset + i * stride, endian))
                .collect(),
        ),
    }
}

fn from_raw(raw: Raw) -> Value {
    match raw {
        Raw::Uint(v) => Value::Uint(v),
        Raw::Int(v) => Value::Int(v),
        Raw::Bool(v) => Value::Bool(v),
        Raw::Float(v) => Value::Float(v),
        Raw::Ptr(v) => Value::Ptr(v),
        Raw::Enum(name, value) => Value::Enum {
            name: name.map(str::to_string),
            value,
        },
        Raw::Str(b) => Value::Str(String::from_utf8_lossy(b).into_owned()),
        Raw::Bytes(b) => Value::Bytes(b.to_vec()),
        Raw::Timestamp(ns) => Value::Timestamp { ns },
        Raw::Dev(dev) => Value::Uint(u128::from(dev)),
    }
}
