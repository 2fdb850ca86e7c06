//! Keys and certificates made by openssl at test time, signatures checked by openssl.

use std::path::Path;
use std::process::Command;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, fs};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use SignatureScheme::*;

const SUBJECT: &str = "-days 2 -subj /CN=localhost";
const RSA_SCHEMES: &[SignatureScheme] =
    &[RsaPssSha256, RsaPssSha384, RsaPssSha512, RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512];
const MESSAGE: &[u8] = b"TLS 1.3, server CertificateVerify\0and then some handshake hash";

/// A scratch directory where openssl makes and checks things.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Scratch(tempfile::tempdir().expect("a temporary directory"))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Runs `openssl` with `args` (split at spaces) here; whether it succeeded.
    fn try_openssl(&self, args: &str) -> bool {
        let output = Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(self.path())
            .output()
            .expect("openssl runs");
        output.status.success()
    }

    fn openssl(&self, args: &str) {
        assert!(self.try_openssl(args), "openssl {args} failed");
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path().join(name)).expect("openssl wrote the file")
    }

    fn write(&self, name: &str, contents: &[u8]) {
        fs::write(self.path().join(name), contents).expect("a writable scratch directory");
    }

    /// A key `{name}.key` with self-signed certificate `{name}.crt`, from `openssl req` making
    /// the key with `newkey` (e.g. "ec -pkeyopt ec_paramgen_curve:P-256").
    fn self_signed(&self, name: &str, newkey: &str) {
        self.openssl(&format!("req -x509 -newkey {newkey} -nodes -keyout {name}.key -out {name}.crt {SUBJECT}"));
    }

    /// A self-signed certificate `{name}.crt` for the existing key `{name}.key`.
    fn certify(&self, name: &str) {
        self.openssl(&format!("req -x509 -new -key {name}.key -out {name}.crt {SUBJECT}"));
    }

    fn load(&self, name: &str) -> Result<Key, KeyError> {
        Key::from_pem(name, &self.read(&format!("{name}.key")), &self.read(&format!("{name}.crt")))
    }

    /// `{name}.crt`'s public key, as `{name}.pub` (PEM) and `{name}.der`.
    fn public_key(&self, name: &str) {
        self.openssl(&format!("x509 -in {name}.crt -pubkey -noout -out {name}.pub"));
        self.openssl(&format!("pkey -pubin -in {name}.pub -outform DER -out {name}.der"));
    }

    /// Whether openssl accepts `signature` over `message` by `{name}.pub` under `scheme`.
    fn verifies(&self, name: &str, scheme: SignatureScheme, message: &[u8], signature: &[u8]) {
        self.write("msg", message);
        self.write("sig", signature);
        let pss = "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest";
        let command = match scheme {
            Ed25519 => format!("pkeyutl -verify -pubin -inkey {name}.pub -rawin -in msg -sigfile sig"),
            EcdsaP256Sha256 | RsaPkcs1Sha256 => format!("dgst -sha256 -verify {name}.pub -signature sig msg"),
            EcdsaP384Sha384 | RsaPkcs1Sha384 => format!("dgst -sha384 -verify {name}.pub -signature sig msg"),
            RsaPkcs1Sha512 => format!("dgst -sha512 -verify {name}.pub -signature sig msg"),
            RsaPssSha256 => format!("dgst -sha256 {pss} -verify {name}.pub -signature sig msg"),
            RsaPssSha384 => format!("dgst -sha384 {pss} -verify {name}.pub -signature sig msg"),
            RsaPssSha512 => format!("dgst -sha512 {pss} -verify {name}.pub -signature sig msg"),
        };
        assert!(self.try_openssl(&command), "openssl rejects the {scheme} signature: {command}");
        let mut forged = signature.to_vec();
        *forged.last_mut().expect("a signature") ^= 1;
        self.write("sig", &forged);
        assert!(!self.try_openssl(&command), "openssl accepts a forged {scheme} signature");
    }

    /// `sha256sum` of `{name}.der`, as openssl computes it.
    fn sha256_hex(&self, name: &str) -> String {
        self.openssl(&format!("dgst -sha256 -r -out {name}.sha {name}.der"));
        let line = String::from_utf8(self.read(&format!("{name}.sha"))).expect("hex");
        line.split_whitespace().next().expect("a digest").to_string()
    }
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([7; 32])
}

