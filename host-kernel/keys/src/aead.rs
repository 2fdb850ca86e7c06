//! Authenticated encryption for the TLS component's records (`morgana:crypto/aead`), run by
//! the host because WebAssembly has no AES or carry-less-multiply instructions: AES-128-GCM
//! in the component runs at about 1/130 of the host's speed (`benches/tls_crypto.py`).
//!
//! The keys are the caller's, given with every call; nothing is kept between calls.
//!
//! RustCrypto's `aes-gcm` and `chacha20poly1305` (well kept, no_std, constant time) rather
//! than ring: they build for the kernel's target, which ring's assembly does not. On a std
//! host they choose AES-NI/PCLMULQDQ or AVX2 at run time. On x86_64-unknown-none (soft-float)
//! LLVM cannot compile their SIMD backends, so the kernel's `.cargo/config.toml` selects the
//! portable ones with `aes_backend`/`polyval_backend`/`chacha20_backend`/`poly1305_backend =
//! "soft"` cfgs; there ChaCha20-Poly1305 is the fastest (about 3× software AES-GCM), and
//! [`fastest_first`] says so.

use alloc::vec::Vec;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;

/// The AEADs of TLS, each with a 12-byte nonce and a 16-byte tag appended to the ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// 16-byte key.
    Aes128Gcm,
    /// 32-byte key.
    Aes256Gcm,
    /// 32-byte key.
    ChaCha20Poly1305,
}

/// Why [`seal`] or [`open`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadError {
    /// The key or nonce has the wrong length for the algorithm.
    BadLength,
    /// The tag does not match: the input is not what was sealed under this key, nonce and aad.
    NotAuthentic,
}

/// The length of every algorithm's nonce.
pub const NONCE_LEN: usize = 12;
/// The length of every algorithm's tag.
pub const TAG_LEN: usize = 16;

/// The algorithms, fastest first on this machine: AES-GCM first where it runs on AES
/// instructions, ChaCha20-Poly1305 first where AES is software.
pub fn fastest_first() -> [Algorithm; 3] {
    use Algorithm::*;
    if aes_in_hardware() { [Aes128Gcm, Aes256Gcm, ChaCha20Poly1305] } else { [ChaCha20Poly1305, Aes128Gcm, Aes256Gcm] }
}

/// Whether `aes-gcm` runs on the CPU's AES and carry-less-multiply instructions here.
fn aes_in_hardware() -> bool {
    // The kernel (target_os = "none") builds the portable backends only; see the module doc.
    #[cfg(all(any(target_arch = "x86_64", target_arch = "x86"), not(target_os = "none")))]
    {
        cpufeatures::new!(aes_clmul, "aes", "pclmulqdq");
        aes_clmul::get()
    }
    #[cfg(not(all(any(target_arch = "x86_64", target_arch = "x86"), not(target_os = "none"))))]
    {
        false
    }
}

/// `plaintext` encrypted under `key` and `nonce`, authenticating it and `aad`, with the tag
/// appended.
pub fn seal(
    algorithm: Algorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let mut buffer = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buffer.extend_from_slice(plaintext);
    let nonce = <&[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| AeadError::BadLength)?;
    // Sealing fails only for inputs beyond 2^36 bytes, which no caller has.
    let sealed = match algorithm {
        Algorithm::Aes128Gcm => cipher::<Aes128Gcm>(key)?.encrypt_in_place(nonce.into(), aad, &mut buffer),
        Algorithm::Aes256Gcm => cipher::<Aes256Gcm>(key)?.encrypt_in_place(nonce.into(), aad, &mut buffer),
        Algorithm::ChaCha20Poly1305 => {
            cipher::<ChaCha20Poly1305>(key)?.encrypt_in_place(nonce.into(), aad, &mut buffer)
        }
    };
    sealed.map_err(|_| AeadError::BadLength)?;
    Ok(buffer)
}

