//! A tiny BTF writer for tests: builds raw `.BTF` bytes by hand, following the layout of
//! the kernel's include/uapi/linux/btf.h (a 24-byte header, `btf_type` records with their
//! kind-specific trailers, then the string section).

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_ENUM64: u32 = 19;

/// `BTF_INT_SIGNED`.
pub const INT_SIGNED: u32 = 1;
/// `BTF_INT_CHAR`.
pub const INT_CHAR: u32 = 2;
/// `BTF_INT_BOOL`.
pub const INT_BOOL: u32 = 4;

/// A struct or union member: name, type id, bit offset, bitfield size (0: not a bitfield).
pub type MemberSpec<'a> = (&'a str, u32, u32, u32);

/// Accumulates types and strings; ids are handed out in order, starting at 1.
pub struct BtfWriter {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
    big_endian: bool,
}

impl BtfWriter {
    /// A little-endian writer.
    pub fn new() -> Self {
        BtfWriter {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
            big_endian: false,
        }
    }

    /// A big-endian writer (as an s390x object's BTF).
    pub fn big_endian() -> Self {
        BtfWriter {
            big_endian: true,
            ..Self::new()
        }
    }

    fn word(&mut self, v: u32) {
        let b = match self.big_endian {
            true => v.to_be_bytes(),
            false => v.to_le_bytes(),
        };
        self.types.extend_from_slice(&b);
    }

    fn string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn header(
        &mut self,
        name: &str,
        kind: u32,
        vlen: u32,
        kind_flag: bool,
        size_or_type: u32,
    ) -> u32 {
        let name_off = self.string(name);
        self.word(name_off);
        self.word(vlen | (kind << 24) | (u32::from(kind_flag) << 31));
        self.word(size_or_type);
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// An integer type with explicit `BTF_INT_*` encoding bits.
    pub fn int_enc(&mut self, name: &str, size: u32, encoding: u32) -> u32 {
        let id = self.header(name, KIND_INT, 0, false, size);
        self.word((encoding << 24) | (size * 8));
        id
    }

    /// A plain integer type.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        self.int_enc(name, size, if signed { INT_SIGNED } else { 0 })
    }

    /// A floating-point type.
    pub fn float(&mut self, name: &str, size: u32) -> u32 {
        self.header(name, KIND_FLOAT, 0, false, size)
    }

    /// A pointer to `target` (0 for `void *`).
    pub fn ptr(&mut self, target: u32) -> u32 {
        self.header("", KIND_PTR, 0, false, target)
    }

    /// `elem[n]`.
    pub fn array(&mut self, elem: u32, n: u32) -> u32 {
        let id = self.header("", KIND_ARRAY, 0, false, 0);
        self.word(elem);
        self.word(elem); // index type: never read by the decoder
        self.word(n);
        id
    }

    fn aggregate(&mut self, kind: u32, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        let bitfields = members.iter().any(|m| m.3 != 0);
        let id = self.header(name, kind, members.len() as u32, bitfields, size);
        for &(mname, ty, bit_off, bits) in members {
            let off = self.string(mname);
            self.word(off);
            self.word(ty);
            self.word(match bitfields {
                true => (bits << 24) | bit_off,
                false => bit_off,
            });
        }
        id
    }

    /// A struct; bitfield members make it use `kind_flag` encoding.
    pub fn structure(&mut self, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        self.aggregate(KIND_STRUCT, name, size, members)
    }

    /// A union.
    pub fn union(&mut self, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        self.aggregate(KIND_UNION, name, size, members)
    }

    /// A 32-bit-valued enum (`BTF_KIND_ENUM`).
    pub fn enumeration(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        vals: &[(&str, i64)],
    ) -> u32 {
        let id = self.header(name, KIND_ENUM, vals.len() as u32, signed, size);
        for &(vname, v) in vals {
            let off = self.string(vname);
            self.word(off);
            self.word(v as u32);
        }
        id
    }