/// Loads `{name}`, checks what it says of itself, signs with every scheme it offers and has
/// openssl verify each signature, and refuses every other scheme.
fn signs_and_openssl_verifies(scratch: &Scratch, name: &str, algorithm: &str, schemes: &[SignatureScheme]) {
    let key = scratch.load(name).expect("the key loads");
    assert_eq!(key.name(), name);
    assert_eq!(key.algorithm(), algorithm);
    assert_eq!(key.schemes(), schemes);
    scratch.public_key(name);
    assert_eq!(key.fingerprint_hex(), scratch.sha256_hex(name));
    for scheme in SignatureScheme::ALL {
        let signature = key.sign(scheme, MESSAGE, &mut rng());
        if !schemes.contains(&scheme) {
            assert_eq!(signature, Err(SignError::UnsupportedScheme), "{name} signs {scheme}");
            continue;
        }
        let signature = signature.expect("the key signs");
        scratch.verifies(name, scheme, MESSAGE, &signature);
        let again = key.sign(scheme, MESSAGE, &mut rng()).expect("the key signs again");
        let randomized = key.sign(scheme, MESSAGE, &mut ChaCha20Rng::from_seed([8; 32]));
        let deterministic = !matches!(scheme, RsaPssSha256 | RsaPssSha384 | RsaPssSha512);
        assert_eq!(again, signature, "{scheme} with the same generator");
        assert_eq!(randomized.expect("the key signs") == signature, deterministic, "{scheme}");
    }
}

#[test]
fn p256_pkcs8() {
    let scratch = Scratch::new();
    scratch.self_signed("p256", "ec -pkeyopt ec_paramgen_curve:P-256");
    signs_and_openssl_verifies(&scratch, "p256", "ECDSA P-256", &[EcdsaP256Sha256]);
}

#[test]
fn p384_pkcs8() {
    let scratch = Scratch::new();
    scratch.self_signed("p384", "ec -pkeyopt ec_paramgen_curve:P-384");
    signs_and_openssl_verifies(&scratch, "p384", "ECDSA P-384", &[EcdsaP384Sha384]);
}

#[test]
fn ec_sec1_after_ec_parameters() {
    let scratch = Scratch::new();
    scratch.openssl("ecparam -name prime256v1 -genkey -out p256.key");
    scratch.openssl("ecparam -name secp384r1 -genkey -out p384.key");
    assert!(scratch.read("p256.key").starts_with(b"-----BEGIN EC PARAMETERS-----"));
    for name in ["p256", "p384"] {
        scratch.certify(name);
    }
    signs_and_openssl_verifies(&scratch, "p256", "ECDSA P-256", &[EcdsaP256Sha256]);
    signs_and_openssl_verifies(&scratch, "p384", "ECDSA P-384", &[EcdsaP384Sha384]);
}

#[test]
fn ed25519_pkcs8() {
    let scratch = Scratch::new();
    scratch.self_signed("ed", "ed25519");
    signs_and_openssl_verifies(&scratch, "ed", "Ed25519", &[Ed25519]);
}

#[test]
fn rsa_pkcs8() {
    let scratch = Scratch::new();
    scratch.self_signed("rsa", "rsa:2048");
    signs_and_openssl_verifies(&scratch, "rsa", "RSA 2048", RSA_SCHEMES);
}

#[test]
fn rsa_pkcs1() {
    let scratch = Scratch::new();
    scratch.openssl("genrsa -traditional -out rsa.key 3072");
    assert!(scratch.read("rsa.key").starts_with(b"-----BEGIN RSA PRIVATE KEY-----"));
    scratch.certify("rsa");
    signs_and_openssl_verifies(&scratch, "rsa", "RSA 3072", RSA_SCHEMES);
}

