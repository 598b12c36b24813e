//! Adopting a deployment of nself's OAuth handler service: the half SQL cannot do.
//!
//! Before the migrations run, nself's tables leave schema `auth` (two of their names are hauth's own), and
//! migration V10 turns their rows into hauth's: identities become links in `auth.user_providers`, marked as
//! needing a new sign-in, and their tokens wait, as nself encrypted them, in `auth_nself.pending_tokens`. At
//! start (and with `hauth adopt nself`) [`finish`] takes them from there: given nself's key
//! ([`NSELF_ENCRYPTION_KEY`]) it decrypts them and seals them under hauth's own keys, like every provider
//! token hauth stores; without the key it drops them, and those users sign in with their provider once more
//! to give the application a token again. Signing in with the provider works either way: the link is kept.
//!
//! nself's format, as read here: AES-256-GCM, each value stored as `iv:authTag:ciphertext` in hex (a 12- or
//! 16-byte IV, a 16-byte tag, no associated data), under a 32-byte key given as 64 hex characters or as
//! base64, or derived from a passphrase as its SHA-256. A value not in that shape is taken as stored in
//! plaintext: nself's refresh job writes the tokens it refreshes back unencrypted.
use std::fmt;

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, AesGcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use super::provider_tokens::seal_token_set;
use crate::config::env::{Env, Setting};
use crate::db;
use crate::db::nself_adoption::PendingTokens;
use crate::domain::sealed::EncryptionKeys;
use crate::error::AuthError;
use crate::providers::TokenSet;
use crate::state::AppState;

pub const NSELF_ENCRYPTION_KEY: Setting = Setting::new(
    "AUTH_NSELF_ENCRYPTION_KEY",
    None,
    "adopting an nself database: the key nself's OAuth handler encrypted provider tokens with (64 hex \
     characters, base64 of 32 bytes, or a passphrase); its tokens are re-encrypted under \
     hauth's encryption keys at start. Without it they are dropped (the links stay; each user signs in with the \
     provider again for a new token)",
)
.secret();

pub const SETTINGS: &[&Setting] = &[&NSELF_ENCRYPTION_KEY];

/// How many identities one transaction of [`finish`] adopts.
const ADOPTION_BATCH: i64 = 200;

const TAG_BYTES: usize = 16;

/// nself's token encryption key.
#[derive(Clone)]
pub struct NselfKey(Key<Aes256Gcm>);

impl fmt::Debug for NselfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NselfKey(<redacted>)")
    }
}

impl NselfKey {
    /// 64 hex characters or base64 of 32 bytes are the key itself; anything else is a passphrase.
    pub fn parse(raw: &str) -> Result<NselfKey, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("empty".into());
        }
        let given = if raw.len() == 64 { hex::decode(raw).ok() } else { None }
            .or_else(|| STANDARD.decode(raw).ok().filter(|bytes| bytes.len() == 32));
        let bytes: [u8; 32] = match given.map(<[u8; 32]>::try_from) {
            Some(Ok(bytes)) => bytes,
            _ => Sha256::digest(raw.as_bytes()).into(),
        };
        Ok(NselfKey(Key::<Aes256Gcm>::from(bytes)))
    }

    /// The key from the environment, `None` when unset.
    pub fn load(env: &mut Env) -> Option<NselfKey> {
        let raw = env.secret(&NSELF_ENCRYPTION_KEY)?;
        match NselfKey::parse(raw.expose_secret()) {
            Ok(key) => Some(key),
            Err(problem) => {
                env.problem(&NSELF_ENCRYPTION_KEY, problem);
                None
            }
        }
    }

    /// Decrypts an `iv:authTag:ciphertext` value; `None` for a wrong key or altered bytes.
    fn open(&self, envelope: &Envelope) -> Option<String> {
        let mut sealed = envelope.ciphertext.clone();
        sealed.extend_from_slice(&envelope.tag);
        let payload = Payload { msg: &sealed, aad: b"" };
        let plaintext = match envelope.iv.len() {
            12 => {
                let nonce: [u8; 12] = envelope.iv.as_slice().try_into().ok()?;
                Aes256Gcm::new(&self.0).decrypt(&Nonce::from(nonce), payload).ok()?
            }
            16 => {
                let nonce: [u8; 16] = envelope.iv.as_slice().try_into().ok()?;
                AesGcm::<Aes256, U16>::new(&self.0).decrypt(&nonce.into(), payload).ok()?
            }
            _ => return None,
        };
        String::from_utf8(plaintext).ok()
    }
}

