use super::*;

/// The `.BTF` section of a little-endian ELF64 object.
pub(crate) fn elf_btf(elf: &[u8]) -> &[u8] {
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    assert_eq!(&elf[..4], b"\x7fELF");
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(header(shstrndx) + 24);
    for i in 0..shnum {
        let h = header(i);
        let name_at = strtab + u32_at(h);
        let name_end = name_at + elf[name_at..].iter().position(|&b| b == 0).unwrap();
        if &elf[name_at..name_end] == b".BTF" {
            let (off, size) = (u64_at(h + 24), u64_at(h + 32));
            return &elf[off..off + size];
        }
    }
    panic!("no .BTF section");
}

const TYPES_OBJECT: &[u8] = include_bytes!("../../../fixtures/probes/btf_types.bpf.o");

fn types_btf() -> Btf {
    Btf::parse(elf_btf(TYPES_OBJECT)).expect("the fixture's BTF parses")
}

/// A `struct types_record` as the C compiler lays it out (fixtures/probes/btf_types.bpf.c).
fn types_record_bytes() -> Vec<u8> {
    let mut b = vec![0u8; 128];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &123_456_789u64.to_le_bytes());
    put(8, &(-5i8).to_le_bytes());
    put(10, &(-300i16).to_le_bytes());
    put(12, &(-70_000i32).to_le_bytes());
    put(16, &(-5_000_000_000i64).to_le_bytes());
    put(24, &[200]);
    put(26, &60_000u16.to_le_bytes());
    put(28, &4_000_000_000u32.to_le_bytes());
    put(32, &[1]);
    put(33, b"beefine\0");
    put(41, &[0xde, 0xad, 0xbe, 0xef]);
    put(48, &(-3i32).to_le_bytes());
    put(52, &1i16.to_le_bytes());
    put(54, &(-2i16).to_le_bytes());
    put(56, &3i16.to_le_bytes());
    put(58, &4i16.to_le_bytes());
    put(60, &7u32.to_le_bytes());
    put(64, &8u32.to_le_bytes());
    put(68, &0x0403_0201u32.to_le_bytes());
    put(72, &11u16.to_le_bytes());
    put(74, &12u16.to_le_bytes());
    // bf_a = 5 (bits 0-2), bf_b = 17 (bits 3-7), bf_c = -2 (bits 8-11), bf_color = GREEN.
    put(76, &[5 | (17 << 3), 0x0e | (2 << 4)]);
    put(80, &1.5f32.to_le_bytes());
    put(88, &(-2.25f64).to_le_bytes());
    for (i, v) in (0u32..6).enumerate() {
        put(96 + i * 4, &(v * 10).to_le_bytes());
    }
    put(120, &0xffff_8880_dead_beefu64.to_le_bytes());
    b
}

fn field<'a>(fields: &'a [(String, Value)], name: &str) -> &'a Value {
    &fields
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
        .1
}

#[test]
fn decodes_every_kind_of_field_from_clang_btf() {
    let btf = types_btf();
    let record = btf.record("types_record").unwrap();
    assert_eq!(record.size(), 128);
    let fields = record.decode(&types_record_bytes()).unwrap();
    let expect = [
        ("ts_nanos", Value::UInt(123_456_789)),
        ("s8", Value::Int(-5)),
        ("s16", Value::Int(-300)),
        ("s32", Value::Int(-70_000)),
        ("s64", Value::Int(-5_000_000_000)),
        ("u8", Value::UInt(200)),
        ("u16", Value::UInt(60_000)),
        ("u32", Value::UInt(4_000_000_000)),
        ("flag", Value::Bool(true)),
        ("name", Value::Str("beefine".into())),
        ("raw", Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])),
        (
            "color",
            Value::Enum {
                name: Some("DARK".into()),
                // clang 14 marks no enum signed (the BTF kind flag): the 32 bits unsigned,
                // as bpftool shows them.
                value: 0xffff_fffd,
            },
        ),
        (
            "points",
            Value::Array(vec![
                Value::Struct(vec![
                    ("x".into(), Value::Int(1)),
                    ("y".into(), Value::Int(-2)),
                ]),
                Value::Struct(vec![
                    ("x".into(), Value::Int(3)),
                    ("y".into(), Value::Int(4)),
                ]),
            ]),
        ),
        (
            "nested",
            Value::Struct(vec![
                ("inner_a".into(), Value::UInt(7)),
                ("inner_b".into(), Value::UInt(8)),
            ]),
        ),
        (
            "either",
            Value::Struct(vec![
                ("as_u32".into(), Value::UInt(0x0403_0201)),
                ("as_bytes".into(), Value::Bytes(vec![1, 2, 3, 4])),
            ]),
        ),
        ("anon_x", Value::UInt(11)),
        ("anon_y", Value::UInt(12)),
        ("bf_a", Value::UInt(5)),
        ("bf_b", Value::UInt(17)),
        ("bf_c", Value::Int(-2)),
        (
            "bf_color",
            Value::Enum {
                name: Some("GREEN".into()),
                value: 2,
            },
        ),
        ("f32", Value::Float(1.5)),
        ("f64", Value::Float(-2.25)),
        (
            "matrix",
            Value::Array(vec![
                Value::Array(vec![Value::UInt(0), Value::UInt(10), Value::UInt(20)]),
                Value::Array(vec![Value::UInt(30), Value::UInt(40), Value::UInt(50)]),
            ]),
        ),
        ("ptr", Value::Ptr(0xffff_8880_dead_beef)),
        ("tail", Value::Str(String::new())),
    ];
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    let expected_names: Vec<&str> = expect.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected_names);
    for (name, value) in expect {
        assert_eq!(field(&fields, name), &value, "field {name}");
    }
}