#[test]
fn a_certificate_of_another_key_is_refused() {
    let scratch = Scratch::new();
    scratch.self_signed("a", "ec -pkeyopt ec_paramgen_curve:P-256");
    scratch.self_signed("b", "ec -pkeyopt ec_paramgen_curve:P-256");
    scratch.self_signed("ed", "ed25519");
    for (key, certificate) in [("a", "b"), ("a", "ed"), ("ed", "a")] {
        let result =
            Key::from_pem(key, &scratch.read(&format!("{key}.key")), &scratch.read(&format!("{certificate}.crt")));
        assert_eq!(result.err(), Some(KeyError::CertificateMismatch), "{key} with {certificate}");
    }
    assert!(KeyError::CertificateMismatch.to_string().starts_with("the certificate does not belong to this key"));
}

#[test]
fn unsupported_keys_are_named() {
    let scratch = Scratch::new();
    scratch.self_signed("ok", "ec -pkeyopt ec_paramgen_curve:P-256");
    let chain = scratch.read("ok.crt");
    let cases = [
        ("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out k.pem", "ECDSA over secp521r1"),
        ("ecparam -name secp521r1 -genkey -noout -out k.pem", "ECDSA over secp521r1"),
        ("ecparam -name secp256k1 -genkey -noout -out k.pem", "ECDSA over secp256k1"),
        ("ecparam -name brainpoolP256r1 -genkey -noout -out k.pem", "ECDSA over the curve 1.3.36.3.3.2.8.1.1.7"),
        ("genpkey -algorithm X25519 -out k.pem", "X25519 (a key-agreement key)"),
        ("genpkey -algorithm ED448 -out k.pem", "Ed448"),
        ("genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out k.pem", "an RSA key restricted to RSA-PSS"),
    ];
    for (command, what) in cases {
        scratch.openssl(command);
        let error = Key::from_pem("k", &scratch.read("k.pem"), &chain).expect_err(command);
        assert_eq!(error, KeyError::UnsupportedKey(what.into()), "{command}");
    }
    assert_eq!(
        KeyError::UnsupportedKey("ECDSA over secp521r1".into()).to_string(),
        "ECDSA over secp521r1 is not supported; use P-256, P-384, Ed25519 or RSA 2048-8192"
    );
}

#[test]
fn small_rsa_and_encrypted_keys_are_refused() {
    let scratch = Scratch::new();
    scratch.self_signed("ok", "ec -pkeyopt ec_paramgen_curve:P-256");
    let chain = scratch.read("ok.crt");
    let cases = [
        ("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out k.pem", KeyError::RsaTooSmall { bits: 1024 }),
        ("genrsa -traditional -out k.pem 1536", KeyError::RsaTooSmall { bits: 1536 }),
        ("pkey -in ok.key -aes256 -passout pass:secret -out k.pem", KeyError::EncryptedKey),
        ("genrsa -traditional -aes256 -passout pass:secret -out k.pem 2048", KeyError::EncryptedKey),
    ];
    for (command, expected) in cases {
        scratch.openssl(command);
        let error = Key::from_pem("k", &scratch.read("k.pem"), &chain).expect_err(command);
        assert_eq!(error, expected, "{command}");
    }
}

#[test]
fn validity_window() {
    let scratch = Scratch::new();
    scratch.openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out old.key");
    scratch.openssl("req -new -key old.key -subj /CN=old -out old.csr");
    scratch.write("ca.cnf", b"[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n");
    scratch.write("index.txt", b"");
    scratch.write("serial", b"01\n");
    scratch.openssl("ca -batch -config ca.cnf -selfsign -keyfile old.key -in old.csr -out old.crt -notext -startdate 20200101000000Z -enddate 20200102000000Z");

    let key = scratch.load("old").expect("an expired certificate still loads");
    let (jan_1, jan_2) = (1_577_836_800, 1_577_923_200);
    assert_eq!((key.not_before(), key.not_after()), (jan_1, jan_2));
    assert_eq!(key.check_validity(jan_1), Ok(()));
    assert_eq!(key.check_validity(jan_2), Ok(()));
    assert_eq!(key.check_validity(jan_1 - 1), Err(KeyError::NotYetValid { not_before: jan_1 }));
    let expired = key.check_validity(now()).expect_err("expired in 2020");
    assert_eq!(expired, KeyError::Expired { not_after: jan_2 });
    assert_eq!(expired.to_string(), "the certificate expired at 2020-01-02T00:00:00Z; renew it");

    scratch.self_signed("new", "ec -pkeyopt ec_paramgen_curve:P-256");
    let key = scratch.load("new").expect("the key loads");
    assert_eq!(key.check_validity(now()), Ok(()));
    assert!((key.not_before() - now()).abs() < 3600);
    assert_eq!(key.not_after() - key.not_before(), 2 * 86400);
    assert!(matches!(key.check_validity(key.not_after() + 1), Err(KeyError::Expired { .. })));
}

