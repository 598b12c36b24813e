//! Sealed values: AES-256-GCM with a random 96-bit nonce, stored as `nonce || ciphertext || tag`.
//!
//! [`seal_under_secret`] derives the key from a secret the caller holds (HKDF-SHA256), so only a holder of
//! that secret can open the value again: a rotated refresh token keeps its child this way, readable by the
//! client presenting the parent and by nobody who only reads the database.
//!
//! [`EncryptionKeys`] are the service's own keys, for what the service must read back itself (provider
//! tokens): the first key seals, every key opens, and each sealed value is stored with its key's id, so keys
//! rotate without downtime. A value is bound to where it is stored (the `context`, authenticated but not
//! encrypted), so a sealed value copied to another row or column does not open.
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use rand::RngCore;
use secrecy::ExposeSecret as _;
use sha2::Sha256;

use crate::config::env::{Env, Setting};
use crate::random::Random;

pub const ENCRYPTION_KEYS: Setting = Setting::new(
    "AUTH_ENCRYPTION_KEYS",
    None,
    "`<kid>:<base64 of 32 bytes>` entries, comma-separated: the first seals, every one opens (rotation); needed \
     to store provider tokens",
)
.secret();

pub const SETTINGS: &[&Setting] = &[&ENCRYPTION_KEYS];

const NONCE_BYTES: usize = 12;

/// A 256-bit key derived from `secret` for one purpose (`context`), so one secret never keys two uses.
fn derive_key(secret: &[u8], context: &[u8]) -> Key<Aes256Gcm> {
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail.
    let _ = Hkdf::<Sha256>::new(None, secret).expand(context, &mut key);
    key.into()
}

/// Encrypts `plaintext` under `key`, bound to `context`.
pub fn seal(key: &Key<Aes256Gcm>, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(key);
    // Encryption only fails for plaintexts beyond 64 GiB.
    let ciphertext = cipher.encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: context }).unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts what [`seal`] produced; `None` for a wrong key or context, or tampered bytes.
pub fn open(key: &Key<Aes256Gcm>, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    Aes256Gcm::new(key).decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: context }).ok()
}

/// The service's keys: the first seals, every one opens.
#[derive(Clone)]
pub struct EncryptionKeys {
    /// The sealing key (also the first of `keys`).
    current: (String, Key<Aes256Gcm>),
    keys: Vec<(String, Key<Aes256Gcm>)>,
}

impl fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("EncryptionKeys").field("key_ids", &ids).finish()
    }
}

/// A value sealed by [`EncryptionKeys::seal`], with the id of the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

impl EncryptionKeys {
    /// Parses `<kid>:<base64 of 32 bytes>,...`.
    pub fn parse(raw: &str) -> Result<EncryptionKeys, String> {
        let mut keys = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let (id, encoded) = entry.split_once(':').ok_or("each key is `<kid>:<base64 of 32 bytes>`")?;
            let id = id.trim();
            if id.is_empty() || keys.iter().any(|(existing, _): &(String, _)| existing == id) {
                return Err(format!("key id {id:?} is empty or used twice"));
            }
            let bytes = STANDARD.decode(encoded.trim()).map_err(|_| format!("key {id:?} is not base64"))?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| format!("key {id:?} must be 32 bytes"))?;
            keys.push((id.to_string(), Key::<Aes256Gcm>::from(bytes)));
        }
        let current = keys.first().cloned().ok_or("no key given")?;
        Ok(EncryptionKeys { current, keys })
    }

    /// The keys from the environment, `None` when none is configured.
    pub fn load(env: &mut Env) -> Option<EncryptionKeys> {
        let raw = env.secret(&ENCRYPTION_KEYS)?;
        match EncryptionKeys::parse(raw.expose_secret()) {
            Ok(keys) => {
                env.show(&ENCRYPTION_KEYS, format!("<redacted: keys {}>", keys.ids().join(", ")));
                Some(keys)
            }
            Err(problem) => {
                env.problem(&ENCRYPTION_KEYS, problem);
                None
            }
        }
    }

    /// A new single key, `<kid>:<base64>`, e.g. for a development setup.
    pub fn generate(id: &str, random: &Random) -> String {
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes);
        format!("{id}:{}", STANDARD.encode(bytes))
    }

    /// The key ids, the sealing one first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current.0
    }

    /// Seals `plaintext` with the first key, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> SealedValue {
        let (id, key) = &self.current;
        SealedValue { key_id: id.clone(), bytes: seal(key, plaintext, context) }
    }

    /// Opens a value sealed with any of the keys; `None` for an unknown key, another context or tampering.
    pub fn open(&self, key_id: &str, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let (_, key) = self.keys.iter().find(|(id, _)| id == key_id)?;
        open(key, sealed, context)
    }
}

/// Seals `plaintext` under a key derived from `secret` for `context`.
pub fn seal_under_secret(secret: &[u8], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    seal(&derive_key(secret, context), plaintext, context)
}

/// Opens what [`seal_under_secret`] sealed with the same secret and context.
pub fn open_under_secret(secret: &[u8], context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    open(&derive_key(secret, context), sealed, context)
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
    fn the_first_key_seals_every_key_opens_and_the_context_binds() {
        let random = Random::seeded(1);
        let old = EncryptionKeys::generate("old", &random);
        let new = EncryptionKeys::generate("new", &random);
        let before = EncryptionKeys::parse(&old).unwrap_or_else(|e| panic!("{e}"));
        let sealed = before.seal(b"token", b"user_providers:1:access");
        assert_eq!(sealed.key_id, "old");
        let rotated = EncryptionKeys::parse(&format!("{new},{old}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rotated.current_id(), "new");
        assert_eq!(rotated.open("old", &sealed.bytes, b"user_providers:1:access").as_deref(), Some(&b"token"[..]));
        assert_eq!(rotated.open("old", &sealed.bytes, b"user_providers:2:access"), None);
        assert_eq!(
            EncryptionKeys::parse(&new).unwrap_or_else(|e| panic!("{e}")).open("old", &sealed.bytes, b"x"),
            None
        );
        assert!(!format!("{rotated:?}").contains(&new[4..]));
        for bad in ["", "nokey", "a:notbase64!", "a:AAAA", &format!("{old},{old}")] {
            assert!(EncryptionKeys::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        assert_ne!(seal_under_secret(b"s", b"c", b"v"), seal_under_secret(b"s", b"c", b"v"));
    }
}
