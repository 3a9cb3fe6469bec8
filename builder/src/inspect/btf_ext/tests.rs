use super::*;

/// Builds a little-endian `.BTF.ext` with the given func_info and core_relo blobs.
fn ext(hdr_len: u32, func_info: &[u32], core_relo: &[u32]) -> Vec<u8> {
    let words = |w: &[u32]| w.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let func = words(func_info);
    let core = words(core_relo);
    let mut out = vec![0x9f, 0xeb, 1, 0];
    out.extend(hdr_len.to_le_bytes());
    let mut header = vec![0, func.len() as u32, func.len() as u32, 0];
    if hdr_len >= 32 {
        header.extend([func.len() as u32, core.len() as u32]);
    }
    out.extend(words(&header));
    out.resize(hdr_len as usize, 0);
    out.extend(func);
    out.extend(core);
    out
}

const FUNC: [u32; 5] = [8, 7, 1, 0, 3];
/// Two relocations in the section named at string offset 7.
const CORE: [u32; 11] = [16, 7, 2, 24, 5, 12, 0, 32, 5, 17, 2];

#[test]
fn parses_core_relocations() {
    let parsed = BtfExt::parse(&ext(32, &FUNC, &CORE)).unwrap();
    assert_eq!(parsed.version, 1);
    assert_eq!(parsed.func_info_count, 1);
    assert_eq!(parsed.line_info_count, 0);
    assert_eq!(parsed.core_relos.len(), 1);
    let group = &parsed.core_relos[0];
    assert_eq!(group.sec_name_off, 7);
    assert_eq!(
        group.relos,
        vec![
            CoreReloRecord {
                insn_off: 24,
                type_id: 5,
                access_str_off: 12,
                kind: 0
            },
            CoreReloRecord {
                insn_off: 32,
                type_id: 5,
                access_str_off: 17,
                kind: 2
            },
        ]
    );
}

#[test]
fn big_endian_sections_parse() {
    let le = ext(32, &FUNC, &CORE);
    // Swap every u32 field (the header's u16 magic and two bytes swap as a unit too).
    let mut be: Vec<u8> = le.chunks(4).flat_map(|c| c.iter().rev().copied()).collect();
    be[..4].copy_from_slice(&[0xeb, 0x9f, 1, 0]);
    assert_eq!(
        BtfExt::parse(&be).unwrap(),
        BtfExt::parse(&le).unwrap(),
        "byte order must not change the result"
    );
}

#[test]
fn old_header_without_core_relo_fields_has_none() {
    let parsed = BtfExt::parse(&ext(24, &FUNC, &[])).unwrap();
    assert!(parsed.core_relos.is_empty());
}

#[test]
fn larger_records_are_skipped_past_their_known_fields() {
    // rec_size 20: each record carries one extra word a newer compiler might add.
    let core = [20, 7, 2, 24, 5, 12, 0, 0xdead, 32, 5, 17, 2, 0xbeef];
    let parsed = BtfExt::parse(&ext(32, &FUNC, &core)).unwrap();
    let relos = &parsed.core_relos[0].relos;
    assert_eq!(relos.len(), 2);
    assert_eq!((relos[1].insn_off, relos[1].kind), (32, 2));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let full = ext(32, &FUNC, &CORE);
    for len in 0..full.len() {
        assert!(BtfExt::parse(&full[..len]).is_err(), "len {len} parsed");
    }
}

#[test]
fn blob_offsets_beyond_the_section_are_reported() {
    let mut bytes = ext(32, &FUNC, &CORE);
    // core_relo_off := 1000.
    bytes[24..28].copy_from_slice(&1000u32.to_le_bytes());
    let err = BtfExt::parse(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            BtfExtError::OutOfRange {
                what: "core_relo",
                start: 1032,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("beyond the"), "{err}");
}

#[test]
fn record_counts_beyond_the_blob_are_reported() {
    let mut core = CORE;
    core[2] = 0x4000_0000; // num_info: far more records than bytes
    let err = BtfExt::parse(&ext(32, &FUNC, &core)).unwrap_err();
    assert!(matches!(err, BtfExtError::Truncated { .. }), "{err}");
}

#[test]
fn bad_record_sizes_and_magic_are_rejected() {
    let mut core = CORE;
    core[0] = 12;
    let err = BtfExt::parse(&ext(32, &FUNC, &core)).unwrap_err();
    assert_eq!(
        err,
        BtfExtError::BadRecordSize {
            what: "core_relo",
            size: 12,
            min: 16
        }
    );
    let mut bytes = ext(32, &FUNC, &CORE);
    bytes[0] = 0;
    assert!(matches!(
        BtfExt::parse(&bytes),
        Err(BtfExtError::BadMagic { .. })
    ));
    let mut short = ext(32, &FUNC, &CORE);
    short[4..8].copy_from_slice(&8u32.to_le_bytes());
    assert_eq!(
        BtfExt::parse(&short),
        Err(BtfExtError::ShortHeader { hdr_len: 8 })
    );
}

#[test]
fn empty_groups_are_rejected() {
    let core = [16, 7, 0];
    let err = BtfExt::parse(&ext(32, &FUNC, &core)).unwrap_err();
    assert!(matches!(err, BtfExtError::EmptyGroup { .. }), "{err}");
}