    /// A 64-bit-valued enum (`BTF_KIND_ENUM64`).
    pub fn enum64(&mut self, name: &str, size: u32, signed: bool, vals: &[(&str, i64)]) -> u32 {
        let id = self.header(name, KIND_ENUM64, vals.len() as u32, signed, size);
        for &(vname, v) in vals {
            let off = self.string(vname);
            self.word(off);
            self.word(v as u64 as u32);
            self.word((v as u64 >> 32) as u32);
        }
        id
    }

    /// A forward declaration of a struct.
    pub fn fwd(&mut self, name: &str) -> u32 {
        self.header(name, KIND_FWD, 0, false, 0)
    }

    /// `typedef target name`.
    pub fn typedef(&mut self, name: &str, target: u32) -> u32 {
        self.header(name, KIND_TYPEDEF, 0, false, target)
    }

    /// `const target`.
    pub fn konst(&mut self, target: u32) -> u32 {
        self.header("", KIND_CONST, 0, false, target)
    }

    /// `volatile target`.
    pub fn volatile(&mut self, target: u32) -> u32 {
        self.header("", KIND_VOLATILE, 0, false, target)
    }

    /// A global variable.
    pub fn var(&mut self, name: &str, ty: u32) -> u32 {
        let id = self.header(name, KIND_VAR, 0, false, ty);
        self.word(1); // BTF_VAR_GLOBAL_ALLOCATED
        id
    }

    /// A data section listing `(var id, offset, size)`.
    pub fn datasec(&mut self, name: &str, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.header(name, KIND_DATASEC, vars.len() as u32, false, 0);
        for &(v, off, size) in vars {
            self.word(v);
            self.word(off);
            self.word(size);
        }
        id
    }

    /// The raw BTF blob.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        let w32 = |out: &mut Vec<u8>, v: u32| match self.big_endian {
            true => out.extend_from_slice(&v.to_be_bytes()),
            false => out.extend_from_slice(&v.to_le_bytes()),
        };
        match self.big_endian {
            true => out.extend_from_slice(&0xeb9fu16.to_be_bytes()),
            false => out.extend_from_slice(&0xeb9fu16.to_le_bytes()),
        }
        out.push(1); // version
        out.push(0); // flags
        w32(&mut out, 24); // hdr_len
        w32(&mut out, 0); // type_off
        w32(&mut out, self.types.len() as u32);
        w32(&mut out, self.types.len() as u32); // str_off
        w32(&mut out, self.strings.len() as u32);
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// BTF for `struct exec_event` as bpf/execsnoop.h declares it, its id, and one record
/// (ts 2_234_567_000 ns, pid 4242, ppid 1, uid 1000, comm "bash", filename "/usr/bin/ls").
pub fn exec_event() -> (Vec<u8>, u32, Vec<u8>) {
    let mut w = BtfWriter::new();
    let ull = w.int("unsigned long long", 8, false);
    let u64_ = w.typedef("__u64", ull);
    let uint = w.int("unsigned int", 4, false);
    let u32_ = w.typedef("__u32", uint);
    let ch = w.int("char", 1, true);
    let comm = w.array(ch, 16);
    let filename = w.array(ch, 256);
    let id = w.structure(
        "exec_event",
        296,
        &[
            ("ts", u64_, 0, 0),
            ("pid", u32_, 64, 0),
            ("ppid", u32_, 96, 0),
            ("uid", u32_, 128, 0),
            ("comm", comm, 160, 0),
            ("filename", filename, 288, 0),
        ],
    );
    let mut data = vec![0u8; 296];
    data[0..8].copy_from_slice(&2_234_567_000u64.to_le_bytes());
    data[8..12].copy_from_slice(&4242u32.to_le_bytes());
    data[12..16].copy_from_slice(&1u32.to_le_bytes());
    data[16..20].copy_from_slice(&1000u32.to_le_bytes());
    data[20..24].copy_from_slice(b"bash");
    data[36..47].copy_from_slice(b"/usr/bin/ls");
    (w.finish(), id, data)
}

