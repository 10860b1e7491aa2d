//! Certificates made for one test with rcgen, written as PEM files into a
//! temporary directory (removed on drop): a CA, server certificates (valid
//! for `localhost` and 127.0.0.1, expired, for another host), a client
//! certificate, and a second CA nobody trusts.

#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

/// A certificate and its key, as PEM files.
pub struct Pair {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key: PathBuf,
}

/// The test PKI.
pub struct Pki {
    dir: PathBuf,
    /// The CA certificate (PEM file) that signed every certificate below
    /// but `untrusted`.
    pub ca: PathBuf,
    /// The CA certificate, as PEM text.
    pub ca_pem: String,
    /// Server certificate for `localhost` and 127.0.0.1.
    pub server: Pair,
    /// Server certificate for `localhost` and 127.0.0.1, expired in 2001.
    pub expired: Pair,
    /// Server certificate for `wrong.example` only.
    pub wrong_host: Pair,
    /// Client certificate (clientAuth) `CN=sansmqtt-test-client`.
    pub client: Pair,
    /// Another CA's certificate (PEM file): trusts nothing of the above.
    pub other_ca: PathBuf,
    /// A client certificate signed by the other CA.
    pub untrusted_client: Pair,
}

impl Pki {
    /// Makes every certificate and writes the files.
    pub fn new() -> Pki {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sansmqtt-pki-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the PKI directory");

        let (ca_pem, ca) = make_ca("sansmqtt test CA");
        let (other_pem, other) = make_ca("sansmqtt untrusted CA");
        let ca_path = write(&dir, "ca.pem", &ca_pem);
        let other_ca = write(&dir, "other-ca.pem", &other_pem);

        let server = leaf(
            &dir,
            "server",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
            |_| {},
        );
        let expired = leaf(
            &dir,
            "expired",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
            |p| {
                p.not_before = date_time_ymd(2000, 1, 1);
                p.not_after = date_time_ymd(2001, 1, 1);
            },
        );
        let wrong_host = leaf(
            &dir,
            "wrong-host",
            &["wrong.example"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
            |_| {},
        );
        let client = leaf(
            &dir,
            "client",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca,
            |p| {
                p.distinguished_name
                    .push(DnType::CommonName, "sansmqtt-test-client");
            },
        );
        let untrusted_client = leaf(
            &dir,
            "untrusted-client",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &other,
            |_| {},
        );
        Pki {
            dir,
            ca: ca_path,
            ca_pem,
            server,
            expired,
            wrong_host,
            client,
            other_ca,
            untrusted_client,
        }
    }

    /// The directory of the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// mosquitto listener lines serving `pair` on `port` (TLS), with
    /// `extra` lines after them (`require_certificate true`, `protocol
    /// websockets`).
    pub fn listener(&self, port: &str, pair: &Pair, extra: &str) -> String {
        format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n{extra}\n",
            self.ca.display(),
            pair.cert.display(),
            pair.key.display()
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write a PEM file");
    path
}

fn make_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(
    dir: &Path,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'static, KeyPair>,
    customize: impl FnOnce(&mut CertificateParams),
) -> Pair {
    let key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    customize(&mut params);
    let cert = params.signed_by(&key, issuer).expect("signed leaf");
    Pair {
        cert: write(dir, &format!("{name}.pem"), &cert.pem()),
        key: write(dir, &format!("{name}.key"), &key.serialize_pem()),
    }
}
