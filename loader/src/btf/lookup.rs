//! Finding a type by the name a user or package description spells: `struct event`,
//! `union u`, `enum e`, or a bare name.

use btf_rs::Type;

use super::{BtfError, ObjectBtf};

/// Which kinds a type spec may match.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tag {
    Struct,
    Union,
    Enum,
    Bare,
}

impl Tag {
    /// Rank of a type for this spec: lower is preferred, `None` does not match. A bare name
    /// prefers a typedef, then a struct, union, enum, and last a base type.
    fn rank(self, t: &Type) -> Option<u8> {
        match (self, t) {
            (Tag::Struct, Type::Struct(_)) => Some(0),
            (Tag::Union, Type::Union(_)) => Some(0),
            (Tag::Enum, Type::Enum(_) | Type::Enum64(_)) => Some(0),
            (Tag::Bare, Type::Typedef(_)) => Some(0),
            (Tag::Bare, Type::Struct(_)) => Some(1),
            (Tag::Bare, Type::Union(_)) => Some(2),
            (Tag::Bare, Type::Enum(_) | Type::Enum64(_)) => Some(3),
            (Tag::Bare, Type::Int(_) | Type::Float(_)) => Some(4),
            _ => None,
        }
    }
}

fn parse_spec(spec: &str) -> Result<(Tag, &str), BtfError> {
    let spec_t = spec.trim();
    let (tag, name) = match spec_t.split_once(char::is_whitespace) {
        Some(("struct", rest)) => (Tag::Struct, rest.trim()),
        Some(("union", rest)) => (Tag::Union, rest.trim()),
        Some(("enum", rest)) => (Tag::Enum, rest.trim()),
        _ => (Tag::Bare, spec_t),
    };
    let valid = !name.is_empty()
        && !matches!(name, "struct" | "union" | "enum")
        && (tag != Tag::Bare || !name.contains(char::is_whitespace) || is_base_name(name));
    match valid {
        true => Ok((tag, name)),
        false => Err(BtfError::BadTypeSpec { spec: spec.into() }),
    }
}

/// Multi-word C base type names, which BTF stores verbatim (`unsigned int`).
fn is_base_name(name: &str) -> bool {
    name.split_whitespace().all(|w| {
        matches!(
            w,
            "unsigned" | "signed" | "char" | "short" | "int" | "long" | "double"
        )
    })
}

impl ObjectBtf {
    /// Finds the id of a type named `struct NAME`, `union NAME`, `enum NAME` or a bare NAME
    /// (a typedef, else a struct, union, enum or base type of that name). Forward
    /// declarations never match.
    pub fn find_type(&self, spec: &str) -> Result<u32, BtfError> {
        let (tag, name) = parse_spec(spec)?;
        let ids = self.btf.resolve_ids_by_name(name).unwrap_or_default();
        let best = ids
            .into_iter()
            .filter_map(|id| Some((tag.rank(&self.ty(id).ok()?)?, id)))
            .min();
        match best {
            Some((_, id)) => Ok(id),
            None => Err(BtfError::NoType {
                spec: spec.trim().into(),
                suggestion: self.suggest(spec.trim()),
            }),
        }
    }

    /// The existing named type whose C spelling is closest to `spec`, if close enough to
    /// be a typo (or the same name with a different tag).
    fn suggest(&self, spec: &str) -> Option<String> {
        let bare = spec.rsplit(char::is_whitespace).next().unwrap_or(spec);
        let mut best: Option<(usize, String)> = None;
        for id in self.type_ids() {
            let Ok(t) = self.ty(id) else { continue };
            let named = matches!(
                t,
                Type::Struct(_)
                    | Type::Union(_)
                    | Type::Enum(_)
                    | Type::Enum64(_)
                    | Type::Typedef(_)
            );
            if !named {
                continue;
            }
            let full = self.type_name(id);
            if full.ends_with("{...}") {
                continue;
            }
            let short = full.rsplit(' ').next().unwrap_or(&full);
            let d = edit_distance(spec, &full).min(edit_distance(bare, short));
            if best.as_ref().is_none_or(|(bd, _)| d < *bd) {
                best = Some((d, full));
            }
        }
        let limit = (bare.len() / 3).max(1);
        best.filter(|(d, _)| *d <= limit).map(|(_, name)| name)
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::super::testutil::BtfWriter;
    use super::*;

    fn sample() -> (ObjectBtf, [u32; 5]) {
        let mut w = BtfWriter::new();
        let u32_ = w.int("unsigned int", 4, false);
        let fwd = w.fwd("event");
        let ev = w.structure("event", 4, &[("pid", u32_, 0, 0)]);
        let td = w.typedef("event_t", ev);
        let un = w.union("event", 4, &[("pid", u32_, 0, 0)]);
        let _ = fwd;
        (
            ObjectBtf::from_bytes(&w.finish()).unwrap(),
            [u32_, ev, td, un, fwd],
        )
    }

    #[test]
    fn finds_tagged_and_bare_names() {
        let (btf, [u32_, ev, td, un, _]) = sample();
        assert_eq!(btf.find_type("struct event").unwrap(), ev);
        assert_eq!(btf.find_type("  struct   event ").unwrap(), ev);
        assert_eq!(btf.find_type("union event").unwrap(), un);
        assert_eq!(
            btf.find_type("event").unwrap(),
            ev,
            "bare name prefers struct over union"
        );
        assert_eq!(btf.find_type("event_t").unwrap(), td);
        assert_eq!(btf.find_type("unsigned int").unwrap(), u32_);
    }

    #[test]
    fn missing_type_error_names_it_and_suggests() {
        let (btf, _) = sample();
        let err = btf.find_type("struct evnt").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no type `struct evnt` in the object's BTF (did you mean `struct event`?)"
        );
        let err = btf.find_type("struct event_t").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no type `struct event_t` in the object's BTF (did you mean `event_t`?)"
        );
        let err = btf.find_type("enum event").unwrap_err();
        assert!(err.to_string().starts_with("no type `enum event`"), "{err}");
        let err = btf.find_type("completely_different").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no type `completely_different` in the object's BTF"
        );
    }

    #[test]
    fn malformed_specs_are_rejected() {
        let (btf, _) = sample();
        for spec in ["", "struct", "struct  ", "foo bar"] {
            let err = btf.find_type(spec).unwrap_err();
            assert!(matches!(err, BtfError::BadTypeSpec { .. }), "{spec}: {err}");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("evnt", "event"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }
}
