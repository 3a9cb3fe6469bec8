//! Which maps the loader prints and how: read once from the object's BTF before streaming.

use coreship_registry::OutputKind;

use crate::{BtfError, HistKey, Layout, LoadError, ObjectBtf};

/// `--event MAP=TYPE`: decode MAP's records as TYPE (for objects written without coreship.h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOverride {
    /// Ring buffer or perf event array name.
    pub map: String,
    /// Type as written in C: `struct event`, `event_t`.
    pub type_spec: String,
}

impl std::str::FromStr for EventOverride {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((map, ty)) if !map.is_empty() && !ty.trim().is_empty() => Ok(EventOverride {
                map: map.to_string(),
                type_spec: ty.trim().to_string(),
            }),
            _ => Err(LoadError::Output {
                map: s.to_string(),
                why: "--event takes MAP=TYPE, e.g. events='struct event'".into(),
            }),
        }
    }
}

/// An events map and the layout of its records.
pub struct EventsPlan {
    /// Map name.
    pub map: String,
    /// Record layout.
    pub layout: Layout,
    /// C name of the record type.
    pub type_name: String,
}

/// A histogram map and its key.
pub struct HistPlan {
    /// Map name.
    pub map: String,
    /// Key layout (user key and slot).
    pub key: HistKey,
}

/// A counter map and its key layout.
pub struct CounterPlan {
    /// Map name.
    pub map: String,
    /// Key layout.
    pub key: Layout,
}

/// Everything the loader prints for one object.
#[derive(Default)]
pub struct OutputPlan {
    /// Event streams.
    pub events: Vec<EventsPlan>,
    /// Histograms, printed at exit and every `--interval`.
    pub hists: Vec<HistPlan>,
    /// Counters, printed at exit and every `--interval`.
    pub counters: Vec<CounterPlan>,
    /// Event-capable maps with no declared record type (printed as hex).
    pub undeclared: Vec<String>,
    /// Stack trace maps declared with `CORESHIP_STACKS`: where the stack ids of
    /// stack-profile counters (keys with `kstack`/`ustack`) are resolved.
    pub stacks: Vec<String>,
}

impl OutputPlan {
    /// Builds the plan from the object's markers plus `overrides`. `map_names` are the
    /// object's event-capable maps (ring buffers and perf event arrays).
    pub fn new(
        btf: &ObjectBtf,
        event_maps: &[String],
        overrides: &[EventOverride],
    ) -> Result<OutputPlan, LoadError> {
        let mut plan = OutputPlan::default();
        let out_err = |map: &str, e: BtfError| LoadError::Output {
            map: map.to_string(),
            why: e.to_string(),
        };
        for ov in overrides {
            if !event_maps.contains(&ov.map) {
                return Err(LoadError::Output {
                    map: ov.map.clone(),
                    why: format!(
                        "--event names no ring buffer or perf event array in this object (it has: {})",
                        if event_maps.is_empty() { "none".to_string() } else { event_maps.join(", ") }
                    ),
                });
            }
            let id = btf
                .find_type(&ov.type_spec)
                .map_err(|e| out_err(&ov.map, e))?;
            plan.events.push(EventsPlan {
                map: ov.map.clone(),
                layout: btf.layout(id).map_err(|e| out_err(&ov.map, e))?,
                type_name: btf.type_name(id),
            });
        }
        let markers = btf.markers().map_err(|e| out_err(".coreship", e))?;
        for mk in markers {
            match mk.kind {
                OutputKind::Events => {
                    if plan.events.iter().any(|e| e.map == mk.map) {
                        continue;
                    }
                    plan.events.push(EventsPlan {
                        layout: btf.layout(mk.type_id).map_err(|e| out_err(&mk.map, e))?,
                        type_name: btf.type_name(mk.type_id),
                        map: mk.map,
                    });
                }
                OutputKind::Hist => plan.hists.push(HistPlan {
                    key: btf.hist_key(mk.type_id).map_err(|e| out_err(&mk.map, e))?,
                    map: mk.map,
                }),
                OutputKind::Counter => plan.counters.push(CounterPlan {
                    key: btf.layout(mk.type_id).map_err(|e| out_err(&mk.map, e))?,
                    map: mk.map,
                }),
                OutputKind::Stacks => plan.stacks.push(mk.map),
            }
        }
        plan.undeclared = event_maps
            .iter()
            .filter(|m| !plan.events.iter().any(|e| &e.map == *m))
            .cloned()
            .collect();
        Ok(plan)
    }
}