/// BTF for a struct exercising every kind of member, its id, and one record. Layout:
///
/// ```c
/// struct inner { __u16 port; short delta; };
/// enum state { IDLE = 0, RUNNING = 1, DEAD = 2 };
/// struct event {
///     __u64 ts;                 // 0
///     __u32 pid;                // 8
///     int ret;                  // 12
///     char comm[16];            // 16
///     struct inner in;          // 32
///     enum state st;            // 36
///     unsigned int a:3;         // 40, bits 0-2
///     int b:5;                  // bits 3-7
///     _Bool c:1;                // bit 8
///     bool ok;                  // 44
///     int arr[3];               // 48
///     void *ptr;                // 64
///     const volatile chained cv;// 72 (typedef chained -> my_u32 -> __u32)
///     __u8 raw[4];              // 76, bytes not a string (typedef'd element)
///     double d;                 // 80
/// };                            // 88
/// ```
pub fn every_kind() -> (Vec<u8>, u32, Vec<u8>) {
    let mut w = BtfWriter::new();
    let ull = w.int("unsigned long long", 8, false);
    let u64_ = w.typedef("__u64", ull);
    let uint = w.int("unsigned int", 4, false);
    let u32_ = w.typedef("__u32", uint);
    let int = w.int("int", 4, true);
    let ch = w.int("char", 1, true);
    let ushort = w.int("unsigned short", 2, false);
    let u16_ = w.typedef("__u16", ushort);
    let short = w.int("short", 2, true);
    let boolean = w.int_enc("_Bool", 1, INT_BOOL);
    let uchar = w.int("unsigned char", 1, false);
    let u8_ = w.typedef("__u8", uchar);
    let dbl = w.float("double", 8);
    let comm = w.array(ch, 16);
    let inner = w.structure("inner", 4, &[("port", u16_, 0, 0), ("delta", short, 16, 0)]);
    let st = w.enumeration(
        "state",
        4,
        false,
        &[("IDLE", 0), ("RUNNING", 1), ("DEAD", 2)],
    );
    let arr = w.array(int, 3);
    let vptr = w.ptr(0);
    let my_u32 = w.typedef("my_u32", u32_);
    let chained = w.typedef("chained", my_u32);
    let v = w.volatile(chained);
    let cv = w.konst(v);
    let raw = w.array(u8_, 4);
    let id = w.structure(
        "event",
        88,
        &[
            ("ts", u64_, 0, 0),
            ("pid", u32_, 64, 0),
            ("ret", int, 96, 0),
            ("comm", comm, 128, 0),
            ("in", inner, 256, 0),
            ("st", st, 288, 0),
            ("a", uint, 320, 3),
            ("b", int, 323, 5),
            ("c", boolean, 328, 1),
            ("ok", boolean, 352, 0),
            ("arr", arr, 384, 0),
            ("ptr", vptr, 512, 0),
            ("cv", cv, 576, 0),
            ("raw", raw, 608, 0),
            ("d", dbl, 640, 0),
        ],
    );
    let mut d = vec![0u8; 88];
    d[0..8].copy_from_slice(&3_500_000_000u64.to_le_bytes());
    d[8..12].copy_from_slice(&4242u32.to_le_bytes());
    d[12..16].copy_from_slice(&(-2i32).to_le_bytes());
    d[16..20].copy_from_slice(b"bash");
    d[32..34].copy_from_slice(&8080u16.to_le_bytes());
    d[34..36].copy_from_slice(&(-5i16).to_le_bytes());
    d[36..40].copy_from_slice(&1u32.to_le_bytes());
    // a = 5, b = -3 (0b11101), c = 1
    d[40..44].copy_from_slice(&(5u32 | (0b11101 << 3) | (1 << 8)).to_le_bytes());
    d[44] = 1;
    for (i, v) in [1i32, -1, 7].iter().enumerate() {
        d[48 + 4 * i..52 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    d[64..72].copy_from_slice(&0xffff_8880_1234_5678u64.to_le_bytes());
    d[72..76].copy_from_slice(&77u32.to_le_bytes());
    d[76..80].copy_from_slice(&[1, 2, 3, 4]);
    d[80..88].copy_from_slice(&1.5f64.to_le_bytes());
    (w.finish(), id, d)
}
