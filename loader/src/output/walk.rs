//! The one walk over a compiled plan that both renderers share: records and arrays are
//! visited the same way, only the punctuation and the leaves differ per [`Style`].

use super::FormatCtx;
use crate::btf::plan::{Field, Node, Raw};
use crate::btf::Endian;

/// What a renderer writes around and at each node.
pub(super) trait Style {
    /// Between two members of a record.
    const FIELD_SEP: &'static str;
    /// Before a member's value (its name and `=`, or its JSON key).
    fn field_prefix(out: &mut String, field: &Field);
    /// A leaf.
    fn raw(out: &mut String, raw: Raw<'_>, ctx: &FormatCtx);
}

/// Appends `node` read from `data` at `base`: records as `{…}`, arrays as `[…]`.
pub(super) fn push_node<S: Style>(
    out: &mut String,
    node: &Node,
    data: &[u8],
    base: usize,
    endian: Endian,
    ctx: &FormatCtx,
) {
    match node {
        Node::Scalar(s) => S::raw(out, s.read(data, base, endian), ctx),
        Node::Record(fields) => {
            out.push('{');
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(S::FIELD_SEP);
                }
                S::field_prefix(out, f);
                push_node::<S>(out, &f.node, data, base, endian, ctx);
            }
            out.push('}');
        }
        Node::Array {
            offset,
            count,
            stride,
            elem,
        } => {
            out.push('[');
            for i in 0..*count {
                if i > 0 {
                    out.push(',');
                }
                push_node::<S>(out, elem, data, base + offset + i * stride, endian, ctx);
            }
            out.push(']');
        }
    }
}
