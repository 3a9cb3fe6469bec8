//! End-to-end: biolatency sees this machine's disk I/O, and `--set per_disk=1` (a `const
//! volatile` global written before load) splits it per disk, named from sysfs.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use common::{bpf_available, object, Loader};

/// Bytes written per chunk, and chunks written: 4 MiB in 64 KiB writes, each followed by fsync.
const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 64;

/// A directory under /var/tmp (disk-backed, unlike a tmpfs /tmp), removed on drop.
struct DiskDir(PathBuf);

impl DiskDir {
    /// A fresh directory, or `None` (with the reason printed) when /var/tmp is not on a disk.
    fn new(tag: &str) -> Option<DiskDir> {
        let base = Path::new("/var/tmp");
        // SAFETY: an all-zero statfs is a valid out-buffer.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        let c = std::ffi::CString::new("/var/tmp").unwrap();
        // SAFETY: `c` is a NUL-terminated path and `st` a valid out-pointer.
        assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut st) }, 0, "statfs");
        const TMPFS_MAGIC: i64 = 0x0102_1994;
        const RAMFS_MAGIC: i64 = 0x8584_58f6;
        if [TMPFS_MAGIC, RAMFS_MAGIC].contains(&(st.f_type as i64)) {
            eprintln!("skipping: /var/tmp is in memory (tmpfs or ramfs), writes reach no disk");
            return None;
        }
        let p = base.join(format!("coreship-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Some(DiskDir(p))
    }
}

impl Drop for DiskDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A 4 KiB-aligned buffer, as O_DIRECT needs.
struct Aligned(*mut u8, std::alloc::Layout);

impl Aligned {
    fn new(len: usize) -> Aligned {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!p.is_null());
        Aligned(p, layout)
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `self.0` points at `self.1.size()` initialized (zeroed) bytes we own.
        unsafe { std::slice::from_raw_parts(self.0, self.1.size()) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.0, self.1) };
    }
}

/// Writes 4 MiB to `path` in 64 KiB chunks, fsync after each: with O_DIRECT when the
/// filesystem takes it, else through the page cache (fsync still sends every chunk to disk).
fn write_through(path: &Path) {
    let buf = Aligned::new(CHUNK);
    let open = |direct: bool| {
        let mut o = OpenOptions::new();
        o.write(true).create(true).truncate(true);
        if direct {
            o.custom_flags(libc::O_DIRECT);
        }
        o.open(path)
    };
    let write_all = |mut f: File| -> std::io::Result<()> {
        for _ in 0..CHUNKS {
            f.write_all(buf.bytes())?;
            f.sync_all()?;
        }
        Ok(())
    };
    let direct = open(true).and_then(write_all);
    if let Err(e) = direct {
        eprintln!("O_DIRECT refused ({e}); writing through the page cache with fsync");
        write_all(open(false).unwrap()).unwrap();
    }
}

/// The names of the disks requests for files on `st_dev` go to: the device itself, the disk
/// of a partition, and the disks under a device-mapper device.
fn disks_of(path: &Path) -> Vec<String> {
    let mut dev = std::fs::metadata(path).unwrap().dev();
    if libc::major(dev) == 0 {
        // btrfs and others report an anonymous st_dev: take the mount's source device.
        match mount_source(path) {
            Some(rdev) => dev = rdev,
            None => return Vec::new(),
        }
    }
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let mut names = Vec::new();
    if let Ok(sys) = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")) {
        collect_disks(&sys, &mut names);
    }
    names
}

fn collect_disks(sys: &Path, names: &mut Vec<String>) {
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    names.push(name(sys));
    if sys.join("partition").exists() {
        collect_disks(sys.parent().unwrap(), names);
    }
    for slave in std::fs::read_dir(sys.join("slaves")).into_iter().flatten() {
        let slave = std::fs::canonicalize(slave.unwrap().path()).unwrap();
        collect_disks(&slave, names);
    }
}

/// st_rdev of the `/dev/…` source of the mount holding `path`.
fn mount_source(path: &Path) -> Option<u64> {
    let path = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (_, source) = info
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(' ');
            let mount_point = fields.nth(4)?;
            let (_, after) = l.split_once(" - ")?;
            let source = after.split(' ').nth(1)?;
            path.starts_with(mount_point)
                .then(|| (mount_point.len(), source.to_string()))
        })
        .max()?;
    source
        .starts_with("/dev/")
        .then(|| std::fs::metadata(&source).ok().map(|m| m.rdev()))?
}

