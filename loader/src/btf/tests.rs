//! Decoding tests over hand-written BTF (see `testutil`).

use super::testutil::{every_kind, exec_event, BtfWriter};
use super::{BtfError, DecodeError, ObjectBtf, Value};

fn layout_of((btf, id, data): (Vec<u8>, u32, Vec<u8>)) -> (super::Layout, Vec<u8>) {
    let btf = ObjectBtf::from_bytes(&btf).unwrap();
    (btf.layout(id).unwrap(), data)
}

#[test]
fn decodes_every_kind_of_member() {
    let (layout, data) = layout_of(every_kind());
    assert_eq!(layout.size(), 88);
    assert_eq!(layout.type_name(), "struct event");
    let v = layout.decode(&data).unwrap();
    let f = |name: &str| v.field(name).unwrap().clone();
    assert_eq!(f("ts"), Value::Timestamp { ns: 3_500_000_000 });
    assert_eq!(f("pid"), Value::Uint(4242));
    assert_eq!(f("ret"), Value::Int(-2));
    assert_eq!(f("comm"), Value::Str("bash".into()));
    assert_eq!(
        f("in"),
        Value::Struct(vec![
            ("port".into(), Value::Uint(8080)),
            ("delta".into(), Value::Int(-5))
        ])
    );
    assert_eq!(
        f("st"),
        Value::Enum {
            name: Some("RUNNING".into()),
            value: 1
        }
    );
    assert_eq!(f("a"), Value::Uint(5));
    assert_eq!(f("b"), Value::Int(-3));
    assert_eq!(f("c"), Value::Bool(true));
    assert_eq!(f("ok"), Value::Bool(true));
    assert_eq!(
        f("arr"),
        Value::Array(vec![Value::Int(1), Value::Int(-1), Value::Int(7)])
    );
    assert_eq!(f("ptr"), Value::Ptr(0xffff_8880_1234_5678));
    assert_eq!(f("cv"), Value::Uint(77));
    assert_eq!(
        f("raw"),
        Value::Array((1..=4).map(Value::Uint).collect()),
        "an array of a typedef'd byte type is not a string"
    );
    assert_eq!(f("d"), Value::Float(1.5));
}

#[test]
fn columns_flatten_nested_structs() {
    let (layout, _) = layout_of(every_kind());
    let names: Vec<&str> = layout.columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "ts", "pid", "ret", "comm", "in.port", "in.delta", "st", "a", "b", "c", "ok", "arr",
            "ptr", "cv", "raw", "d"
        ]
    );
    let (layout, _) = layout_of(exec_event());
    let names: Vec<&str> = layout.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["ts", "pid", "ppid", "uid", "comm", "filename"]);
    let comm = &layout.columns()[4];
    assert_eq!((comm.width(), comm.right_aligned()), (16, false));
    assert_eq!(
        (
            layout.columns()[1].width(),
            layout.columns()[1].right_aligned()
        ),
        (7, true)
    );
}

#[test]
fn unknown_enum_value_falls_back_to_the_number() {
    let (layout, mut data) = layout_of(every_kind());
    data[36..40].copy_from_slice(&9u32.to_le_bytes());
    let v = layout.decode(&data).unwrap();
    assert_eq!(
        v.field("st"),
        Some(&Value::Enum {
            name: None,
            value: 9
        })
    );
}

#[test]
fn short_record_is_an_error_naming_both_sizes() {
    let (layout, data) = layout_of(every_kind());
    let err = layout.decode(&data[..50]).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooShort {
            type_name: "struct event".into(),
            expected: 88,
            actual: 50
        }
    );
    assert_eq!(
        err.to_string(),
        "record for `struct event` is 50 bytes, expected at least 88"
    );
    // Longer records (padded perf samples) decode.
    let mut long = data.clone();
    long.extend_from_slice(&[0xff; 8]);
    assert_eq!(layout.decode(&long).unwrap(), layout.decode(&data).unwrap());
}