#[test]
fn the_marker_variable_names_the_record_type() {
    let btf = types_btf();
    assert_eq!(
        btf.record_named_by("beefine_record").as_deref(),
        Some("types_record")
    );
    assert_eq!(btf.record_named_by("no_such_variable"), None);
    // A typedef of a struct is a record type too.
    assert!(btf.has_record("point_t"));
    assert!(btf.has_record("point"));
    assert_eq!(
        btf.record("color").unwrap_err(),
        BtfError::NotARecord("color".into())
    );
    assert_eq!(
        btf.record("nothing").unwrap_err(),
        BtfError::NoSuchType("nothing".into())
    );
}

#[test]
fn top_level_fields_with_offsets_and_kinds() {
    let btf = types_btf();
    let fields = btf.record("types_record").unwrap().fields();
    let get = |name: &str| fields.iter().find(|f| f.name == name).unwrap().clone();
    assert_eq!(
        get("ts_nanos"),
        Field {
            name: "ts_nanos".into(),
            offset: 0,
            size: 8,
            kind: FieldKind::Unsigned
        }
    );
    assert_eq!(get("s32").kind, FieldKind::Signed);
    assert_eq!((get("s32").offset, get("s32").size), (12, 4));
    assert_eq!(
        (get("name").offset, get("name").size, get("name").kind),
        (33, 8, FieldKind::Chars)
    );
    assert_eq!(get("raw").kind, FieldKind::Other);
    assert_eq!(get("points").kind, FieldKind::Other);
    assert!(
        !fields.iter().any(|f| f.name.starts_with("bf_")),
        "bitfields are not fields with a byte offset"
    );
}

#[test]
fn extract_keeps_only_what_the_record_needs() {
    let btf = types_btf();
    let small = btf.extract("types_record").unwrap();
    assert!(small.len() < elf_btf(TYPES_OBJECT).len(), "{}", small.len());
    let again = Btf::parse(&small).unwrap();
    assert!(again.types.iter().all(|t| !matches!(
        t.kind,
        KIND_VAR | KIND_DATASEC | KIND_FUNC | KIND_FUNC_PROTO
    )));
    let bytes = types_record_bytes();
    assert_eq!(
        again
            .record("types_record")
            .unwrap()
            .decode(&bytes)
            .unwrap(),
        btf.record("types_record").unwrap().decode(&bytes).unwrap()
    );
    // Extracting what was extracted changes nothing.
    assert_eq!(again.extract("types_record").unwrap(), small);
}

#[test]
fn extracted_btf_is_valid_for_bpftool() {
    // bpftool reads raw BTF files; it is on every machine that records.
    let Ok(out) = std::process::Command::new("bpftool")
        .arg("version")
        .output()
    else {
        eprintln!(
            "bpftool is not installed: the check that bpftool reads extracted BTF is left out"
        );
        return;
    };
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("beefine-btf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("record.btf");
    std::fs::write(&path, types_btf().extract("types_record").unwrap()).unwrap();
    let out = std::process::Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(&path)
        .arg("format")
        .arg("c")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bpftool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("struct types_record {"), "{text}");
    assert!(text.contains("DARK = 4294967293"), "{text}");
}