fn now() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since_epoch.expect("after 1970").as_secs()).expect("before 2262")
}

#[test]
fn garbage_is_refused_without_panic() {
    let scratch = Scratch::new();
    scratch.self_signed("ok", "ec -pkeyopt ec_paramgen_curve:P-256");
    let (key, chain) = (scratch.read("ok.key"), scratch.read("ok.crt"));
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let bad_keys: [(&[u8], KeyError); 6] = [
        (b"", KeyError::NoKey),
        (&noise, KeyError::NoKey),
        (&chain, KeyError::NoKey),
        (b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", KeyError::MalformedKey),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", KeyError::MalformedKey),
        (&key[..key.len() / 2], KeyError::MalformedKey),
    ];
    for (bad, expected) in bad_keys {
        assert_eq!(Key::from_pem("k", bad, &chain).err(), Some(expected));
    }
    let bad_chains: [(&[u8], KeyError); 5] = [
        (b"", KeyError::NoCertificate),
        (&key, KeyError::NoCertificate),
        (&noise, KeyError::NoCertificate),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            KeyError::MalformedCertificate { position: 1 },
        ),
        (
            &[&chain[..], b"-----BEGIN CERTIFICATE-----\nMIIB\n"].concat(),
            KeyError::MalformedCertificate { position: 2 },
        ),
    ];
    for (bad, expected) in bad_chains {
        assert_eq!(Key::from_pem("k", &key, bad).err(), Some(expected));
    }
    for end in (0..key.len() - 1).step_by(5) {
        assert!(Key::from_pem("k", &key[..end], &chain).is_err());
    }
    for end in (0..chain.len() - 1).step_by(5) {
        assert!(Key::from_pem("k", &key, &chain[..end]).is_err());
    }
}

#[test]
fn chain_keeps_its_order_and_one_file_can_hold_key_and_chain() {
    let scratch = Scratch::new();
    scratch.self_signed("leaf", "ec -pkeyopt ec_paramgen_curve:P-256");
    scratch.self_signed("ca", "ed25519");
    let der = |name: &str| {
        scratch.openssl(&format!("x509 -in {name}.crt -outform DER -out {name}.cer"));
        scratch.read(&format!("{name}.cer"))
    };
    let bundle = [scratch.read("leaf.key"), scratch.read("leaf.crt"), scratch.read("ca.crt")].concat();
    let key = Key::from_pem("bundle", &bundle, &bundle).expect("the bundle loads");
    assert_eq!(key.certificate_chain(), [der("leaf"), der("ca")]);
}

#[test]
fn debug_shows_only_public_facts() {
    let scratch = Scratch::new();
    scratch.self_signed("web", "ec -pkeyopt ec_paramgen_curve:P-256");
    let key = scratch.load("web").expect("the key loads");
    let hex = key.fingerprint_hex();
    assert_eq!(hex.len(), 64);
    assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(
        format!("{key:?}"),
        format!("Key {{ name: \"web\", algorithm: \"ECDSA P-256\", fingerprint: \"{hex}\", .. }}")
    );
}

#[test]
fn scheme_names_round_trip() {
    let names: Vec<_> = SignatureScheme::ALL.iter().map(|scheme| scheme.name()).collect();
    for (scheme, name) in SignatureScheme::ALL.into_iter().zip(&names) {
        assert_eq!(SignatureScheme::from_name(name), Some(scheme));
        assert_eq!(scheme.to_string(), *name);
    }
    assert_eq!(EcdsaP256Sha256.name(), "ecdsa-p256-sha256");
    assert_eq!(SignatureScheme::from_name("ecdsa-p521-sha512"), None);
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
}
