//! `msgpack` with `use_bin_type = false` against msgpack-python, the
//! reference of distmqtt's peers: old MessagePack (before 2013) has one
//! `raw` family for bytes and text, fixraw / raw16 (`0xda`) / raw32
//! (`0xdb`), and no str8 (`0xd9`), which an old decoder cannot read.
//!
//! The constants below are msgpack-python's own output (PyPI
//! `msgpack` 1.2.4, `pip install msgpack`), produced by:
//!
//! ```text
//! import msgpack
//! for n in [0, 31, 32, 40, 255, 256, 65535, 65536]:
//!     for x in (b"a" * n, "a" * n):
//!         out = msgpack.packb(x, use_bin_type=False)
//!         print(out[:len(out) - n].hex())          # the header; then n bytes "a"
//! print(msgpack.packb(["c" * 32, "d" * 40, 1, -1, 300, None, True, 1.5], use_bin_type=False).hex())
//! print(msgpack.packb({"k" * 33: "v" * 40, "n": ["x" * 31, "y" * 32]}, use_bin_type=False).hex())
//! ```
//!
//! (bytes and str of the same length print the same header.) When
//! `python3 -c 'import msgpack'` works, `live_msgpack_python_agrees` also
//! runs Python and compares its output live; without it that test prints
//! a note and checks nothing more (the constants still do).

use std::process::Command;

use sansmqtt::payload::{Bytes, Codec, MsgPackCodec, Value};
use serde_json::json;

/// `(length, header)` of `packb(b"a" * length)` and `packb("a" * length)`
/// with `use_bin_type=False`.
const RAW_HEADERS: &[(usize, &str)] = &[
    (0, "a0"),
    (31, "bf"),
    (32, "da0020"),
    (40, "da0028"),
    (255, "da00ff"),
    (256, "da0100"),
    (65535, "daffff"),
    (65536, "db00010000"),
];

/// `packb(["c" * 32, "d" * 40, 1, -1, 300, None, True, 1.5], use_bin_type=False)`.
const NESTED_LIST: &str = "98da00206363636363636363636363636363636363636363636363636363636363636363da00286464646464646464646464646464646464646464646464646464646464646464646464646464646401ffcd012cc0c3cb3ff8000000000000";

/// `packb({"k" * 33: "v" * 40, "n": ["x" * 31, "y" * 32]}, use_bin_type=False)`.
const NESTED_MAP: &str = "82da00216b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6bda002876767676767676767676767676767676767676767676767676767676767676767676767676767676a16e92bf78787878787878787878787878787878787878787878787878787878787878da00207979797979797979797979797979797979797979797979797979797979797979";

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn old() -> MsgPackCodec {
    MsgPackCodec::with_bin_type(false)
}

fn nested_list() -> Value {
    Value::Data(json!([
        "c".repeat(32),
        "d".repeat(40),
        1,
        -1,
        300,
        null,
        true,
        1.5
    ]))
}

fn nested_map() -> Value {
    Value::Data(json!({"k".repeat(33): "v".repeat(40), "n": ["x".repeat(31), "y".repeat(32)]}))
}

/// Every case: msgpack-python's expression, our value, msgpack-python's
/// bytes (as captured).
fn cases() -> Vec<(String, Value, Vec<u8>)> {
    let mut cases = Vec::new();
    for &(len, header) in RAW_HEADERS {
        let mut wire = unhex(header);
        wire.extend(std::iter::repeat_n(b'a', len));
        cases.push((
            format!("b'a' * {len}"),
            Value::Bytes(Bytes::from(vec![b'a'; len])),
            wire.clone(),
        ));
        cases.push((format!("'a' * {len}"), Value::Text("a".repeat(len)), wire));
    }
    cases.push((
        "['c' * 32, 'd' * 40, 1, -1, 300, None, True, 1.5]".to_owned(),
        nested_list(),
        unhex(NESTED_LIST),
    ));
    cases.push((
        "{'k' * 33: 'v' * 40, 'n': ['x' * 31, 'y' * 32]}".to_owned(),
        nested_map(),
        unhex(NESTED_MAP),
    ));
    cases
}

#[test]
fn old_spec_encoding_is_msgpack_pythons_byte_for_byte() {
    for (expr, value, wire) in cases() {
        let out = old().encode(&value).expect("encode");
        assert!(
            out[..] == wire[..],
            "packb({expr}, use_bin_type=False): {} != {}",
            hex(&out[..out.len().min(12)]),
            hex(&wire[..wire.len().min(12)]),
        );
        // Never str8, never bin, at the top or nested.
        assert!(!matches!(out[0], 0xd9 | 0xc4..=0xc6), "{expr}");
    }
}

#[test]
fn typed_values_take_the_same_path() {
    // The typed calls encode through `encode_data`: the same bytes.
    let data = nested_list().into_data();
    assert!(data.is_array());
    let out = old().encode_data(data).expect("encode");
    assert_eq!(hex(&out), NESTED_LIST);
}

/// Decoding reads the raw family whatever `use_bin_type` says: valid UTF-8
/// is text, as `unpackb(..., raw=False)` (msgpack-python's default) gives
/// it; anything else is bytes, as `unpackb(..., raw=True)` gives it (where
/// `raw=False` raises `UnicodeDecodeError`).
#[test]
fn old_spec_decoding_gives_text_or_bytes_as_unpackb() {
    for codec in [old(), MsgPackCodec::new()] {
        for (expr, value, wire) in cases() {
            let decoded = codec.decode(&Bytes::from(wire)).expect("decode");
            let want = match value {
                // unpackb(raw=False): str for valid UTF-8.
                Value::Bytes(b) => Value::Text(String::from_utf8(b.to_vec()).unwrap()),
                other => other,
            };
            assert_eq!(decoded, want, "unpackb(packb({expr}))");
        }
        // raw16 and raw32 with bytes that are not UTF-8: bytes, as
        // unpackb(b"\xda\x00\x03\xffab", raw=True) == b"\xffab".
        for wire in [
            &b"\xda\x00\x03\xffab"[..],
            &b"\xdb\x00\x00\x00\x03\xffab"[..],
        ] {
            assert_eq!(
                codec.decode(&Bytes::copy_from_slice(wire)).expect("decode"),
                Value::Bytes(Bytes::from_static(b"\xffab"))
            );
        }
        // raw32 with text: unpackb(b"\xdb\x00\x00\x00\x03abc", raw=False) == "abc".
        assert_eq!(
            codec
                .decode(&Bytes::from_static(b"\xdb\x00\x00\x00\x03abc"))
                .expect("decode"),
            Value::from("abc")
        );
    }
}

/// Whether `python3` with the PyPI `msgpack` package is there.
fn python_msgpack() -> bool {
    Command::new("python3")
        .args(["-c", "import msgpack"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn live_msgpack_python_agrees() {
    if !python_msgpack() {
        println!(
            "note: python3 with the `msgpack` package is not installed (pip install msgpack): \
             live comparison skipped; the captured constants were checked"
        );
        return;
    }
    let cases = cases();
    let mut script = String::from("import msgpack\n");
    for (expr, _, _) in &cases {
        script.push_str(&format!(
            "print(msgpack.packb({expr}, use_bin_type=False).hex())\n"
        ));
    }
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("hex is ASCII");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((expr, value, captured), python) in cases.iter().zip(lines) {
        // Python today is what was captured, and what the codec writes.
        assert_eq!(python, hex(captured), "captured bytes of {expr}");
        let ours = old().encode(value).expect("encode");
        assert_eq!(hex(&ours), python, "packb({expr}, use_bin_type=False)");
    }
}