#[test]
fn short_records_decode_the_fields_they_hold() {
    let btf = types_btf();
    let record = btf.record("types_record").unwrap();
    let bytes = types_record_bytes();
    // Up to the middle of `name`.
    let fields = record.decode(&bytes[..36]).unwrap();
    assert_eq!(field(&fields, "u32"), &Value::UInt(4_000_000_000));
    assert_eq!(field(&fields, "name"), &Value::Str("bee".into()));
    assert!(!fields.iter().any(|(n, _)| n == "raw"));
    assert_eq!(record.decode(&[]).unwrap(), Vec::new());
    // Longer records: the rest is ignored.
    let mut long = bytes.clone();
    long.extend_from_slice(&[0xaa; 64]);
    assert_eq!(
        field(&record.decode(&long).unwrap(), "ptr"),
        &Value::Ptr(0xffff_8880_dead_beef)
    );
}

#[test]
fn display_and_flatten() {
    let btf = types_btf();
    let fields = btf
        .record("types_record")
        .unwrap()
        .decode(&types_record_bytes())
        .unwrap();
    assert_eq!(field(&fields, "name").to_string(), "beefine");
    assert_eq!(field(&fields, "color").to_string(), "DARK");
    assert_eq!(field(&fields, "raw").to_string(), "deadbeef");
    assert_eq!(field(&fields, "ptr").to_string(), "0xffff8880deadbeef");
    assert_eq!(
        field(&fields, "points").to_string(),
        "[{x: 1, y: -2}, {x: 3, y: 4}]"
    );
    let flat = flatten(&fields);
    let get = |p: &str| flat.iter().find(|(n, _)| n == p).map(|(_, v)| v.clone());
    assert_eq!(get("points[1].y"), Some(Value::Int(4)));
    assert_eq!(get("nested.inner_b"), Some(Value::UInt(8)));
    assert_eq!(get("matrix[1][2]"), Some(Value::UInt(50)));
    assert_eq!(get("name"), Some(Value::Str("beefine".into())));
    assert_eq!(Value::Int(-1).as_u64(), None);
    assert_eq!(Value::UInt(7).as_i64(), Some(7));
    let nested = Value::Struct(vec![("s".into(), Value::Str("a\"b".into()))]);
    assert_eq!(nested.to_string(), r#"{s: "a\"b"}"#);
}

#[test]
fn decode_record_in_one_call() {
    let fields =
        decode_record(elf_btf(TYPES_OBJECT), "types_record", &types_record_bytes()).unwrap();
    assert_eq!(field(&fields, "s64"), &Value::Int(-5_000_000_000));
    assert_eq!(
        decode_record(b"not btf at all, not at all", "x", &[]).unwrap_err(),
        BtfError::BadMagic
    );
}

// ---- Hand-built BTF: what clang 14 does not emit, and hostile input ------------------------

#[derive(Default)]
struct Builder {
    types: Vec<Type>,
    strings: StringTable,
    big_endian: bool,
}

impl Builder {
    fn add(&mut self, name: &str, kind: u8, kind_flag: bool, size_type: u32, extra: Extra) -> u32 {
        let name = self.strings.add(name);
        self.types.push(Type {
            name,
            kind,
            kind_flag,
            vlen: 0,
            size_type,
            extra,
        });
        self.types.len() as u32
    }

    fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let enc = if signed { INT_SIGNED << 24 } else { 0 } | (size * 8);
        self.add(name, KIND_INT, false, size, Extra::Int(enc))
    }

    fn members(&mut self, names: &[(&str, u32, u32)]) -> Extra {
        Extra::Members(
            names
                .iter()
                .map(|&(n, type_id, offset)| Member {
                    name: self.strings.add(n),
                    type_id,
                    offset,
                })
                .collect(),
        )
    }

    fn bytes(self) -> Vec<u8> {
        let mut types = vec![Type::VOID];
        types.extend(self.types);
        Btf {
            types,
            strings: self.strings.bytes,
            little_endian: !self.big_endian,
        }
        .to_bytes()
    }
}

