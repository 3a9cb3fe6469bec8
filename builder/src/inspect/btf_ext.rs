//! A bounds-checked parser for the `.BTF.ext` section's CO-RE relocation records.
//!
//! Layout (libbpf `struct btf_ext_header`, all fields in the object's byte order):
//! ```text
//! u16 magic (0xeb9f)  u8 version  u8 flags  u32 hdr_len
//! u32 func_info_off  u32 func_info_len  u32 line_info_off  u32 line_info_len
//! u32 core_relo_off  u32 core_relo_len           (only when hdr_len covers them)
//! ```
//! Offsets count from the end of the header. Each info blob is a `u32` record size followed by
//! per-section groups `{u32 sec_name_off, u32 num_info, num_info records}`. A CO-RE record is
//! `{u32 insn_off, u32 type_id, u32 access_str_off, u32 kind}`; newer compilers may append
//! fields, so records larger than that are accepted and their tail skipped, as libbpf does.
//!
//! Nothing here panics on corrupt input: every read is checked against the section length.

const MAGIC: u16 = 0xeb9f;
/// Header size up to and including `line_info_len`.
const MIN_HDR_LEN: u32 = 24;
/// Header size including the CO-RE relocation fields.
const CORE_HDR_LEN: u32 = 32;
const CORE_RELO_SIZE: u32 = 16;
const FUNC_INFO_SIZE: u32 = 8;
const LINE_INFO_SIZE: u32 = 16;

/// Why a `.BTF.ext` section could not be parsed (messages leave naming the section to the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfExtError {
    /// The section ends before a field that must be there.
    #[error("{what} at byte {offset} needs {need} bytes, the section has {len}")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// How many bytes it needs.
        need: u64,
        /// Section length.
        len: usize,
    },
    /// The magic number is neither 0xeb9f nor byte-swapped 0x9feb.
    #[error("bad magic {found:#06x}, expected 0xeb9f")]
    BadMagic {
        /// The first two bytes, little-endian.
        found: u16,
    },
    /// `hdr_len` is smaller than the fields every version has.
    #[error("header length {hdr_len} is smaller than {MIN_HDR_LEN}")]
    ShortHeader {
        /// The header's `hdr_len`.
        hdr_len: u32,
    },
    /// An info blob named by the header lies outside the section.
    #[error("{what} at {start}..{end} is beyond the {len}-byte section")]
    OutOfRange {
        /// Which blob (`func_info`, `line_info`, `core_relo`).
        what: &'static str,
        /// Start offset within the section.
        start: u64,
        /// End offset within the section.
        end: u64,
        /// Section length.
        len: usize,
    },
    /// A blob's record size is smaller than its known record or not a multiple of 4.
    #[error("{what} record size {size} is invalid (at least {min}, a multiple of 4)")]
    BadRecordSize {
        /// Which blob.
        what: &'static str,
        /// The record size found.
        size: u32,
        /// The known record size.
        min: u32,
    },
    /// A per-section group declares zero records (libbpf rejects this too).
    #[error("{what} group at byte {offset} has no records")]
    EmptyGroup {
        /// Which blob.
        what: &'static str,
        /// Offset of the group within the section.
        offset: u64,
    },
}

/// The parsed `.BTF.ext` header and CO-RE relocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfExt {
    /// Format version (1 today).
    pub version: u8,
    /// Header flags (0 today).
    pub flags: u8,
    /// Number of func_info records, over all sections.
    pub func_info_count: usize,
    /// Number of line_info records, over all sections.
    pub line_info_count: usize,
    /// CO-RE relocations, grouped by program section.
    pub core_relos: Vec<CoreReloGroup>,
}

/// The CO-RE relocations of one ELF program section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreReloGroup {
    /// Offset of the section name in the `.BTF` string table.
    pub sec_name_off: u32,
    /// The relocation records, in file order.
    pub relos: Vec<CoreReloRecord>,
}

/// One `struct bpf_core_relo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreReloRecord {
    /// Byte offset of the instruction within the section.
    pub insn_off: u32,
    /// Local BTF id of the root type.
    pub type_id: u32,
    /// Offset of the access string (`"0:1:2"`) in the `.BTF` string table.
    pub access_str_off: u32,
    /// Relocation kind (`enum bpf_core_relo_kind`).
    pub kind: u32,
}

/// Bounds-checked reader over the section bytes in the section's byte order.
struct Reader<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn u32(&self, offset: u64, what: &'static str) -> Result<u32, BtfExtError> {
        let b = self.slice(offset, 4, what)?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn slice(&self, offset: u64, need: u64, what: &'static str) -> Result<&[u8], BtfExtError> {
        let truncated = BtfExtError::Truncated {
            what,
            offset,
            need,
            len: self.bytes.len(),
        };
        let start = usize::try_from(offset).map_err(|_| truncated.clone())?;
        let end = offset
            .checked_add(need)
            .and_then(|e| usize::try_from(e).ok())
            .ok_or(truncated.clone())?;
        self.bytes.get(start..end).ok_or(truncated)
    }
}

