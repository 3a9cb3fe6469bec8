//! C-like spelling of BTF types for messages and headers: `struct exec_event`, `__u32`,
//! `char[16]`, `const char *`.

use btf_rs::Type;

use super::object::{next_id, next_id_of, MAX_DEPTH};
use super::ObjectBtf;

impl ObjectBtf {
    /// The type's name as C would spell it: `struct exec_event`, `__u32`, `char[16]`,
    /// `void *`. Anonymous aggregates print as `struct {...}`; an unknown id prints as
    /// `<bad type id N>` rather than failing, as this is for messages.
    pub fn type_name(&self, id: u32) -> String {
        self.name_at_depth(id, 0)
    }

    fn name_at_depth(&self, id: u32, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "...".into();
        }
        let t = match self.ty(id) {
            Ok(t) => t,
            Err(_) => return format!("<bad type id {id}>"),
        };
        let tagged = |kw: &str, name: String| match name.is_empty() {
            true => format!("{kw} {{...}}"),
            false => format!("{kw} {name}"),
        };
        match &t {
            Type::Void => "void".into(),
            Type::Int(i) => self.name(i),
            Type::Float(f) => self.name(f),
            Type::Typedef(td) => self.name(td),
            Type::Func(f) => self.name(f),
            Type::Var(v) => self.name(v),
            Type::Datasec(d) => self.name(d),
            Type::Struct(s) => tagged("struct", self.name(s)),
            Type::Union(u) => tagged("union", self.name(u)),
            Type::Enum(e) => tagged("enum", self.name(e)),
            Type::Enum64(e) => tagged("enum", self.name(e)),
            Type::Fwd(f) => tagged(if f.is_union() { "union" } else { "struct" }, self.name(f)),
            Type::FuncProto(_) => "fn(...)".into(),
            Type::Ptr(_) => {
                let inner = self.name_at_depth(next_id(&t), depth + 1);
                match inner.ends_with('*') {
                    true => format!("{inner}*"),
                    false => format!("{inner} *"),
                }
            }
            Type::Const(_) => format!("const {}", self.name_at_depth(next_id(&t), depth + 1)),
            Type::Volatile(_) => {
                format!("volatile {}", self.name_at_depth(next_id(&t), depth + 1))
            }
            Type::Restrict(_) => {
                format!("{} restrict", self.name_at_depth(next_id(&t), depth + 1))
            }
            Type::TypeTag(_) | Type::DeclTag(_) => self.name_at_depth(next_id(&t), depth + 1),
            Type::Array(a) => {
                // C puts the outer dimension first: `int[2][3]` is 2 arrays of 3 ints.
                let mut dims = format!("[{}]", a.len());
                let mut elem = next_id_of(a);
                for _ in depth..MAX_DEPTH {
                    match self.ty(elem) {
                        Ok(Type::Array(inner)) => {
                            dims.push_str(&format!("[{}]", inner.len()));
                            elem = next_id_of(&inner);
                        }
                        _ => break,
                    }
                }
                format!("{}{dims}", self.name_at_depth(elem, depth + 1))
            }
            _ => format!("<{} type>", t.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::BtfWriter;
    use super::*;

    #[test]
    fn spells_types_like_c() {
        let mut w = BtfWriter::new();
        let int = w.int("int", 4, true);
        let ch = w.int("char", 1, true);
        let u32_ = w.int("unsigned int", 4, false);
        let td = w.typedef("__u32", u32_);
        let arr = w.array(ch, 16);
        let arr2 = w.array(int, 3);
        let arr23 = w.array(arr2, 2);
        let cch = w.konst(ch);
        let pcch = w.ptr(cch);
        let ppcch = w.ptr(pcch);
        let vp = w.ptr(0);
        let s = w.structure("exec_event", 4, &[("pid", td, 0, 0)]);
        let anon = w.structure("", 4, &[("pid", td, 0, 0)]);
        let e = w.enumeration("state", 4, false, &[("A", 0)]);
        let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();

        assert_eq!(btf.type_name(td), "__u32");
        assert_eq!(btf.type_name(arr), "char[16]");
        assert_eq!(btf.type_name(arr23), "int[2][3]");
        assert_eq!(btf.type_name(pcch), "const char *");
        assert_eq!(btf.type_name(ppcch), "const char **");
        assert_eq!(btf.type_name(vp), "void *");
        assert_eq!(btf.type_name(s), "struct exec_event");
        assert_eq!(btf.type_name(anon), "struct {...}");
        assert_eq!(btf.type_name(e), "enum state");
        assert_eq!(btf.type_name(9999), "<bad type id 9999>");
    }
}