#[test]
fn signed_enum64_union_and_anonymous_members() {
    let mut w = BtfWriter::new();
    let uint = w.int("unsigned int", 4, false);
    let ch = w.int("char", 1, true);
    let flt = w.float("float", 4);
    let e64 = w.enum64("big", 8, true, &[("NEG", -5), ("HUGE", 1 << 40)]);
    let bytes = w.array(ch, 4);
    let un = w.union(
        "u",
        4,
        &[("i", uint, 0, 0), ("s", bytes, 0, 0), ("f", flt, 0, 0)],
    );
    let anon = w.union("", 4, &[("x", uint, 0, 0), ("y", flt, 0, 0)]);
    let s = w.structure(
        "s",
        16,
        &[("e", e64, 0, 0), ("u", un, 64, 0), ("", anon, 96, 0)],
    );
    let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
    let layout = btf.layout(s).unwrap();

    let mut data = Vec::new();
    data.extend_from_slice(&(-5i64).to_le_bytes());
    data.extend_from_slice(b"hi\0\0");
    data.extend_from_slice(&1.0f32.to_bits().to_le_bytes());
    let v = layout.decode(&data).unwrap();
    assert_eq!(
        v.field("e"),
        Some(&Value::Enum {
            name: Some("NEG".into()),
            value: -5
        })
    );
    let Some(Value::Struct(u)) = v.field("u") else {
        panic!("union decodes as a struct of all members: {v:?}")
    };
    assert_eq!(u[0], ("i".into(), Value::Uint(0x6968)));
    assert_eq!(u[1], ("s".into(), Value::Str("hi".into())));
    assert_eq!(v.field("x"), Some(&Value::Uint(1.0f32.to_bits().into())));
    assert_eq!(v.field("y"), Some(&Value::Float(1.0)));
    let names: Vec<&str> = layout.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["e", "u.i", "u.s", "u.f", "x", "y"]);
}

#[test]
fn big_endian_integers_and_bitfields() {
    let mut w = BtfWriter::big_endian();
    let uint = w.int("unsigned int", 4, false);
    let int = w.int("int", 4, true);
    let s = w.structure(
        "s",
        8,
        &[("n", uint, 0, 0), ("a", uint, 32, 3), ("b", int, 35, 5)],
    );
    let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
    assert_eq!(btf.endian(), super::Endian::Big);
    let layout = btf.layout(s).unwrap();
    // Big-endian bitfields fill from the most significant bit: a = 0b101, b = 0b11101.
    let data = [0, 0, 0x12, 0x34, 0b1011_1101, 0, 0, 0];
    let v = layout.decode(&data).unwrap();
    assert_eq!(v.field("n"), Some(&Value::Uint(0x1234)));
    assert_eq!(v.field("a"), Some(&Value::Uint(5)));
    assert_eq!(v.field("b"), Some(&Value::Int(-3)));
}

#[test]
fn only_8_byte_ints_named_like_timestamps_are_timestamps() {
    let mut w = BtfWriter::new();
    let uint = w.int("unsigned int", 4, false);
    let ll = w.int("long long", 8, true);
    let s = w.structure(
        "s",
        20,
        &[
            ("ts", uint, 0, 0),
            ("ts_ns", ll, 32, 0),
            ("timestamp_not", ll, 96, 0),
        ],
    );
    let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
    let v = btf.layout(s).unwrap().decode(&[0; 20]).unwrap();
    assert_eq!(v.field("ts"), Some(&Value::Uint(0)));
    assert_eq!(v.field("ts_ns"), Some(&Value::Timestamp { ns: 0 }));
    assert_eq!(v.field("timestamp_not"), Some(&Value::Int(0)));
}