#[test]
fn enum64_and_big_endian() {
    for big_endian in [false, true] {
        let mut b = Builder {
            big_endian,
            ..Builder::default()
        };
        let u32_t = b.int("unsigned int", 4, false);
        let s16_t = b.int("short", 2, true);
        let huge = b.strings.add("HUGE");
        let e64 = b.add(
            "wide",
            KIND_ENUM64,
            false,
            8,
            Extra::Enum(vec![(huge, 0x1234_5678_9abc_def0)]),
        );
        let m = b.members(&[("a", u32_t, 0), ("b", s16_t, 32), ("w", e64, 64)]);
        b.add("rec", KIND_STRUCT, false, 16, m);
        let td = b.add("rec_t", KIND_TYPEDEF, false, 4, Extra::None);
        assert_eq!(td, 5);
        let blob = b.bytes();
        let mut rec = Vec::new();
        if big_endian {
            rec.extend_from_slice(&7u32.to_be_bytes());
            rec.extend_from_slice(&(-9i16).to_be_bytes());
            rec.extend_from_slice(&[0, 0]);
            rec.extend_from_slice(&0x1234_5678_9abc_def0u64.to_be_bytes());
        } else {
            rec.extend_from_slice(&7u32.to_le_bytes());
            rec.extend_from_slice(&(-9i16).to_le_bytes());
            rec.extend_from_slice(&[0, 0]);
            rec.extend_from_slice(&0x1234_5678_9abc_def0u64.to_le_bytes());
        }
        let btf = Btf::parse(&blob).unwrap();
        assert_eq!(btf.is_little_endian(), !big_endian);
        for name in ["rec", "rec_t"] {
            let fields = btf.record(name).unwrap().decode(&rec).unwrap();
            assert_eq!(
                fields,
                vec![
                    ("a".into(), Value::UInt(7)),
                    ("b".into(), Value::Int(-9)),
                    (
                        "w".into(),
                        Value::Enum {
                            name: Some("HUGE".into()),
                            value: 0x1234_5678_9abc_def0
                        }
                    ),
                ],
                "{name}, big endian: {big_endian}"
            );
        }
        assert_eq!(
            btf.enum_values("wide"),
            Some(vec![("HUGE".into(), 0x1234_5678_9abc_def0)])
        );
        // Re-encoding what was parsed gives the same bytes.
        assert_eq!(btf.to_bytes(), blob);
    }
}

#[test]
fn big_endian_bitfields() {
    let mut b = Builder {
        big_endian: true,
        ..Builder::default()
    };
    let u8_t = b.int("unsigned char", 1, false);
    let s8_t = b.int("signed char", 1, true);
    // Big-endian bit numbering starts at the most significant bit.
    let m = b.members(&[("hi", u8_t, 3 << 24), ("lo", s8_t, (5 << 24) | 3)]);
    b.add("bits", KIND_STRUCT, true, 1, m);
    let btf = Btf::parse(&b.bytes()).unwrap();
    let fields = btf.record("bits").unwrap().decode(&[0b101_11110]).unwrap();
    assert_eq!(
        fields,
        vec![("hi".into(), Value::UInt(5)), ("lo".into(), Value::Int(-2))]
    );
}

#[test]
fn self_referential_types_are_bounded() {
    // A typedef that names itself, and a struct that contains itself.
    let mut b = Builder::default();
    let loop_t = b.add("loop", KIND_TYPEDEF, false, 1, Extra::None);
    let m = b.members(&[("again", 2, 0), ("l", loop_t, 0)]);
    b.add("selfish", KIND_STRUCT, false, 8, m);
    let btf = Btf::parse(&b.bytes()).unwrap();
    let r = btf.record("selfish").unwrap().decode(&[0; 8]);
    assert_eq!(r.unwrap_err(), BtfError::TooDeep);
    assert!(btf.extract("selfish").is_ok());
}

#[test]
fn huge_arrays_are_bounded_by_the_record() {
    let mut b = Builder::default();
    let u32_t = b.int("unsigned int", 4, false);
    let arr = b.add(
        "",
        KIND_ARRAY,
        false,
        0,
        Extra::Array {
            elem: u32_t,
            index: u32_t,
            len: u32::MAX,
        },
    );
    let empty = b.add("empty", KIND_STRUCT, false, 0, Extra::Members(Vec::new()));
    let empties = b.add(
        "",
        KIND_ARRAY,
        false,
        0,
        Extra::Array {
            elem: empty,
            index: u32_t,
            len: u32::MAX,
        },
    );
    let m = b.members(&[("many", arr, 0), ("nothing", empties, 0)]);
    b.add("big", KIND_STRUCT, false, u32::MAX, m);
    let btf = Btf::parse(&b.bytes()).unwrap();
    let fields = btf.record("big").unwrap().decode(&[1; 64]).unwrap();
    let Value::Array(items) = field(&fields, "many") else {
        panic!("{fields:?}");
    };
    assert_eq!(items.len(), 16);
    assert_eq!(field(&fields, "nothing"), &Value::Array(Vec::new()));
    // More values than allowed: an error, not a huge allocation.
    assert_eq!(
        btf.record("big")
            .unwrap()
            .decode(&vec![0; 4 * MAX_VALUES + 64]),
        Err(BtfError::TooManyValues)
    );
}

