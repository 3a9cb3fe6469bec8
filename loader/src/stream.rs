//! Reading an object's event maps: every ring buffer through one epoll set, one perf buffer
//! per perf event array. Shared by [`run`](crate::run) (records go to a printer) and
//! [`RunningProbe`](crate::RunningProbe) (records are queued for the application).

use std::time::Duration;

use libbpf_rs::{MapCore, MapType, Object, PerfBuffer, PerfBufferBuilder, RingBufferBuilder};

use crate::LoadError;

/// Names of the object's event-capable maps (ring buffers and perf event arrays).
pub(crate) fn event_maps(object: &Object) -> Vec<String> {
    object
        .maps()
        .filter(|m| matches!(m.map_type(), MapType::RingBuf | MapType::PerfEventArray))
        .map(|m| m.name().to_string_lossy().into_owned())
        .collect()
}

/// The open buffers of an object's event maps; `'cb` is how long their callbacks borrow.
pub(crate) struct Streams<'cb> {
    ring: Option<libbpf_rs::RingBuffer<'cb>>,
    perf: Vec<PerfBuffer<'cb>>,
}

impl<'cb> Streams<'cb> {
    /// Opens a buffer on each map of `maps` (names from [`event_maps`]). `sink` receives
    /// every record with the index of its map in `maps`; `lost` the number of records a perf
    /// buffer dropped.
    pub(crate) fn open<S, L>(
        object: &Object,
        maps: &[String],
        sink: S,
        lost: L,
    ) -> Result<Streams<'cb>, LoadError>
    where
        S: Fn(usize, &[u8]) + Clone + 'cb,
        L: Fn(u64) + Clone + 'cb,
    {
        let mut rb_builder = RingBufferBuilder::new();
        let mut have_rb = false;
        let mut perf = Vec::new();
        let all: Vec<_> = object.maps().collect();
        for map in &all {
            let name = map.name().to_string_lossy();
            let Some(index) = maps.iter().position(|m| *m == name) else {
                continue;
            };
            let stream_err = |what: &str, source| LoadError::Stream {
                map: name.to_string(),
                what: what.to_string(),
                source,
            };
            let sink = sink.clone();
            if map.map_type() == MapType::RingBuf {
                rb_builder
                    .add(map, move |data: &[u8]| {
                        sink(index, data);
                        0
                    })
                    .map_err(|e| stream_err("cannot read the ring buffer", e))?;
                have_rb = true;
            } else {
                let lost = lost.clone();
                let pb = PerfBufferBuilder::new(map)
                    .pages(64)
                    .sample_cb(move |_cpu, data: &[u8]| sink(index, data))
                    .lost_cb(move |_cpu, n| lost(n))
                    .build()
                    .map_err(|e| stream_err("cannot open the perf buffer", e))?;
                perf.push(pb);
            }
        }
        let ring = if have_rb {
            Some(rb_builder.build().map_err(|source| LoadError::Stream {
                map: maps.join(","),
                what: "cannot set up ring buffers".into(),
                source,
            })?)
        } else {
            None
        };
        Ok(Streams { ring, perf })
    }

    /// Waits up to `wait` for records and hands them to the sink; sleeps when there are no
    /// event maps. A poll interrupted by a signal returns early (callers check their stop
    /// flag next turn).
    pub(crate) fn poll(&self, wait: Duration) {
        if let Some(rb) = &self.ring {
            let _ = rb.poll(if self.perf.is_empty() { wait } else { wait / 2 });
        }
        for pb in &self.perf {
            let _ = pb.poll(if self.ring.is_some() {
                Duration::ZERO
            } else {
                wait / self.perf.len() as u32
            });
        }
        if self.ring.is_none() && self.perf.is_empty() {
            std::thread::sleep(wait);
        }
    }

    /// Hands every record already in the buffers to the sink, without waiting.
    pub(crate) fn consume(&self) {
        if let Some(rb) = &self.ring {
            let _ = rb.consume();
        }
        for pb in &self.perf {
            let _ = pb.consume();
        }
    }
}
