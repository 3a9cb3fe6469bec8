use super::*;

const STRINGS: &[u8] =
    b"\0int\0task_struct\0tgid\0real_parent\0comm\0state\0E_A\0E_B\0task_t\0loop\0tp/x\x000:1\0";

/// Offset of `name` in [`STRINGS`].
pub(crate) fn s(name: &str) -> u32 {
    let needle = [b"\0", name.as_bytes(), b"\0"].concat();
    let at = STRINGS
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    at as u32 + 1
}

fn ty(name_off: u32, kind: u32, vlen: u32, size_or_type: u32) -> Vec<u32> {
    vec![name_off, kind << 24 | vlen, size_or_type]
}

/// A little BTF with the shapes CO-RE paths go through:
/// ```text
/// [1] int   [2] struct task_struct { int tgid; struct task_struct *real_parent; int comm[4];
///                                     union { int state; }; }
/// [3] ptr -> 2   [4] int[4]   [5] union { int state; }   [6] enum state { E_A, E_B }
/// [7] typedef task_t -> 2   [8] const -> 7   [9] typedef loop -> 9
/// ```
pub(crate) fn btf() -> Btf {
    let types: Vec<u32> = [
        [ty(s("int"), 1, 0, 4), vec![1 << 24 | 32]].concat(),
        [
            ty(s("task_struct"), 4, 4, 40),
            vec![s("tgid"), 1, 0],
            vec![s("real_parent"), 3, 64],
            vec![s("comm"), 4, 128],
            vec![0, 5, 256],
        ]
        .concat(),
        ty(0, 2, 0, 2),
        [ty(0, 3, 0, 0), vec![1, 1, 4]].concat(),
        [ty(0, 5, 1, 4), vec![s("state"), 1, 0]].concat(),
        [ty(s("state"), 6, 2, 4), vec![s("E_A"), 0, s("E_B"), 1]].concat(),
        ty(s("task_t"), 8, 0, 2),
        ty(0, 10, 0, 7),
        ty(s("loop"), 8, 0, 9),
    ]
    .concat();
    let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = vec![0x9f, 0xeb, 1, 0];
    for w in [24, 0, type_bytes.len() as u32, type_bytes.len() as u32] {
        out.extend(w.to_le_bytes());
    }
    out.extend((STRINGS.len() as u32).to_le_bytes());
    out.extend(type_bytes);
    out.extend(STRINGS);
    Btf::from_bytes(&out).unwrap()
}

fn field(id: u32, access: &str) -> Result<String, SpecError> {
    resolve_access(&btf(), id, access, CoreReloKind::FieldByteOffset)
}

#[test]
fn member_paths_follow_struct_members() {
    assert_eq!(field(2, "0:1").unwrap(), "task_struct.real_parent");
    assert_eq!(field(2, "0:0").unwrap(), "task_struct.tgid");
    assert_eq!(field(2, "0").unwrap(), "task_struct");
}

#[test]
fn array_indices_and_root_index_are_shown() {
    assert_eq!(field(2, "0:2:3").unwrap(), "task_struct.comm[3]");
    assert_eq!(field(2, "1:0").unwrap(), "task_struct[1].tgid");
}

#[test]
fn anonymous_members_add_no_component() {
    assert_eq!(field(2, "0:3:0").unwrap(), "task_struct.state");
}

#[test]
fn typedef_roots_keep_their_name_and_are_followed() {
    assert_eq!(field(7, "0:0").unwrap(), "task_t.tgid");
    assert_eq!(field(8, "0:1").unwrap(), "const task_t.real_parent");
}

#[test]
fn bad_indices_are_errors() {
    assert!(matches!(
        field(2, "0:2:4"),
        Err(SpecError::OutOfRange {
            index: 4,
            count: 4,
            ..
        })
    ));
    assert!(matches!(
        field(2, "0:9"),
        Err(SpecError::OutOfRange { index: 9, .. })
    ));
    // Access strings cannot go through a pointer: libbpf emits one relocation per dereference.
    assert!(matches!(
        field(2, "0:1:0"),
        Err(SpecError::NotIndexable { .. })
    ));
    assert_eq!(field(99, "0:0"), Err(SpecError::NoType(99)));
    assert_eq!(field(9, "0:0"), Err(SpecError::Loop(9)));
    for bad in ["", "0:x", "0::1", ":0"] {
        assert_eq!(field(2, bad), Err(SpecError::Syntax(bad.into())), "{bad}");
    }
}

#[test]
fn enumerators_are_named() {
    let kind = CoreReloKind::EnumvalValue;
    assert_eq!(
        resolve_access(&btf(), 6, "1", kind).unwrap(),
        "enum state::E_B"
    );
    assert!(resolve_access(&btf(), 6, "2", kind).is_err());
    assert!(resolve_access(&btf(), 2, "0", kind).is_err());
}

#[test]
fn type_relocations_name_the_type() {
    let kind = CoreReloKind::TypeSize;
    assert_eq!(
        resolve_access(&btf(), 3, "0", kind).unwrap(),
        "struct task_struct *"
    );
    assert_eq!(resolve_access(&btf(), 4, "0", kind).unwrap(), "int[4]");
    assert!(matches!(
        resolve_access(&btf(), 2, "0:1", kind),
        Err(SpecError::TypeAccess(_))
    ));
}

#[test]
fn kinds_round_trip_their_names() {
    assert_eq!(CoreReloKind::from_raw(0).to_string(), "field_byte_offset");
    assert_eq!(CoreReloKind::from_raw(12).to_string(), "type_matches");
    assert_eq!(CoreReloKind::from_raw(42).to_string(), "unknown(42)");
    assert_eq!(
        serde_json::to_string(&CoreReloKind::from_raw(7)).unwrap(),
        "\"type_id_target\""
    );
}