/// A value in nself's encrypted shape.
struct Envelope {
    iv: Vec<u8>,
    tag: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Envelope {
    fn parse(stored: &str) -> Option<Envelope> {
        let mut parts = stored.split(':');
        let (iv, tag, ciphertext) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let envelope = Envelope {
            iv: hex::decode(iv).ok()?,
            tag: hex::decode(tag).ok()?,
            ciphertext: hex::decode(ciphertext).ok()?,
        };
        let shaped =
            matches!(envelope.iv.len(), 12 | 16) && envelope.tag.len() == TAG_BYTES && !envelope.ciphertext.is_empty();
        shaped.then_some(envelope)
    }
}

/// One of nself's stored tokens, as read with (or without) nself's key.
enum Reading {
    Absent,
    Opened(SecretString),
    Unreadable,
}

impl Reading {
    fn opened(self) -> Option<SecretString> {
        match self {
            Reading::Opened(token) => Some(token),
            Reading::Absent | Reading::Unreadable => None,
        }
    }
}

fn read_token(key: Option<&NselfKey>, stored: Option<&str>) -> Reading {
    let Some(stored) = stored.filter(|value| !value.is_empty()) else {
        return Reading::Absent;
    };
    let Some(key) = key else {
        return Reading::Unreadable;
    };
    match Envelope::parse(stored) {
        Some(envelope) => key.open(&envelope).map_or(Reading::Unreadable, |token| Reading::Opened(token.into())),
        None => Reading::Opened(SecretString::from(stored.to_string())),
    }
}

/// What one run of [`finish`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AdoptionOutcome {
    /// Identities whose tokens are now sealed under hauth's keys.
    pub adopted: u64,
    /// Identities whose tokens could not be read (no key, or a wrong one) and were dropped.
    pub dropped: u64,
}

