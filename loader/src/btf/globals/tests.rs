use super::super::testutil::{BtfWriter, INT_BOOL};
use super::*;

/// BTF as clang emits it for:
///
/// ```c
/// const volatile bool per_disk = true;        // .rodata 0
/// const volatile __u8 targ_x = 7;             // .rodata 1
/// const volatile int min_us = -3;             // .rodata 4
/// const volatile char comm[8] = "bash";       // .rodata 8
/// const volatile enum mode m = M_B;           // .rodata 16 (enum mode { M_A = 1, M_B = 5 })
/// const volatile __u64 big = 0;               // .rodata 24
/// __u64 counter;                              // .data 0
/// struct pair pair;                           // .bss 0
/// ```
fn sample(big_endian: bool) -> ObjectBtf {
    let mut w = match big_endian {
        true => BtfWriter::big_endian(),
        false => BtfWriter::new(),
    };
    let bool_ = w.int_enc("_Bool", 1, INT_BOOL);
    let bool_td = w.typedef("bool", bool_);
    let uchar = w.int("unsigned char", 1, false);
    let u8_ = w.typedef("__u8", uchar);
    let int = w.int("int", 4, true);
    let ch = w.int("char", 1, true);
    let ull = w.int("unsigned long long", 8, false);
    let u64_ = w.typedef("__u64", ull);
    let mode = w.enumeration("mode", 4, false, &[("M_A", 1), ("M_B", 5)]);
    let pair = w.structure("pair", 8, &[("a", int, 0, 0), ("b", int, 32, 0)]);
    let cv = |w: &mut BtfWriter, t: u32| {
        let v = w.volatile(t);
        w.konst(v)
    };
    let per_disk_t = cv(&mut w, bool_td);
    let targ_x_t = cv(&mut w, u8_);
    let min_us_t = cv(&mut w, int);
    let cv_char = cv(&mut w, ch);
    let comm_t = w.array(cv_char, 8);
    let m_t = cv(&mut w, mode);
    let big_t = cv(&mut w, u64_);
    let vars = [
        ("per_disk", per_disk_t, 0, 1),
        ("targ_x", targ_x_t, 1, 1),
        ("min_us", min_us_t, 4, 4),
        ("comm", comm_t, 8, 8),
        ("m", m_t, 16, 4),
        ("big", big_t, 24, 8),
    ];
    let mut rodata = Vec::new();
    for (name, ty, off, size) in vars {
        let v = w.var(name, ty);
        rodata.push((v, off, size));
    }
    let counter = w.var("counter", u64_);
    let pair_v = w.var("pair", pair);
    w.datasec(".rodata", &rodata);
    w.datasec(".data", &[(counter, 0, 8)]);
    w.datasec(".bss", &[(pair_v, 0, 8)]);
    ObjectBtf::from_bytes(&w.finish()).unwrap()
}

fn setting(btf: &ObjectBtf, name: &str) -> Setting {
    btf.settings()
        .unwrap()
        .into_iter()
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn lists_every_data_section_variable_with_its_plain_type() {
    let btf = sample(false);
    let got: Vec<(String, String, usize, usize, String, bool)> = btf
        .settings()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.name().into(),
                s.section().into(),
                s.offset(),
                s.size(),
                s.type_name().into(),
                s.is_settable(),
            )
        })
        .collect();
    let want = [
        ("per_disk", ".rodata", 0, 1, "bool", true),
        ("targ_x", ".rodata", 1, 1, "__u8", true),
        ("min_us", ".rodata", 4, 4, "int", true),
        ("comm", ".rodata", 8, 8, "char[8]", true),
        ("m", ".rodata", 16, 4, "enum mode", true),
        ("big", ".rodata", 24, 8, "__u64", true),
        ("counter", ".data", 0, 8, "__u64", true),
        ("pair", ".bss", 0, 8, "struct pair", false),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|&(n, s, o, z, t, ok)| (n.into(), s.into(), o, z, t.into(), ok))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn integers_take_decimal_hex_and_sign_within_their_range() {
    let btf = sample(false);
    let x = setting(&btf, "targ_x");
    assert_eq!(x.encode("255").unwrap(), [255]);
    assert_eq!(x.encode("0x1f").unwrap(), [0x1f]);
    assert_eq!(
        x.encode("300").unwrap_err().to_string(),
        "value 300 does not fit __u8 targ_x"
    );
    assert_eq!(
        x.encode("-1").unwrap_err().to_string(),
        "value -1 does not fit __u8 targ_x"
    );
    assert_eq!(
        x.encode("ten").unwrap_err().to_string(),
        "value `ten` for __u8 targ_x is not a number (decimal or 0x hex)"
    );
    for bad in ["", "0x", "1.5", "--1", "0x-1"] {
        assert!(x.encode(bad).is_err(), "{bad:?}");
    }
    let min = setting(&btf, "min_us");
    assert_eq!(min.encode("-2").unwrap(), (-2i32).to_le_bytes());
    assert_eq!(min.encode("2147483647").unwrap(), i32::MAX.to_le_bytes());
    assert!(min.encode("2147483648").is_err());
    assert_eq!(min.encode("-2147483648").unwrap(), i32::MIN.to_le_bytes());
    let big = setting(&btf, "big");
    assert_eq!(
        big.encode("0xffffffffffffffff").unwrap(),
        u64::MAX.to_le_bytes()
    );
    assert!(big.encode("18446744073709551616").is_err());
}

