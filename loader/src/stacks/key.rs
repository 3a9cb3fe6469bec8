//! [`StackKey`]: how to read a stack-profile counter's key — the `kstack`/`ustack` stack
//! ids, `pid`, `comm` — found by member name in the key's compiled [`Layout`] (coreship.h's
//! convention), plus a layout of the remaining members for printing them.

use crate::btf::plan::{Field, Node, Raw, Scalar, ScalarKind};
use crate::btf::Layout;

use super::StackError;

/// Member names of the stack ids.
const KSTACK: &str = "kstack";
const USTACK: &str = "ustack";

/// A stack-profile key: where its members are.
#[derive(Debug, Clone)]
pub(crate) struct StackKey {
    kstack: Option<Scalar>,
    ustack: Option<Scalar>,
    pid: Option<Scalar>,
    comm: Option<Scalar>,
    /// The key without its stack ids: printed as the `@map[…]` key, and in JSON.
    pub(crate) rest: Layout,
}

/// One key's decoded members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyIds<'a> {
    /// Kernel stack id, `None` when negative (no stack).
    pub(crate) kstack: Option<u32>,
    /// User stack id, `None` when negative.
    pub(crate) ustack: Option<u32>,
    /// Process id.
    pub(crate) pid: Option<u32>,
    /// Command name, up to its NUL.
    pub(crate) comm: Option<&'a [u8]>,
}

impl StackKey {
    /// The stack-profile reading of `layout` (the key of counter `map`): `None` when the key
    /// has no top-level `kstack` or `ustack` member.
    pub(crate) fn detect(map: &str, layout: &Layout) -> Result<Option<StackKey>, StackError> {
        let Node::Record(fields) = &layout.root else {
            return Ok(None);
        };
        if !fields.iter().any(|f| is_stack(&f.name)) {
            return Ok(None);
        }
        let find = |name: &str| fields.iter().find(|f| &*f.name == name);
        let id = |name: &str| -> Result<Option<Scalar>, StackError> {
            let Some(f) = find(name) else {
                return Ok(None);
            };
            match &f.node {
                Node::Scalar(s) if matches!(s.kind, ScalarKind::Int { size: 4, .. }) => {
                    Ok(Some(s.clone()))
                }
                _ => Err(StackError::BadStackId {
                    map: map.to_string(),
                    member: name.to_string(),
                }),
            }
        };
        let scalar = |name: &str, ok: fn(&ScalarKind) -> bool| match find(name).map(|f| &f.node) {
            Some(Node::Scalar(s)) if ok(&s.kind) => Some(s.clone()),
            _ => None,
        };
        let rest: Vec<Field> = fields
            .iter()
            .filter(|f| !is_stack(&f.name))
            .cloned()
            .collect();
        Ok(Some(StackKey {
            kstack: id(KSTACK)?,
            ustack: id(USTACK)?,
            pid: scalar("pid", |k| matches!(k, ScalarKind::Int { .. })),
            comm: scalar("comm", |k| matches!(k, ScalarKind::Str { .. })),
            rest: Layout::new(
                layout.type_name.clone(),
                layout.size,
                layout.endian,
                Node::Record(rest),
            ),
        }))
    }

    /// Whether the key has a `kstack` member.
    pub(crate) fn has_kstack(&self) -> bool {
        self.kstack.is_some()
    }

    /// Whether the key has a `ustack` member.
    pub(crate) fn has_ustack(&self) -> bool {
        self.ustack.is_some()
    }

