//! Output markers: the `__coreship_<kind>__<map>` variables coreship.h's macros put in
//! DATASEC `.coreship`, each a pointer to the event or key type of one output map.

use btf_rs::Type;
use coreship_registry::OutputKind;

use super::object::{next_id, next_id_of};
use super::{BtfError, ObjectBtf};

/// Name of the DATASEC holding the markers.
pub const MARKER_SECTION: &str = ".coreship";

/// Prefix of every marker variable's name.
const MARKER_PREFIX: &str = "__coreship_";

/// One output map declared with coreship.h.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// What the map carries.
    pub kind: OutputKind,
    /// The map's name.
    pub map: String,
    /// The pointee of the marker: the event type (events), the key type (hist, counter) or
    /// `__u64` (stacks: one instruction pointer of a stack).
    /// For histograms, pass it to [`ObjectBtf::hist_key`].
    pub type_id: u32,
}

impl ObjectBtf {
    /// The output maps the object declares, in section order; empty when it has no
    /// `.coreship` section. Variables in it not named `__coreship_*` are ignored.
    pub fn markers(&self) -> Result<Vec<Marker>, BtfError> {
        let mut markers = Vec::new();
        let ids = self
            .btf
            .resolve_ids_by_name(MARKER_SECTION)
            .unwrap_or_default();
        for id in ids {
            let Type::Datasec(sec) = self.ty(id)? else {
                continue;
            };
            for v in &sec.variables {
                let Type::Var(var) = self.ty(next_id_of(v))? else {
                    continue;
                };
                let name = self.name(&var);
                let Some(rest) = name.strip_prefix(MARKER_PREFIX) else {
                    continue;
                };
                let bad = |reason: String| BtfError::BadMarker {
                    var: name.clone(),
                    reason,
                };
                let (kind, map) = rest
                    .split_once("__")
                    .ok_or_else(|| bad("expected __coreship_<kind>__<map>".into()))?;
                let kind = match kind {
                    "events" => OutputKind::Events,
                    "hist" => OutputKind::Hist,
                    "counter" => OutputKind::Counter,
                    "stacks" => OutputKind::Stacks,
                    other => {
                        return Err(bad(format!(
                            "unknown kind `{other}` (expected events, hist, counter or stacks)"
                        )))
                    }
                };
                if map.is_empty() {
                    return Err(bad("empty map name".into()));
                }
                let (_, ty) = self.strip(next_id_of(&var))?;
                let Type::Ptr(_) = ty else {
                    return Err(bad(format!(
                        "its type is `{}`, expected a pointer to the event or key type",
                        self.type_name(next_id_of(&var))
                    )));
                };
                markers.push(Marker {
                    kind,
                    map: map.into(),
                    type_id: next_id(&ty),
                });
            }
        }
        Ok(markers)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::BtfWriter;
    use super::*;

    #[test]
    fn finds_markers_in_coreship_section_only() {
        let mut w = BtfWriter::new();
        let u32_ = w.int("unsigned int", 4, false);
        let ev = w.structure("event", 4, &[("pid", u32_, 0, 0)]);
        let pev = w.ptr(ev);
        let pkey = w.ptr(u32_);
        let m1 = w.var("__coreship_events__events", pev);
        let m2 = w.var("__coreship_counter__calls__by_pid", pkey);
        let other = w.var("something_else", pev);
        let elsewhere = w.var("__coreship_events__ignored", pev);
        w.datasec(".coreship", &[(m1, 0, 8), (other, 8, 8), (m2, 16, 8)]);
        w.datasec(".data", &[(elsewhere, 0, 8)]);
        let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();

        let markers = btf.markers().unwrap();
        assert_eq!(
            markers,
            vec![
                Marker {
                    kind: OutputKind::Events,
                    map: "events".into(),
                    type_id: ev
                },
                Marker {
                    kind: OutputKind::Counter,
                    map: "calls__by_pid".into(),
                    type_id: u32_
                },
            ]
        );
        assert_eq!(btf.type_name(markers[0].type_id), "struct event");
    }

    #[test]
    fn stacks_marker_names_the_stack_trace_map() {
        let mut w = BtfWriter::new();
        let u64_ = w.int("long long unsigned int", 8, false);
        let p = w.ptr(u64_);
        let v = w.var("__coreship_stacks__stacks", p);
        w.datasec(".coreship", &[(v, 0, 8)]);
        let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
        let m = &btf.markers().unwrap()[0];
        assert_eq!((m.kind, m.map.as_str()), (OutputKind::Stacks, "stacks"));
    }

    #[test]
    fn no_section_means_no_markers() {
        let mut w = BtfWriter::new();
        w.int("int", 4, true);
        let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
        assert!(btf.markers().unwrap().is_empty());
    }

    #[test]
    fn malformed_markers_are_errors() {
        for (var_name, ptr, want) in [
            ("__coreship_gauge__x", true, "unknown kind `gauge`"),
            (
                "__coreship_events",
                true,
                "expected __coreship_<kind>__<map>",
            ),
            ("__coreship_events__x", false, "its type is `unsigned int`"),
        ] {
            let mut w = BtfWriter::new();
            let u32_ = w.int("unsigned int", 4, false);
            let ty = if ptr { w.ptr(u32_) } else { u32_ };
            let v = w.var(var_name, ty);
            w.datasec(".coreship", &[(v, 0, 8)]);
            let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
            let err = btf.markers().unwrap_err().to_string();
            assert!(err.contains(want), "{var_name}: {err}");
            assert!(
                err.starts_with(&format!("bad output marker `{var_name}`")),
                "{err}"
            );
        }
    }
}
