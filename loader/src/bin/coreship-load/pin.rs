//! `run --pin`: pin a freshly loaded probe, or re-attach to one already pinned.

use std::path::{Path, PathBuf};

use anyhow::bail;
use coreship_loader::{
    object_sha256, pin_name, utc, EventOverride, PinRecord, ProbeSource, RunOpts, Session,
};

/// A session whose programs stay attached through pins in `dir`.
pub struct Pinned {
    pub session: Session,
    pub dir: PathBuf,
    /// Whether the pins were there already (nothing was loaded).
    pub reattached: bool,
}

/// Re-attaches to the probe pinned in `dir`, or loads `src`, pins it there and records it.
/// With `detach`, an existing pin is an error (there is nothing to do twice).
pub fn prepare(
    src: &ProbeSource,
    dir: &Path,
    digest: Option<String>,
    source: &str,
    events: Vec<String>,
    opts: &mut RunOpts,
    detach: bool,
) -> anyhow::Result<Pinned> {
    let name = pin_name(dir);
    let sha = object_sha256(&src.bytes);
    match PinRecord::read(&name)? {
        Some(r) if r.dir == dir && dir.exists() => {
            if detach {
                bail!(
                    "{name} is already pinned in {} (since {}): `coreship-load run {source} --pin {}` \
                     prints its output, `coreship-load stop {name}` removes it",
                    dir.display(),
                    utc(r.since),
                    dir.display()
                );
            }
            if r.object_sha256 != sha {
                bail!(
                    "{} holds {} pinned from another object ({}): `coreship-load stop {name}` first",
                    dir.display(),
                    r.probe,
                    r.source
                );
            }
            // The output needs the record types the pinning run was given.
            if opts.events.is_empty() {
                opts.events = r
                    .events
                    .iter()
                    .map(|e| e.parse::<EventOverride>())
                    .collect::<Result<_, _>>()?;
            }
            let session = Session::reopen(src, &r, &opts.load)?;
            return Ok(Pinned {
                session,
                dir: dir.to_path_buf(),
                reattached: true,
            });
        }
        Some(r) if r.dir != dir && r.dir.exists() => bail!(
            "the pin name {name} is taken by {}: pin in another directory, or `coreship-load stop {name}`",
            r.dir.display()
        ),
        // A record whose pins are gone (bpffs remounted): stale, replaced below.
        _ => {}
    }
    if dir.exists() && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty and holds no coreship record: `coreship-load stop {}` removes it",
            dir.display(),
            dir.display()
        );
    }
    let mut session = Session::start(src, &opts.load)?;
    let (programs, maps) = session.pin(dir)?;
    let record = PinRecord {
        name: name.clone(),
        probe: src.name.clone(),
        source: source.to_string(),
        digest,
        object_sha256: sha,
        dir: dir.to_path_buf(),
        programs,
        maps,
        since: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        events,
        btf: opts.load.btf.clone(),
    };
    if let Err(e) = record.write() {
        // Without its record the pin could not be listed or re-attached: undo it.
        let _ = coreship_loader::unpin(&dir.to_string_lossy());
        return Err(e.into());
    }
    if detach {
        for f in session.failures() {
            eprintln!("coreship-load: {}: skipped {f}", src.name);
        }
        eprintln!(
            "coreship-load: {}: pinned {} in {}; it runs with no process: `coreship-load ps` lists it, \
             `coreship-load run {source} --pin {}` prints its output, `coreship-load stop {name}` removes it",
            src.name,
            session.attached().join(", "),
            dir.display(),
            dir.display()
        );
    }
    Ok(Pinned {
        session,
        dir: dir.to_path_buf(),
        reattached: false,
    })
}