/// Re-encrypts (or drops) the tokens an adopted nself database left waiting, batch by batch, until none are
/// left. Replicas starting together share the work (rows another one holds are skipped). Without hauth's
/// own keys nothing can be sealed, so tokens nself's key could open are left waiting.
pub async fn finish(state: &AppState) -> Result<AdoptionOutcome, AuthError> {
    let mut outcome = AdoptionOutcome::default();
    if !db::nself_adoption::staging_exists(&db::client(&state.pool).await?).await? {
        return Ok(outcome);
    }
    let nself_key = state.config.nself_key.as_ref();
    let keys = state.config.encryption.as_ref();
    if nself_key.is_some() && keys.is_none() {
        tracing::warn!(
            "{} is set but {} is not: nself's provider tokens wait until both are",
            NSELF_ENCRYPTION_KEY.name,
            crate::domain::sealed::ENCRYPTION_KEYS.name
        );
        return Ok(outcome);
    }
    loop {
        let mut client = db::client(&state.pool).await?;
        let transaction = db::begin(&mut client).await?;
        let batch = db::nself_adoption::claim_pending_tokens(&transaction, ADOPTION_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for pending in &batch {
            let adopted = match keys {
                Some(keys) => adopt_tokens(state, &transaction, keys, nself_key, pending).await?,
                None => false,
            };
            if adopted {
                outcome.adopted += 1;
            } else {
                // The link stays, marked so since V10: the next sign-in with the provider stores new tokens.
                db::user_providers::mark_needs_reauthentication(&transaction, pending.identity_id).await?;
                outcome.dropped += 1;
            }
            db::nself_adoption::delete_pending_tokens(&transaction, pending.identity_id).await?;
        }
        db::commit(transaction).await?;
    }
    if outcome != AdoptionOutcome::default() {
        tracing::info!(
            adopted = outcome.adopted,
            dropped = outcome.dropped,
            "provider tokens of the adopted nself deployment re-encrypted (or dropped where unreadable)"
        );
    }
    Ok(outcome)
}

/// Seals one identity's tokens under hauth's key; false when neither an access nor a refresh token could be
/// read (nothing usable to keep).
async fn adopt_tokens(
    state: &AppState,
    client: &impl db::GenericClient,
    keys: &EncryptionKeys,
    nself_key: Option<&NselfKey>,
    pending: &PendingTokens,
) -> Result<bool, AuthError> {
    let access = read_token(nself_key, pending.access_token.as_deref()).opened();
    let refresh = read_token(nself_key, pending.refresh_token.as_deref()).opened();
    let id_token = read_token(nself_key, pending.id_token.as_deref()).opened();
    if access.is_none() && refresh.is_none() {
        return Ok(false);
    }
    let now = state.clock.now();
    // Without a readable access token, the refresh token gets one at the first request.
    let expires_at = if access.is_some() { pending.access_token_expires_at } else { Some(now) };
    let tokens = TokenSet {
        access_token: access.unwrap_or_else(|| SecretString::from(String::new())),
        refresh_token: refresh,
        id_token: id_token.map(|token| token.expose_secret().to_string()),
        expires_in: None,
        scopes: None,
    };
    let sealed = seal_token_set(keys, pending.identity_id, &tokens, None, now);
    let mut stored = sealed.as_tokens();
    stored.expires_at = expires_at;
    db::user_providers::update_identity_tokens(client, pending.identity_id, &stored).await?;
    super::token_refresh::schedule(state, client, pending.identity_id, &stored).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encrypts the way the assumed nself format does (a test stand-in for nself's handler).
    fn nself_encrypt(key: &NselfKey, iv: &[u8], plaintext: &str) -> String {
        let sealed = match iv.len() {
            12 => Aes256Gcm::new(&key.0).encrypt(
                &Nonce::from(<[u8; 12]>::try_from(iv).unwrap_or_else(|e| panic!("{e:?}"))),
                plaintext.as_bytes(),
            ),
            _ => AesGcm::<Aes256, U16>::new(&key.0)
                .encrypt(&<[u8; 16]>::try_from(iv).unwrap_or_else(|e| panic!("{e:?}")).into(), plaintext.as_bytes()),
        }
        .unwrap_or_else(|e| panic!("{e:?}"));
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_BYTES);
        format!("{}:{}:{}", hex::encode(iv), hex::encode(tag), hex::encode(ciphertext))
    }

    fn opened(reading: Reading) -> Option<String> {
        reading.opened().map(|token| token.expose_secret().to_string())
    }

    #[test]
    fn hex_base64_and_passphrase_keys_are_read() {
        let raw = [7u8; 32];
        let from_hex = NselfKey::parse(&hex::encode(raw)).unwrap_or_else(|e| panic!("{e:?}"));
        let from_base64 = NselfKey::parse(&STANDARD.encode(raw)).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(from_hex.0, from_base64.0);
        assert_eq!(from_hex.0[..], raw[..]);
        let passphrase = NselfKey::parse("correct horse battery staple").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(passphrase.0[..], Sha256::digest(b"correct horse battery staple")[..]);
        assert!(NselfKey::parse("  ").is_err());
        assert_eq!(format!("{from_hex:?}"), "NselfKey(<redacted>)");
    }

    #[test]
    fn values_with_twelve_and_sixteen_byte_ivs_open_with_the_right_key_only() {
        let key = NselfKey::parse(&hex::encode([1u8; 32])).unwrap_or_else(|e| panic!("{e:?}"));
        let other = NselfKey::parse(&hex::encode([2u8; 32])).unwrap_or_else(|e| panic!("{e:?}"));
        for iv in [&[3u8; 12][..], &[4u8; 16][..]] {
            let stored = nself_encrypt(&key, iv, "ya29.token");
            assert_eq!(opened(read_token(Some(&key), Some(&stored))).as_deref(), Some("ya29.token"));
            assert!(matches!(read_token(Some(&other), Some(&stored)), Reading::Unreadable));
            assert!(matches!(read_token(None, Some(&stored)), Reading::Unreadable));
            let mut altered = stored.clone();
            altered.replace_range(altered.len() - 2.., "00");
            if altered != stored {
                assert!(matches!(read_token(Some(&key), Some(&altered)), Reading::Unreadable));
            }
        }
    }

    #[test]
    fn plaintext_values_are_kept_only_with_the_key_and_empty_ones_are_absent() {
        let key = NselfKey::parse("a passphrase").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(opened(read_token(Some(&key), Some("gho_plaintext"))).as_deref(), Some("gho_plaintext"));
        assert!(matches!(read_token(None, Some("gho_plaintext")), Reading::Unreadable));
        assert!(matches!(read_token(Some(&key), Some("")), Reading::Absent));
        assert!(matches!(read_token(Some(&key), None), Reading::Absent));
    }
}