#[test]
fn many_members_sharing_a_long_name_are_bounded() {
    // 65,535 members named by one 64 KiB name: 4 GiB of names if each were copied.
    let mut b = Builder::default();
    let u8_t = b.int("unsigned char", 1, false);
    let name = b.strings.add(&"n".repeat(64 << 10));
    let members = (0..65_535)
        .map(|_| Member {
            name,
            type_id: u8_t,
            offset: 0,
        })
        .collect();
    b.add("wide", KIND_STRUCT, false, 1, Extra::Members(members));
    let bytes = b.bytes();
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
    let started = std::time::Instant::now();
    let btf = Btf::parse(&bytes).unwrap();
    let record = btf.record("wide").unwrap();
    assert_eq!(record.decode(&[7]), Err(BtfError::TooLargeDecoded));
    // Top-level fields show their names cut short.
    let fields = record.fields();
    assert_eq!(fields.len(), 65_535);
    assert!(fields.iter().all(|f| f.name.len() == MAX_NAME_BYTES));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn flatten_is_bounded() {
    let deep = Value::Struct(
        (0..100_000)
            .map(|i| (format!("{}{i}", "x".repeat(200)), Value::UInt(1)))
            .collect(),
    );
    let flat = flatten(&[("top".into(), deep)]);
    let bytes: usize = flat.iter().map(|(p, _)| p.len()).sum();
    assert!(bytes <= MAX_FLATTENED_BYTES, "{bytes}");
    assert_eq!(flat.last().unwrap().0, "…");
}

/// xorshift64*: deterministic bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Decodes every struct of a BTF from random bytes: must not panic.
fn decode_everything(btf: &Btf, rng: &mut Rng) {
    for t in &btf.types {
        if matches!(t.kind, KIND_STRUCT | KIND_UNION) {
            let name = btf.name(t.name).to_owned();
            if let Ok(r) = btf.record(&name) {
                let len = rng.below(512);
                let _ = r.decode(&rng.bytes(len));
                let _ = r.fields();
                let _ = btf.extract(&name).map(|b| Btf::parse(&b).unwrap());
            }
        }
    }
    let _ = btf.record_named_by("beefine_record");
}

#[test]
fn random_bytes_are_not_btf() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..5000 {
        let len = rng.below(256);
        let mut data = rng.bytes(len);
        if i % 2 == 0 && data.len() >= 3 {
            // Valid magic and version, random everything else.
            data[..3].copy_from_slice(&[0x9f, 0xeb, 1]);
        }
        if let Ok(btf) = Btf::parse(&data) {
            decode_everything(&btf, &mut rng);
        }
    }
}

#[test]
fn damaged_btf_never_panics() {
    let good = elf_btf(TYPES_OBJECT).to_vec();
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let mut data = good.clone();
        match rng.below(4) {
            0 => data.truncate(rng.below(good.len())),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(data.len());
                    data[at] = rng.next() as u8;
                }
            }
            2 => {
                // Corrupt a whole word (type ids, sizes, offsets, counts).
                let at = (HEADER_LEN + rng.below(data.len() - HEADER_LEN - 4)) & !3;
                data[at..at + 4].copy_from_slice(&(rng.next() as u32).to_le_bytes());
            }
            _ => {
                let at = (HEADER_LEN + rng.below(data.len() - HEADER_LEN - 4)) & !3;
                let small = rng.below(64) as u32;
                data[at..at + 4].copy_from_slice(&small.to_le_bytes());
            }
        }
        if let Ok(btf) = Btf::parse(&data) {
            decode_everything(&btf, &mut rng);
        }
    }
}

#[test]
fn random_records_decode_without_panic() {
    let btf = types_btf();
    let record = btf.record("types_record").unwrap();
    let mut rng = Rng(7);
    for _ in 0..2000 {
        let len = rng.below(300);
        let fields = record.decode(&rng.bytes(len)).unwrap();
        let _ = flatten(&fields);
        for (_, v) in &fields {
            let _ = v.to_string();
        }
    }
}

#[test]
fn the_header_is_checked() {
    assert_eq!(Btf::parse(&[]).unwrap_err(), BtfError::BadMagic);
    assert!(matches!(
        Btf::parse(&[0x9f, 0xeb, 1]).unwrap_err(),
        BtfError::Malformed(_)
    ));
    let mut v2 = elf_btf(TYPES_OBJECT).to_vec();
    v2[2] = 2;
    assert!(matches!(
        Btf::parse(&v2).unwrap_err(),
        BtfError::Malformed(_)
    ));
    assert!(matches!(
        Btf::parse(&vec![0; MAX_BTF_BYTES + 1]).unwrap_err(),
        BtfError::TooLarge(_)
    ));
}