/// The plaintext of `sealed` (ciphertext and tag), if it is authentic for `key`, `nonce` and
/// `aad`.
pub fn open(algorithm: Algorithm, key: &[u8], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
    let nonce = <&[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| AeadError::BadLength)?;
    let mut buffer = sealed.to_vec();
    let opened = match algorithm {
        Algorithm::Aes128Gcm => cipher::<Aes128Gcm>(key)?.decrypt_in_place(nonce.into(), aad, &mut buffer),
        Algorithm::Aes256Gcm => cipher::<Aes256Gcm>(key)?.decrypt_in_place(nonce.into(), aad, &mut buffer),
        Algorithm::ChaCha20Poly1305 => {
            cipher::<ChaCha20Poly1305>(key)?.decrypt_in_place(nonce.into(), aad, &mut buffer)
        }
    };
    opened.map_err(|_| AeadError::NotAuthentic)?;
    Ok(buffer)
}

fn cipher<C: KeyInit>(key: &[u8]) -> Result<C, AeadError> {
    C::new_from_slice(key).map_err(|_| AeadError::BadLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: alloc::string::String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn aes_128_gcm_matches_the_gcm_specification() {
        // Test case 2 of McGrew and Viega's GCM specification: zero key, nonce and block.
        let sealed = seal(Algorithm::Aes128Gcm, &[0; 16], &[0; 12], b"", &[0; 16]).unwrap();
        assert_eq!(sealed, hex("0388dace60b6a392f328c2b971b2fe78 ab6e47d42cec13bdf53a67b21257bddf"));
        assert_eq!(open(Algorithm::Aes128Gcm, &[0; 16], &[0; 12], b"", &sealed).unwrap(), [0; 16]);
    }

    #[test]
    fn chacha20_poly1305_matches_rfc_8439() {
        // RFC 8439, 2.8.2.
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let key: Vec<u8> = (0x80..=0x9f).collect();
        let nonce = hex("07000000 4041424344454647");
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let sealed = seal(Algorithm::ChaCha20Poly1305, &key, &nonce, &aad, plaintext).unwrap();
        assert_eq!(sealed.len(), plaintext.len() + TAG_LEN);
        assert_eq!(sealed[..16], hex("d31a8d34648e60db7b86afbc53ef7ec2"));
        assert_eq!(sealed[plaintext.len()..], hex("1ae10b594f09e26a7e902ecbd0600691"));
        assert_eq!(open(Algorithm::ChaCha20Poly1305, &key, &nonce, &aad, &sealed).unwrap(), plaintext);
    }

    #[test]
    fn every_algorithm_refuses_tampering_and_bad_lengths() {
        for algorithm in fastest_first() {
            let key = alloc::vec![7; if algorithm == Algorithm::Aes128Gcm { 16 } else { 32 }];
            let sealed = seal(algorithm, &key, &[1; 12], b"header", b"record").unwrap();
            assert_eq!(open(algorithm, &key, &[1; 12], b"header", &sealed).unwrap(), b"record");
            for at in 0..sealed.len() {
                let mut forged = sealed.clone();
                forged[at] ^= 1;
                assert_eq!(open(algorithm, &key, &[1; 12], b"header", &forged), Err(AeadError::NotAuthentic));
            }
            assert_eq!(open(algorithm, &key, &[1; 12], b"other", &sealed), Err(AeadError::NotAuthentic));
            assert_eq!(open(algorithm, &key, &[2; 12], b"header", &sealed), Err(AeadError::NotAuthentic));
            assert_eq!(
                open(algorithm, &key, &[1; 12], b"header", &sealed[..TAG_LEN - 1]),
                Err(AeadError::NotAuthentic)
            );
            assert_eq!(seal(algorithm, &key[1..], &[1; 12], b"", b""), Err(AeadError::BadLength));
            assert_eq!(seal(algorithm, &key, &[1; 8], b"", b""), Err(AeadError::BadLength));
            assert_eq!(open(algorithm, &key, &[1; 13], b"", &sealed), Err(AeadError::BadLength));
        }
    }
}