#[test]
fn bools_enums_and_strings() {
    let btf = sample(false);
    let b = setting(&btf, "per_disk");
    assert_eq!(b.encode("true").unwrap(), [1]);
    assert_eq!(b.encode("0").unwrap(), [0]);
    assert_eq!(
        b.encode("yes").unwrap_err().to_string(),
        "value `yes` for bool per_disk is not true, false, 1 or 0"
    );
    let m = setting(&btf, "m");
    assert_eq!(m.encode("M_A").unwrap(), 1u32.to_le_bytes());
    assert_eq!(m.encode("7").unwrap(), 7u32.to_le_bytes());
    assert_eq!(
        m.encode("M_C").unwrap_err().to_string(),
        "value `M_C` for enum mode m is neither a variant (M_A, M_B) nor a number"
    );
    let c = setting(&btf, "comm");
    assert_eq!(c.encode("sh").unwrap(), b"sh\0\0\0\0\0\0");
    assert_eq!(c.encode("1234567").unwrap(), b"1234567\0");
    assert_eq!(
        c.encode("12345678").unwrap_err().to_string(),
        "value `12345678` is 8 bytes, char[8] comm holds at most 7 (and a NUL)"
    );
    assert_eq!(
        setting(&btf, "pair").encode("1").unwrap_err().to_string(),
        "struct pair pair cannot be set (only integers, bool, enums and char arrays can)"
    );
}

#[test]
fn big_endian_objects_get_big_endian_bytes() {
    let btf = sample(true);
    let min = setting(&btf, "min_us");
    assert_eq!(min.encode("-2").unwrap(), (-2i32).to_be_bytes());
    assert_eq!(
        min.read(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe]),
        Some(SettingValue::Int(-2))
    );
}

#[test]
fn reads_defaults_from_section_bytes() {
    let btf = sample(false);
    let mut rodata = vec![0u8; 32];
    rodata[0] = 1;
    rodata[1] = 7;
    rodata[4..8].copy_from_slice(&(-3i32).to_le_bytes());
    rodata[8..12].copy_from_slice(b"bash");
    rodata[16..20].copy_from_slice(&5u32.to_le_bytes());
    let read = |n: &str| setting(&btf, n).read(&rodata).unwrap().to_string();
    assert_eq!(read("per_disk"), "true");
    assert_eq!(read("targ_x"), "7");
    assert_eq!(read("min_us"), "-3");
    assert_eq!(read("comm"), "\"bash\"");
    assert_eq!(read("m"), "M_B");
    assert_eq!(read("big"), "0");
    assert_eq!(setting(&btf, "m").read(&rodata[..19]), None);
    assert_eq!(
        setting(&btf, "pair").read(&[1, 0, 0, 0, 2, 0, 0, 0]),
        Some(SettingValue::Bytes(vec![1, 0, 0, 0, 2, 0, 0, 0]))
    );
    // What encode writes, read gives back.
    let x = setting(&btf, "m");
    let mut sec = rodata.clone();
    sec[16..20].copy_from_slice(&x.encode("9").unwrap());
    assert_eq!(
        x.read(&sec),
        Some(SettingValue::Enum {
            name: None,
            value: 9
        })
    );
}

#[test]
fn unknown_names_list_the_settings() {
    let err = SettingError::Unknown {
        name: "per_dsk".into(),
        known: vec!["per_disk".into(), "min_us".into()],
    };
    assert_eq!(
        err.to_string(),
        "no setting `per_dsk` in this probe (settings: per_disk, min_us)"
    );
    let none = SettingError::Unknown {
        name: "x".into(),
        known: vec![],
    };
    assert_eq!(
        none.to_string(),
        "no setting `x` in this probe (it has no settings)"
    );
}