#[test]
fn scalar_types_and_arrays_of_structs() {
    let mut w = BtfWriter::new();
    let uint = w.int("unsigned int", 4, false);
    let td = w.typedef("__u32", uint);
    let ch = w.int("char", 1, true);
    let cch = w.konst(ch);
    let names = w.array(cch, 4);
    let names2 = w.array(names, 2);
    let item = w.structure("item", 4, &[("n", td, 0, 0)]);
    let items = w.array(item, 2);
    let s = w.structure("s", 16, &[("names", names2, 0, 0), ("items", items, 64, 0)]);
    let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();

    let scalar = btf.layout(td).unwrap();
    assert_eq!(scalar.columns()[0].name(), "value");
    assert_eq!(scalar.decode(&[7, 0, 0, 0]).unwrap(), Value::Uint(7));

    let layout = btf.layout(s).unwrap();
    let names: Vec<&str> = layout.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["names", "items"]);
    let mut data = b"ab\0\0cd\0\0".to_vec();
    data.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    let v = layout.decode(&data).unwrap();
    assert_eq!(
        v.field("names"),
        Some(&Value::Array(vec![
            Value::Str("ab".into()),
            Value::Str("cd".into())
        ]))
    );
    let item = |n| Value::Struct(vec![("n".into(), Value::Uint(n))]);
    assert_eq!(
        v.field("items"),
        Some(&Value::Array(vec![item(1), item(2)]))
    );
}

#[test]
fn undecodable_members_are_named_in_errors() {
    let mut w = BtfWriter::new();
    let fwd = w.fwd("opaque");
    let s = w.structure("s", 8, &[("o", fwd, 0, 0)]);
    let uint = w.int("unsigned int", 4, false);
    let big = w.structure("big", 4, &[("x", uint, 32, 0)]);
    let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
    let err = btf.layout(s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot decode `struct s.o`: incomplete type (void or a forward declaration)"
    );
    let err = btf.layout(big).unwrap_err();
    assert!(matches!(err, BtfError::OutOfBounds { .. }), "{err}");
    assert!(matches!(
        btf.layout(999),
        Err(BtfError::TypeId { id: 999, .. })
    ));
}

/// Fuzzing (fuzz/corpus/decoder/zero-size-array): an array of 2^32-1 empty structs takes no
/// bytes, so a 4-byte record decoded into billions of values (out of memory).
#[test]
fn arrays_of_zero_sized_elements_are_bounded() {
    let mut w = BtfWriter::new();
    let empty = w.structure("e", 0, &[]);
    let huge = w.array(empty, u32::MAX);
    let s = w.structure("s", 4, &[("a", huge, 0, 0)]);
    let few = w.array(empty, 3);
    let ok = w.structure("t", 4, &[("a", few, 0, 0)]);
    let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
    let err = btf.layout(s).unwrap_err();
    assert!(matches!(err, BtfError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("values per record"), "{err}");
    let v = btf.layout(ok).unwrap().decode(&[0; 4]).unwrap();
    assert_eq!(
        v.field("a"),
        Some(&Value::Array(vec![Value::Struct(vec![]); 3]))
    );
}

/// Fuzzing (fuzz/corpus/decoder/overlap-blowup): members may overlap, so eight members of the
/// previous level's struct at offset 0, twenty levels deep, compiled into 8^20 nodes (hang).
#[test]
fn overlapping_members_cannot_blow_up_the_plan() {
    let mut w = BtfWriter::new();
    let mut ty = w.int("int", 4, true);
    for _ in 0..20 {
        let members = [("m", ty, 0, 0); 8];
        ty = w.structure("s", 4, &members);
    }
    let btf = ObjectBtf::from_bytes(&w.finish()).unwrap();
    let err = btf.layout(ty).unwrap_err();
    assert!(matches!(err, BtfError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("plan nodes"), "{err}");
}

#[test]
fn garbage_is_not_btf() {
    let err = ObjectBtf::from_bytes(b"not btf at all, not even close").unwrap_err();
    assert_eq!(err.to_string(), "cannot parse the object's BTF");
}
