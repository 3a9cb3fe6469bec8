//! The record of a pinned probe, kept beside bpffs (which holds only BPF objects): one JSON
//! file per pin name under the runtime directory, written atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::LoadError;

/// One program of a pinned probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedProgram {
    /// Program name.
    pub name: String,
    /// What it is attached to, e.g. `tracepoint sched/sched_process_exec`.
    pub target: String,
    /// Its link pins, relative to the pin directory (a perf_event program has one per CPU).
    pub links: Vec<String>,
}

/// What `run --pin` left in bpffs, and what is needed to read it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    /// The pin name (`stop NAME`): the last component of the pin directory.
    pub name: String,
    /// The probe (object or package) name.
    pub probe: String,
    /// `PROBE` as given to `run`.
    pub source: String,
    /// The artifact's digest, when it came from one.
    pub digest: Option<String>,
    /// sha256 of the object: re-attaching requires the same object, whose BTF decodes the maps.
    pub object_sha256: String,
    /// The pin directory in bpffs.
    pub dir: PathBuf,
    /// Attached programs and their link pins.
    pub programs: Vec<PinnedProgram>,
    /// Pinned maps (under `maps/` in the pin directory).
    pub maps: Vec<String>,
    /// When it was pinned, in seconds since the Unix epoch.
    pub since: u64,
    /// `--event MAP=TYPE` arguments, needed to decode its output again.
    pub events: Vec<String>,
    /// `--btf FILE`, when given.
    pub btf: Option<PathBuf>,
}

/// Where records live: `$CORESHIP_RUN_DIR`, else `/run/coreship` (a tmpfs, cleared at boot
/// like bpffs).
pub fn runtime_dir() -> PathBuf {
    std::env::var_os("CORESHIP_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/coreship"))
        .join("pins")
}

fn path_of(name: &str) -> PathBuf {
    runtime_dir().join(format!("{name}.json"))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    }
}

impl PinRecord {
    /// Writes the record (temp file + rename: a reader never sees half of it).
    pub fn write(&self) -> Result<(), LoadError> {
        let dir = runtime_dir();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = path_of(&self.name);
        let tmp = dir.join(format!(".{}.tmp", self.name));
        let json = serde_json::to_vec_pretty(self).expect("a record always serializes");
        std::fs::write(&tmp, json).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    /// The record of pin `name`, if there is one.
    pub fn read(name: &str) -> Result<Option<PinRecord>, LoadError> {
        let path = path_of(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LoadError::BadObject {
                path,
                what: format!("not a coreship pin record: {e}"),
            })
    }

    /// Every record, by name; unreadable ones are skipped.
    pub fn all() -> Vec<PinRecord> {
        let mut records: Vec<PinRecord> = std::fs::read_dir(runtime_dir())
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let name = name.strip_suffix(".json")?;
                        PinRecord::read(name).ok().flatten()
                    })
                    .collect()
            })
            .unwrap_or_default();
        records.sort_by(|a, b| a.name.cmp(&b.name));
        records
    }

    /// Removes the record of pin `name` (nothing if there is none).
    pub fn remove(name: &str) -> Result<(), LoadError> {
        let path = path_of(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&path)(e)),
            _ => Ok(()),
        }
    }

    /// Link and map pins the record names that are not in bpffs any more.
    pub fn missing_pins(&self) -> Vec<String> {
        self.programs
            .iter()
            .flat_map(|p| p.links.iter())
            .cloned()
            .chain(self.maps.iter().map(|m| map_pin(m)))
            .filter(|rel| !self.dir.join(rel).exists())
            .collect()
    }
}

/// The pin of map `name`, relative to the pin directory: `maps/NAME` with dots made
/// underscores (bpffs refuses names with dots, as libbpf's own pinning knows: `.rodata`).
pub fn map_pin(name: &str) -> String {
    format!("maps/{}", name.replace('.', "_"))
}

/// `2025-01-31T12:00:00Z` for seconds since the epoch (UTC).
pub fn utc(secs: u64) -> String {
    coreship_registry::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_738_324_800), "2025-01-31T12:00:00Z");
    }

    #[test]
    fn missing_pins_are_named_relative_to_the_pin_directory() {
        let dir = std::env::temp_dir().join(format!("coreship-pinrec-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("links")).unwrap();
        std::fs::write(dir.join("links/a"), "").unwrap();
        let r = PinRecord {
            name: "x".into(),
            probe: "x".into(),
            source: "x.bpf.o".into(),
            digest: None,
            object_sha256: String::new(),
            dir: dir.clone(),
            programs: vec![PinnedProgram {
                name: "a".into(),
                target: String::new(),
                links: vec!["links/a".into(), "links/b".into()],
            }],
            maps: vec!["events".into(), "x.rodata".into()],
            since: 0,
            events: vec![],
            btf: None,
        };
        assert_eq!(
            r.missing_pins(),
            ["links/b", "maps/events", "maps/x_rodata"]
        );
        let back: PinRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
