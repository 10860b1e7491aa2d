//! The crates for targets without `std` (issue #17): `sansmqtt-proto`,
//! `sansmqtt-session` and `sansmqtt-embedded` are `#![no_std]` with
//! `alloc` (so a `std::` path in them is a compile error whatever the
//! features), and without their default `std` feature no dependency of
//! theirs is built with `std` either. `scripts/test` builds them that way;
//! this test reads the features cargo resolves for such a build (normal
//! dependencies; procedural macros run on the host, and dev-dependencies,
//! such as embassy-time's std driver for the embedded tests, are the
//! host's too).

#[path = "../../mqtt-client/tests/support/cargo_tree.rs"]
mod cargo_tree;

/// The crates of `package`'s normal tree built with their `std` feature,
/// with `args` (e.g. `--no-default-features`); fails unless every crate of
/// `expected` is in the tree (so an empty answer is not a misread tree).
fn built_with_std(package: &str, args: &[&str], expected: &[&str]) -> Vec<String> {
    let tree = cargo_tree::packages(package, &[&["-e", "normal,no-proc-macro"], args].concat());
    for name in expected {
        assert!(
            tree.iter().any(|(n, _)| n == name),
            "{name} missing from {package}'s tree: {tree:?}"
        );
    }
    let mut names: Vec<String> = tree
        .into_iter()
        .filter(|(_, features)| features.iter().any(|f| f == "std"))
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Without default features nothing is built with `std`; with them
/// `witness` is (so the check can fail).
fn assert_no_std_anywhere(package: &str, expected: &[&str], witness: &str) {
    assert_eq!(
        built_with_std(package, &["--no-default-features"], expected),
        Vec::<String>::new(),
        "{package} without default features builds these crates with `std`"
    );
    assert!(
        built_with_std(package, &[], expected).contains(&witness.to_owned()),
        "{package}'s default build should enable {witness}/std"
    );
}

#[test]
fn proto_without_std_builds_no_dependency_with_std() {
    assert_no_std_anywhere("sansmqtt-proto", &["bytes", "nom"], "bytes");
}

#[test]
fn session_without_std_builds_no_dependency_with_std() {
    assert_no_std_anywhere("sansmqtt-session", &["bytes", "sansmqtt-proto"], "bytes");
}

#[test]
fn embedded_without_std_builds_no_dependency_with_std() {
    assert_no_std_anywhere(
        "sansmqtt-embedded",
        &[
            "embassy-time",
            "embassy-sync",
            "embedded-io-async",
            "sansmqtt-session",
        ],
        "sansmqtt-session",
    );
}