impl BtfExt {
    /// Parses a `.BTF.ext` section.
    pub fn parse(bytes: &[u8]) -> Result<BtfExt, BtfExtError> {
        let magic = bytes.get(..2).ok_or(BtfExtError::Truncated {
            what: "magic",
            offset: 0,
            need: 2,
            len: bytes.len(),
        })?;
        let big_endian = match u16::from_le_bytes([magic[0], magic[1]]) {
            MAGIC => false,
            m if m.swap_bytes() == MAGIC => true,
            found => return Err(BtfExtError::BadMagic { found }),
        };
        let r = Reader { bytes, big_endian };
        let fixed = r.slice(2, 2, "version and flags")?;
        let (version, flags) = (fixed[0], fixed[1]);
        let hdr_len = r.u32(4, "hdr_len")?;
        if hdr_len < MIN_HDR_LEN {
            return Err(BtfExtError::ShortHeader { hdr_len });
        }
        r.slice(0, u64::from(hdr_len), "header")?;
        let blob = |field: u64, what: &'static str, min| -> Result<Vec<Group>, BtfExtError> {
            let off = r.u32(field, what)?;
            let len = r.u32(field + 4, what)?;
            parse_blob(&r, u64::from(hdr_len) + u64::from(off), len, what, min)
        };
        let func_info = blob(8, "func_info", FUNC_INFO_SIZE)?;
        let line_info = blob(16, "line_info", LINE_INFO_SIZE)?;
        let core = if hdr_len >= CORE_HDR_LEN {
            blob(24, "core_relo", CORE_RELO_SIZE)?
        } else {
            Vec::new()
        };
        let core_relos = core
            .into_iter()
            .map(|g| {
                let relos = (0..g.num_info)
                    .map(|i| {
                        let at = g.records + u64::from(i) * u64::from(g.rec_size);
                        Ok(CoreReloRecord {
                            insn_off: r.u32(at, "core_relo insn_off")?,
                            type_id: r.u32(at + 4, "core_relo type_id")?,
                            access_str_off: r.u32(at + 8, "core_relo access_str_off")?,
                            kind: r.u32(at + 12, "core_relo kind")?,
                        })
                    })
                    .collect::<Result<_, BtfExtError>>()?;
                Ok(CoreReloGroup {
                    sec_name_off: g.sec_name_off,
                    relos,
                })
            })
            .collect::<Result<_, BtfExtError>>()?;
        let count = |gs: &[Group]| gs.iter().map(|g| g.num_info as usize).sum();
        Ok(BtfExt {
            version,
            flags,
            func_info_count: count(&func_info),
            line_info_count: count(&line_info),
            core_relos,
        })
    }
}

/// One per-section group of an info blob, located but not yet decoded.
struct Group {
    sec_name_off: u32,
    num_info: u32,
    rec_size: u32,
    /// Section offset of the first record.
    records: u64,
}

/// Walks the groups of the blob at `start..start+len`, checking every group fits.
fn parse_blob(
    r: &Reader<'_>,
    start: u64,
    len: u32,
    what: &'static str,
    min: u32,
) -> Result<Vec<Group>, BtfExtError> {
    let end = start + u64::from(len);
    if end > r.bytes.len() as u64 {
        return Err(BtfExtError::OutOfRange {
            what,
            start,
            end,
            len: r.bytes.len(),
        });
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    let rec_size = r.u32(start, what)?;
    if rec_size < min || rec_size % 4 != 0 {
        return Err(BtfExtError::BadRecordSize {
            what,
            size: rec_size,
            min,
        });
    }
    let mut groups = Vec::new();
    let mut at = start + 4;
    while at < end {
        // Both the group header and its records must lie inside this blob, not merely the section.
        let inner = Reader {
            bytes: r.bytes.get(..end as usize).unwrap_or_default(),
            big_endian: r.big_endian,
        };
        let sec_name_off = inner.u32(at, "info group section name")?;
        let num_info = inner.u32(at + 4, "info group record count")?;
        if num_info == 0 {
            return Err(BtfExtError::EmptyGroup { what, offset: at });
        }
        let size = u64::from(num_info) * u64::from(rec_size);
        inner.slice(at + 8, size, what)?;
        groups.push(Group {
            sec_name_off,
            num_info,
            rec_size,
            records: at + 8,
        });
        at += 8 + size;
    }
    Ok(groups)
}

#[cfg(test)]
mod tests;
