//! [`RunningProbe`]: a loaded, attached probe whose events are queued for the application
//! and whose histograms and counters are read as data.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::{HistRow, Record};
use crate::plan::{EventOverride, OutputPlan};
use crate::stream::{self, Streams};
use crate::{
    tables, AttachFailure, Layout, LoadError, LoadOpts, ObjectBtf, ProbeSource, Session, Value,
};

/// Records received and not yet taken, and the perf buffers' loss count.
#[derive(Default)]
struct Inbox {
    records: VecDeque<Record>,
    lost: u64,
}

/// A loaded probe with its programs attached and its event buffers open. Records are
/// queued by [`RunningProbe::poll`] until taken with [`RunningProbe::events`] or
/// [`RunningProbe::take_records`]. Dropping it detaches every program and frees the maps.
pub struct RunningProbe {
    // Field order matters: the buffers close before the session detaches and frees the maps.
    streams: Streams<'static>,
    inbox: Rc<RefCell<Inbox>>,
    layouts: Vec<(Arc<str>, Option<Arc<Layout>>)>,
    plan: OutputPlan,
    session: Session,
}

impl RunningProbe {
    pub(super) fn start(
        src: &ProbeSource,
        btf: &ObjectBtf,
        opts: &LoadOpts,
        events: &[EventOverride],
    ) -> Result<RunningProbe, LoadError> {
        let session = Session::start(src, opts)?;
        let event_maps = stream::event_maps(session.object());
        let plan = OutputPlan::new(btf, &event_maps, events)?;
        let layouts: Vec<(Arc<str>, Option<Arc<Layout>>)> = event_maps
            .iter()
            .map(|name| {
                let layout = plan.events.iter().find(|e| e.map == *name);
                (
                    Arc::from(name.as_str()),
                    layout.map(|e| Arc::new(e.layout.clone())),
                )
            })
            .collect();
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let (sink_inbox, lost_inbox, sink_layouts) =
            (inbox.clone(), inbox.clone(), layouts.clone());
        let streams = Streams::open(
            session.object(),
            &event_maps,
            move |i: usize, data: &[u8]| {
                let (map, layout) = &sink_layouts[i];
                sink_inbox.borrow_mut().records.push_back(Record {
                    map: map.clone(),
                    layout: layout.clone(),
                    data: data.to_vec(),
                });
            },
            move |n| lost_inbox.borrow_mut().lost += n,
        )?;
        Ok(RunningProbe {
            streams,
            inbox,
            layouts,
            plan,
            session,
        })
    }

    /// The loaded object and its links (maps can be read through `session().object()`).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Names of the attached programs.
    pub fn attached(&self) -> Vec<&str> {
        self.session.attached()
    }

    /// Programs skipped under [`Probe::allow_partial`](crate::Probe::allow_partial), with why.
    pub fn failures(&self) -> &[AttachFailure] {
        self.session.failures()
    }

    /// The object's output maps: events maps with their record layouts, histograms, counters.
    pub fn plan(&self) -> &OutputPlan {
        &self.plan
    }

    /// Waits up to `timeout` for records on any events map (returning once some arrived)
    /// and queues them; returns how many records are queued in all. Without events maps it
    /// just sleeps. A signal ends the wait early.
    pub fn poll(&mut self, timeout: Duration) -> usize {
        self.streams.poll(timeout);
        self.inbox.borrow().records.len()
    }

    /// Queues what the buffers hold now, without waiting; returns how many records are queued.
    pub fn consume(&mut self) -> usize {
        self.streams.consume();
        self.inbox.borrow().records.len()
    }

    /// Takes the queued records of events map `map`, oldest first (records of other maps
    /// stay queued). Fails when the object has no ring buffer or perf event array `map`.
    pub fn events(&mut self, map: &str) -> Result<Vec<Record>, LoadError> {
        if !self.layouts.iter().any(|(m, _)| &**m == map) {
            return Err(LoadError::Output {
                map: map.to_string(),
                why: format!(
                    "no ring buffer or perf event array of this name (events maps: {})",
                    list(self.layouts.iter().map(|(m, _)| &**m))
                ),
            });
        }
        let mut inbox = self.inbox.borrow_mut();
        let (taken, kept): (VecDeque<Record>, _) = std::mem::take(&mut inbox.records)
            .into_iter()
            .partition(|r| r.map() == map);
        inbox.records = kept;
        Ok(taken.into())
    }

    /// Takes every queued record, in arrival order within each buffer.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.inbox.borrow_mut().records).into()
    }

    /// Records perf buffers reported lost so far (full ring buffers drop silently).
    pub fn lost(&self) -> u64 {
        self.inbox.borrow().lost
    }

    /// Reads histogram `map` (declared with `CORESHIP_HIST` or `CORESHIP_HIST_KEYED`): each
    /// key (`None` for an unkeyed histogram) with its counts by log2 slot — index N counts
    /// values in `[2^(N-1), 2^N)`, index 0 counts zeros — up to the last non-empty slot.
    pub fn hist(&self, map: &str) -> Result<Vec<HistRow>, LoadError> {
        let Some(plan) = self.plan.hists.iter().find(|h| h.map == map) else {
            return Err(not_declared(
                map,
                "histogram",
                self.plan.hists.iter().map(|h| h.map.as_str()),
            ));
        };
        tables::hist_values(self.session.object(), plan)
    }

    /// Reads counter map `map` (declared with `CORESHIP_COUNTER`): each key with its count,
    /// summed over CPUs, largest first. Stack-profile keys come back as raw stack ids.
    pub fn counters(&self, map: &str) -> Result<Vec<(Value, u64)>, LoadError> {
        let Some(plan) = self.plan.counters.iter().find(|c| c.map == map) else {
            return Err(not_declared(
                map,
                "counter map",
                self.plan.counters.iter().map(|c| c.map.as_str()),
            ));
        };
        tables::counter_values(self.session.object(), plan)
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.is_empty() {
        true => "none".into(),
        false => names.join(", "),
    }
}

fn not_declared<'a>(map: &str, what: &str, have: impl Iterator<Item = &'a str>) -> LoadError {
    LoadError::Output {
        map: map.to_string(),
        why: format!(
            "no {what} of this name is declared (this object has: {})",
            list(have)
        ),
    }
}