/// Sum of the counts of one JSON histogram line.
fn total(hist: &serde_json::Value) -> u64 {
    hist["hist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn biolatency_counts_every_write_to_this_disk() {
    if !bpf_available() {
        return;
    }
    let Some(dir) = DiskDir::new("biolatency") else {
        return;
    };
    let file = dir.0.join("data");
    let loader = Loader::start(&[object("biolatency").to_str().unwrap(), "--format", "json"]);
    write_through(&file);
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let json = done.json();
    let usecs = json
        .iter()
        .find(|h| h["map"] == "usecs")
        .unwrap_or_else(|| panic!("no usecs histogram:\n{}", done.stdout));
    assert!(usecs.get("key").is_none(), "{usecs}");
    assert!(total(usecs) >= CHUNKS as u64, "{usecs}");
    assert!(
        !json.iter().any(|h| h["map"] == "usecs_per_disk"),
        "per-disk histograms without --set per_disk=1:\n{}",
        done.stdout
    );
}

#[test]
fn biolatency_per_disk_names_the_disk_holding_the_file() {
    if !bpf_available() {
        return;
    }
    let Some(dir) = DiskDir::new("biolatency-per-disk") else {
        return;
    };
    let file = dir.0.join("data");
    let loader = Loader::start(&[
        object("biolatency").to_str().unwrap(),
        "--set",
        "per_disk=1",
        "--format",
        "json",
    ]);
    write_through(&file);
    let disks = disks_of(&file);
    let done = loader.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let json = done.json();
    assert!(
        !json.iter().any(|h| h["map"] == "usecs"),
        "per_disk=1 did not reach the kernel:\n{}",
        done.stdout
    );
    let per_disk: Vec<_> = json
        .iter()
        .filter(|h| h["map"] == "usecs_per_disk")
        .collect();
    for h in &per_disk {
        let dev = h["key"]["dev"].as_str().unwrap_or_else(|| panic!("{h}"));
        assert!(!dev.is_empty(), "{h}");
    }
    if disks.is_empty() {
        eprintln!(
            "cannot tell which disk holds {}: not checking its name",
            file.display()
        );
        return;
    }
    let mine: u64 = per_disk
        .iter()
        .filter(|h| disks.iter().any(|d| h["key"]["dev"] == d.as_str()))
        .map(|h| total(h))
        .sum();
    assert!(
        mine >= CHUNKS as u64,
        "{mine} requests seen on {disks:?}:\n{}",
        done.stdout
    );
}

#[test]
fn set_errors_name_the_variable_and_the_problem() {
    if !bpf_available() {
        return;
    }
    let obj = object("biolatency");
    let run = |set: &str| {
        let out = common::run_loader(&["run", obj.to_str().unwrap(), "--set", set]);
        assert!(!out.status.success(), "{set}: {}", out.stderr);
        out.stderr
    };
    let err = run("per_dsk=1");
    assert!(
        err.contains("no setting `per_dsk` in this probe (settings: per_disk)"),
        "{err}"
    );
    let err = run("per_disk=2");
    assert!(
        err.contains("value `2` for bool per_disk is not true, false, 1 or 0"),
        "{err}"
    );
    let err = run("per_disk");
    assert!(err.contains("`per_disk` is not NAME=VALUE"), "{err}");
}

#[test]
fn inspect_lists_the_per_disk_setting_with_its_default() {
    if !bpf_available() {
        return;
    }
    let obj = object("biolatency");
    let out = std::process::Command::new(common::bin("coreship"))
        .arg("inspect")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let settings = text
        .split("\nsettings:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no settings section:\n{text}"));
    let row: Vec<&str> = settings
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row, ["per_disk", "bool", ".rodata", "false"], "{text}");

    let out = std::process::Command::new(common::bin("coreship"))
        .args(["inspect", "--format", "json"])
        .arg(&obj)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["settings"],
        serde_json::json!([{"name": "per_disk", "section": ".rodata", "type": "bool", "default": false}])
    );
}
