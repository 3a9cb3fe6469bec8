//! Histogram keys: coreship.h's `struct __coreship_hist_key_<map> { KEY key; __u32 slot; }`,
//! split into the user's key and the log2 slot.

use btf_rs::Type;

use super::object::next_id_of;
use super::{BtfError, DecodeError, Endian, Layout, ObjectBtf};

/// The user key type of `CORESHIP_HIST(map)`, which means "no key".
const NOKEY: &str = "coreship_nokey";

/// Number of log2 slots (`CORESHIP_HIST_SLOTS`): slot 0 and one per bit of a `u64`.
pub const HIST_SLOTS: usize = 65;

/// A histogram key struct, split into the user's key and the slot.
#[derive(Debug, Clone)]
pub struct HistKey {
    /// Plan for the user's key; `None` for `CORESHIP_HIST` (a single unnamed histogram).
    pub key: Option<Layout>,
    /// Byte offset of the user's key in the map key.
    pub key_offset: usize,
    /// Byte offset of the `__u32 slot` member.
    pub slot_offset: usize,
    /// Size of the whole map key.
    pub size: usize,
    type_name: String,
    endian: Endian,
}

impl HistKey {
    /// The log2 slot of a map key: 0 counts zeros, N counts values in `[2^(N-1), 2^N)`.
    /// Fails when the key is shorter than the key type, or when the slot is beyond
    /// [`HIST_SLOTS`], so a corrupt key cannot make the caller allocate huge vectors.
    pub fn slot(&self, data: &[u8]) -> Result<u32, DecodeError> {
        let bytes = match data.get(self.slot_offset..self.slot_offset + 4) {
            Some(&[a, b, c, d]) if data.len() >= self.size => [a, b, c, d],
            _ => {
                return Err(DecodeError::TooShort {
                    type_name: self.type_name.clone(),
                    expected: self.size,
                    actual: data.len(),
                })
            }
        };
        let slot = match self.endian {
            Endian::Little => u32::from_le_bytes(bytes),
            Endian::Big => u32::from_be_bytes(bytes),
        };
        match (slot as usize) < HIST_SLOTS {
            true => Ok(slot),
            false => Err(DecodeError::BadSlot { slot }),
        }
    }

    /// The user key's bytes within a map key, to group slots of one key and to decode
    /// with [`HistKey::key`]; empty for a histogram without key or a short map key.
    pub fn key_bytes<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let len = self.key.as_ref().map_or(0, Layout::size);
        data.get(self.key_offset..self.key_offset + len)
            .unwrap_or_default()
    }
}

impl ObjectBtf {
    /// Splits a histogram's key type (a hist [`Marker`](crate::Marker)'s `type_id`) into
    /// the user's key plan and the slot offset.
    pub fn hist_key(&self, key_type_id: u32) -> Result<HistKey, BtfError> {
        let not_key = |reason| BtfError::NotHistKey {
            type_name: self.type_name(key_type_id),
            reason,
        };
        let Type::Struct(s) = self.strip(key_type_id)?.1 else {
            return Err(not_key("not a struct"));
        };
        let member = |name: &str| s.members.iter().find(|m| self.name(*m) == name);
        let key = member("key").ok_or_else(|| not_key("no member `key`"))?;
        let slot = member("slot").ok_or_else(|| not_key("no member `slot`"))?;
        let byte_aligned =
            |m: &btf_rs::Member| m.bit_offset() & 7 == 0 && m.bitfield_size().unwrap_or(0) == 0;
        if !byte_aligned(key) || !byte_aligned(slot) {
            return Err(not_key("`key` or `slot` is a bitfield"));
        }
        let slot_offset = slot.bit_offset() as usize / 8;
        match self.strip(next_id_of(slot))?.1 {
            Type::Int(i) if i.size() == 4 && slot_offset + 4 <= s.size() => {}
            _ => return Err(not_key("`slot` is not a 4-byte integer")),
        }
        let key_id = next_id_of(key);
        let key_offset = key.bit_offset() as usize / 8;
        let key = match self.strip(key_id)?.1 {
            Type::Struct(k) if self.name(&k) == NOKEY => None,
            _ => Some(self.layout(key_id)?),
        };
        if key_offset + key.as_ref().map_or(0, Layout::size) > s.size() {
            return Err(not_key("`key` lies outside the struct"));
        }
        Ok(HistKey {
            key,
            key_offset,
            slot_offset,
            size: s.size(),
            type_name: self.type_name(key_type_id),
            endian: self.endian,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::BtfWriter;
    use super::super::Value;
    use super::*;

    #[test]
    fn splits_keyed_and_nokey_histograms() {
        let mut w = BtfWriter::new();
        let u32_ = w.int("unsigned int", 4, false);
        let td = w.typedef("__u32", u32_);
        let nokey = w.structure(NOKEY, 4, &[("none", td, 0, 0)]);
        let hk_nokey = w.structure(
            "__coreship_hist_key_lat",
            8,
            &[("key", nokey, 0, 0), ("slot", td, 32, 0)],
        );
        let user = w.structure("key", 4, &[("pid", td, 0, 0)]);
        let hk = w.structure(
            "__coreship_hist_key_bypid",
            8,
            &[("key", user, 0, 0), ("slot", td, 32, 0)],
        );
        let bad = w.structure("notakey", 4, &[("key", td, 0, 0)]);
        let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();

        let h = btf.hist_key(hk_nokey).unwrap();
        assert!(h.key.is_none());
        assert_eq!((h.slot_offset, h.size), (4, 8));
        assert_eq!(h.slot(&[0, 0, 0, 0, 11, 0, 0, 0]), Ok(11));
        assert_eq!(
            h.slot(&[0, 0, 0, 0, 65, 0, 0, 0]),
            Err(DecodeError::BadSlot { slot: 65 })
        );
        let err = h.slot(&[0; 7]).unwrap_err().to_string();
        assert_eq!(
            err,
            "record for `struct __coreship_hist_key_lat` is 7 bytes, expected at least 8"
        );
        assert_eq!(h.key_bytes(&[0; 8]), &[] as &[u8]);

        let h = btf.hist_key(hk).unwrap();
        let data = [42, 0, 0, 0, 3, 0, 0, 0];
        let key = h.key.as_ref().unwrap();
        let user = h.key_bytes(&data);
        assert_eq!(
            key.decode(user).unwrap(),
            Value::Struct(vec![("pid".into(), Value::Uint(42))])
        );
        assert_eq!(h.slot(&data), Ok(3));

        let err = btf.hist_key(bad).unwrap_err().to_string();
        assert_eq!(
            err,
            "`struct notakey` is not a coreship histogram key: no member `slot`"
        );
    }
}
