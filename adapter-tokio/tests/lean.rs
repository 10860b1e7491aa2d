//! Issue #17, lean std builds: with `default-features = false` every adapter
//! is plain TCP, with no rustls, no ring or aws-lc (so no C compiler), no
//! WebSocket stack. Read from `cargo tree` (what Cargo would compile for
//! this host, build scripts' dependencies included, dev-dependencies not),
//! offline and from `Cargo.lock`, so no network is needed. The default
//! build must name rustls, ring, `cc` and tungstenite, or the lean check
//! would prove nothing. Also: each adapter's `native-roots` turns on its
//! own `tls`, as `sansmqtt`'s does.

use std::collections::BTreeMap;
use std::process::Command;

#[path = "../../mqtt-client/tests/support/cargo_tree.rs"]
mod cargo_tree;

/// The three adapters (they share this workspace, so one `cargo tree` per
/// build answers for any of them).
const ADAPTERS: [&str; 3] = ["sansmqtt-tokio", "sansmqtt-async-std", "sansmqtt-smol"];

/// Packages a plain-TCP build must not compile: the TLS stack and its
/// crypto providers, the C/C++ build helpers they need, the WebSocket stack.
fn is_heavy(name: &str) -> bool {
    name.starts_with("rustls")
        || name.starts_with("aws-lc")
        || name.contains("tungstenite")
        || matches!(
            name,
            "futures-rustls" | "ring" | "webpki-roots" | "cc" | "cmake"
        )
}

/// The packages of `package`'s build with `features` (after
/// `--no-default-features` when `lean`), each with its enabled features.
fn tree(package: &str, lean: bool, features: &[&str]) -> BTreeMap<String, Vec<String>> {
    let features = features.join(",");
    let mut args = vec!["-e", "normal,build"];
    if lean {
        args.push("--no-default-features");
    }
    if !features.is_empty() {
        args.extend(["--features", &features]);
    }
    cargo_tree::packages(package, &args).into_iter().collect()
}

fn heavy(packages: &BTreeMap<String, Vec<String>>) -> Vec<&str> {
    packages
        .keys()
        .map(String::as_str)
        .filter(|n| is_heavy(n))
        .collect()
}

#[test]
fn without_default_features_no_tls_no_c_compiler_no_websocket() {
    for adapter in ADAPTERS {
        let packages = tree(adapter, true, &[]);
        assert_eq!(
            heavy(&packages),
            Vec::<&str>::new(),
            "{adapter} with --no-default-features"
        );
        // The client is there, with none of its transport features.
        let client = &packages["sansmqtt"];
        for f in ["tls", "websocket", "native-roots"] {
            assert!(
                !client.contains(&f.to_owned()),
                "{adapter}: sansmqtt/{f} on"
            );
        }
    }
}

#[test]
fn payload_features_stay_lean() {
    // The codecs add serde_json / rmp-serde, nothing of TLS.
    for adapter in ADAPTERS {
        let packages = tree(adapter, true, &["payload", "msgpack"]);
        assert_eq!(heavy(&packages), Vec::<&str>::new(), "{adapter}");
        assert!(
            packages.contains_key("rmp-serde"),
            "{adapter}: no rmp-serde"
        );
    }
}

#[test]
fn default_build_has_tls_and_websocket() {
    for adapter in ADAPTERS {
        let packages = tree(adapter, false, &[]);
        for name in ["rustls", "ring", "cc", "tungstenite"] {
            assert!(
                packages.contains_key(name),
                "{adapter}'s default build lacks {name}: the lean check would be vacuous"
            );
        }
    }
}

#[test]
fn each_transport_feature_adds_only_its_stack() {
    for adapter in ADAPTERS {
        let ws = tree(adapter, true, &["websocket"]);
        assert!(ws.contains_key("tungstenite"), "{adapter}: websocket");
        assert!(
            !ws.contains_key("rustls"),
            "{adapter}: websocket has rustls"
        );
        let tls = tree(adapter, true, &["tls"]);
        assert!(tls.contains_key("rustls"), "{adapter}: tls");
        assert!(
            !tls.contains_key("tungstenite"),
            "{adapter}: tls has tungstenite"
        );
    }
}

#[test]
fn native_roots_implies_tls_in_every_adapter() {
    for adapter in ADAPTERS {
        let packages = tree(adapter, true, &["native-roots"]);
        let own = &packages[adapter];
        assert!(
            own.contains(&"tls".to_owned()),
            "{adapter}: native-roots without its own tls feature ({own:?})"
        );
        assert!(packages.contains_key("rustls-native-certs"), "{adapter}");
        assert!(packages.contains_key("rustls"), "{adapter}");
    }
}

/// Workspace members whose features `scripts/test` does not check one by
/// one, and why.
const NOT_CHECKED: [(&str, &str); 1] = [(
    "sansmqtt-bench",
    "its only feature, `paho`, builds the Paho C library with cmake",
)];

#[test]
fn scripts_test_checks_every_feature_of_every_crate() {
    // `scripts/test` names each crate's features on one `check_features`
    // line; a feature added to a Cargo.toml but not there would never be
    // built alone.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let script = std::fs::read_to_string(format!("{root}/scripts/test")).expect("scripts/test");
    let listed: BTreeMap<&str, Vec<&str>> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("check_features "))
        .map(|rest| {
            let mut words = rest.split_whitespace();
            (words.next().unwrap(), words.collect())
        })
        .collect();
    assert!(
        listed.contains_key("sansmqtt"),
        "no `check_features sansmqtt ...` line in scripts/test"
    );

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .args(["--manifest-path", &format!("{root}/Cargo.toml")])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    assert!(packages.len() >= 5, "{} workspace members", packages.len());
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let mut features: Vec<&str> = package["features"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|f| *f != "default")
            .collect();
        features.sort_unstable();
        if NOT_CHECKED.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if features.is_empty() && !listed.contains_key(name) {
            // Nothing to combine; the workspace clippy step builds it.
            continue;
        }
        let mut checked = listed
            .get(name)
            .unwrap_or_else(|| panic!("scripts/test has no `check_features {name} ...` line"))
            .clone();
        checked.sort_unstable();
        assert_eq!(
            checked, features,
            "`check_features {name} ...` in scripts/test must name exactly its features"
        );
    }
}
