//! Reproducible tar archives in memory: members in the order given, mode 0644, zero times
//! and owners.

use std::io::Read;

/// The header of a regular member of `size` bytes: mode 0644, zero time and owners.
pub(crate) fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// A tar of `members` (`(path, bytes)`).
pub(crate) fn write(members: &[(String, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes) in members {
        tar.append_data(&mut header(bytes.len() as u64), path, *bytes)
            .expect("writing to memory");
    }
    tar.into_inner().expect("writing to memory")
}

/// The regular members of a tar, `(path, bytes)`, at most `limit` bytes in all.
pub(crate) fn read(archive: &[u8], limit: u64) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(limit.saturating_sub(total) + 1)
            .read_to_end(&mut bytes)?;
        total += bytes.len() as u64;
        if total > limit {
            return Err(std::io::Error::other("archive larger than its limit"));
        }
        out.push((path, bytes));
    }
    Ok(out)
}
