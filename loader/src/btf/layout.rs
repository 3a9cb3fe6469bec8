//! [`Layout`]: the compiled decode plan of one type, and the flattened [`Column`]s text
//! output prints. Writing rows lives in `output/`; building Values in `value.rs`.

use super::plan::{BitRepr, Node, ScalarKind};
use super::{DecodeError, Endian};

/// A compiled plan for decoding records of one BTF type. Built once per type by
/// [`ObjectBtf::layout`](crate::ObjectBtf::layout); decoding a record needs no BTF lookups.
///
/// Rules: integers honour BTF signedness, char arrays are strings up to the first NUL,
/// enums print by variant name (the number when no variant matches), pointers as hex,
/// 8-byte integers named `ts`, `ts_ns` or `timestamp` as timestamps. Typedefs and
/// qualifiers are transparent. Members of anonymous structs and unions are lifted into
/// their parent, as C names them. A union decodes every member, each reading the same
/// bytes, as a debugger shows it.
#[derive(Debug, Clone)]
pub struct Layout {
    pub(crate) type_name: String,
    pub(crate) size: usize,
    pub(crate) endian: Endian,
    pub(crate) root: Node,
    pub(crate) columns: Vec<Column>,
}

impl Layout {
    /// Size in bytes of the type; shorter records are rejected, longer ones (padded perf
    /// samples) decode their first `size` bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The C name of the type this plan decodes.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The flattened columns text output prints: leaves of nested structs are named with
    /// dots (`a.b`); arrays other than strings are one column. A type that is not a struct
    /// has a single column named `value`.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Checks a record is long enough to decode.
    pub(crate) fn check(&self, data: &[u8]) -> Result<(), DecodeError> {
        match data.len() >= self.size {
            true => Ok(()),
            false => Err(DecodeError::TooShort {
                type_name: self.type_name.clone(),
                expected: self.size,
                actual: data.len(),
            }),
        }
    }

    pub(crate) fn new(type_name: String, size: usize, endian: Endian, root: Node) -> Layout {
        let mut columns = Vec::new();
        flatten(&root, "", &mut columns);
        Layout {
            type_name,
            size,
            endian,
            root,
            columns,
        }
    }
}

/// One column of text output.
#[derive(Debug, Clone)]
pub struct Column {
    pub(crate) name: String,
    pub(crate) header: String,
    pub(crate) width: usize,
    pub(crate) right: bool,
    pub(crate) node: Node,
}

impl Column {
    /// The member path, dotted for nested structs (`ts`, `key.pid`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's width in characters (values longer than this overflow it).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether values are right-aligned (numbers) rather than left-aligned (text).
    pub fn right_aligned(&self) -> bool {
        self.right
    }

    fn new(name: &str, node: Node) -> Column {
        // Escaped as text values are: member names in BTF are any bytes, and a header must
        // stay one line (and carry no terminal escape sequence).
        let mut header = String::with_capacity(name.len());
        crate::output::push_text_str(&mut header, name.to_uppercase().as_bytes());
        let (width, right) = default_width(&node);
        Column {
            name: name.into(),
            width: width.max(header.chars().count()),
            header,
            right,
            node,
        }
    }
}

fn flatten(node: &Node, prefix: &str, out: &mut Vec<Column>) {
    match node {
        Node::Record(fields) => {
            for f in fields {
                let name = match prefix.is_empty() {
                    true => f.name.to_string(),
                    false => format!("{prefix}.{}", f.name),
                };
                flatten(&f.node, &name, out);
            }
        }
        _ if prefix.is_empty() => out.push(Column::new("value", node.clone())),
        _ => out.push(Column::new(prefix, node.clone())),
    }
}

/// Default width and alignment per kind, close to what bcc's tools print: numbers right in
/// 7 (pids), strings left in up to 16 (comm).
fn default_width(node: &Node) -> (usize, bool) {
    let Node::Scalar(s) = node else {
        return (16, false);
    };
    match &s.kind {
        ScalarKind::Int { .. } => (7, true),
        ScalarKind::Bits { repr, .. } => match repr {
            BitRepr::Int => (7, true),
            BitRepr::Bool => (5, false),
            BitRepr::Enum(names) => (names.max_len().clamp(4, 16), false),
        },
        ScalarKind::Bool { .. } => (5, false),
        ScalarKind::Float { .. } => (10, true),
        ScalarKind::Ptr { .. } => (18, false),
        ScalarKind::Enum { names, .. } => (names.max_len().clamp(4, 16), false),
        ScalarKind::Str { len } => ((*len).min(16), false),
        ScalarKind::Bytes { len } => ((len * 2).min(16), false),
        ScalarKind::Timestamp => (11, true),
        ScalarKind::Dev => (7, false),
    }
}
