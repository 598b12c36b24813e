//! Sealed values: AES-256-GCM with a random 96-bit nonce, stored as `nonce || ciphertext || tag`.
//!
//! [`seal_under_secret`] derives the key from a secret the caller holds (HKDF-SHA256), so only a holder of
//! that secret can open the value again: a rotated refresh token keeps its child this way, readable by the
//! client presenting the parent and by nobody who only reads the database.
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

const NONCE_BYTES: usize = 12;

/// A 256-bit key derived from `secret` for one purpose (`context`), so one secret never keys two uses.
fn derive_key(secret: &[u8], context: &[u8]) -> Key<Aes256Gcm> {
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail.
    let _ = Hkdf::<Sha256>::new(None, secret).expand(context, &mut key);
    key.into()
}

/// Encrypts `plaintext` under `key`.
pub fn seal(key: &Key<Aes256Gcm>, plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(key);
    // Encryption only fails for plaintexts beyond 64 GiB.
    let ciphertext = cipher.encrypt(&Nonce::from(nonce), plaintext).unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts what [`seal`] produced; `None` for a wrong key or tampered bytes.
pub fn open(key: &Key<Aes256Gcm>, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    Aes256Gcm::new(key).decrypt(&Nonce::from(nonce), ciphertext).ok()
}

/// Seals `plaintext` under a key derived from `secret` for `context`.
pub fn seal_under_secret(secret: &[u8], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    seal(&derive_key(secret, context), plaintext)
}

/// Opens what [`seal_under_secret`] sealed with the same secret and context.
pub fn open_under_secret(secret: &[u8], context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    open(&derive_key(secret, context), sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_and_context_open_a_sealed_value() {
        let sealed = seal_under_secret(b"parent", b"child", b"payload");
        assert_eq!(open_under_secret(b"parent", b"child", &sealed).as_deref(), Some(&b"payload"[..]));
        assert_eq!(open_under_secret(b"other", b"child", &sealed), None);
        assert_eq!(open_under_secret(b"parent", b"other", &sealed), None);
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open_under_secret(b"parent", b"child", &tampered), None);
        assert_eq!(open_under_secret(b"parent", b"child", b"short"), None);
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        assert_ne!(seal_under_secret(b"s", b"c", b"v"), seal_under_secret(b"s", b"c", b"v"));
    }
}