    /// Reads the members of one key (`None` if it is shorter than the key type).
    pub(crate) fn read<'a>(&'a self, key: &'a [u8]) -> Option<KeyIds<'a>> {
        if key.len() < self.rest.size {
            return None;
        }
        let endian = self.rest.endian;
        let int = |s: &Option<Scalar>| match s.as_ref()?.read(key, 0, endian) {
            Raw::Int(v) => Some(v),
            Raw::Uint(v) => i128::try_from(v).ok(),
            _ => None,
        };
        // Ids are ≥ 0; bpf_get_stackid()'s errors are negative, also when stored in a __u32.
        let id = |s: &Option<Scalar>| {
            let v = int(s)? as u32 as i32;
            u32::try_from(v).ok()
        };
        Some(KeyIds {
            kstack: id(&self.kstack),
            ustack: id(&self.ustack),
            pid: int(&self.pid).and_then(|v| u32::try_from(v).ok()),
            comm: match self.comm.as_ref().map(|s| s.read(key, 0, endian)) {
                Some(Raw::Str(b)) => Some(b),
                _ => None,
            },
        })
    }
}

fn is_stack(name: &str) -> bool {
    name == KSTACK || name == USTACK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::testutil::BtfWriter;
    use crate::{FormatCtx, ObjectBtf};

    /// `struct profile_key { __u32 pid; __s32 kstack; __s32 ustack; char comm[16]; }`
    fn profile_key() -> Layout {
        let mut w = BtfWriter::new();
        let u32_ = w.int("unsigned int", 4, false);
        let s32 = w.int("int", 4, true);
        let ch = w.int("char", 1, true);
        let comm = w.array(ch, 16);
        let id = w.structure(
            "profile_key",
            28,
            &[
                ("pid", u32_, 0, 0),
                ("kstack", s32, 32, 0),
                ("ustack", s32, 64, 0),
                ("comm", comm, 96, 0),
            ],
        );
        ObjectBtf::from_bytes(&w.finish())
            .unwrap()
            .layout(id)
            .unwrap()
    }

    fn key(pid: u32, k: i32, u: i32, comm: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&pid.to_le_bytes());
        b.extend_from_slice(&k.to_le_bytes());
        b.extend_from_slice(&u.to_le_bytes());
        let mut c = [0u8; 16];
        c[..comm.len()].copy_from_slice(comm);
        b.extend_from_slice(&c);
        b
    }

    #[test]
    fn reads_ids_pid_and_comm_and_prints_the_rest() {
        let sk = StackKey::detect("samples", &profile_key())
            .unwrap()
            .unwrap();
        let k = key(4242, 7, -14, b"demo");
        let ids = sk.read(&k).unwrap();
        assert_eq!(
            ids,
            KeyIds {
                kstack: Some(7),
                ustack: None,
                pid: Some(4242),
                comm: Some(&b"demo"[..]),
            }
        );
        let mut text = String::new();
        sk.rest
            .write_key(&k, &FormatCtx::default(), &mut text)
            .unwrap();
        assert_eq!(text, "4242, demo");
        let mut json = String::new();
        sk.rest
            .write_json(&k, &FormatCtx::default(), &mut json)
            .unwrap();
        assert_eq!(json, r#"{"pid":4242,"comm":"demo"}"#);
        assert!(sk.read(&k[..10]).is_none());
    }

    #[test]
    fn keys_without_stack_members_are_plain_counters() {
        let mut w = BtfWriter::new();
        let u32_ = w.int("unsigned int", 4, false);
        let id = w.structure("k", 4, &[("pid", u32_, 0, 0)]);
        let l = ObjectBtf::from_bytes(&w.finish())
            .unwrap()
            .layout(id)
            .unwrap();
        assert!(StackKey::detect("calls", &l).unwrap().is_none());
    }

    #[test]
    fn a_stack_member_that_is_not_a_32_bit_id_is_an_error() {
        let mut w = BtfWriter::new();
        let u64_ = w.int("long long unsigned int", 8, false);
        let id = w.structure("k", 8, &[("ustack", u64_, 0, 0)]);
        let l = ObjectBtf::from_bytes(&w.finish())
            .unwrap()
            .layout(id)
            .unwrap();
        let err = StackKey::detect("samples", &l).unwrap_err().to_string();
        assert!(
            err.contains("map samples") && err.contains("`ustack`"),
            "{err}"
        );
    }
}
