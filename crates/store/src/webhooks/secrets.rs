//! Signing secrets: made here, shown once, kept encrypted, and used to sign each attempt
//! as the Standard Webhooks 1.0 spec says.
//!
//! A secret is `whsec_` + base64 of 32 random bytes; the HMAC key is those bytes. The
//! database holds them only encrypted with AES-256-GCM under the server's key
//! (`--webhook-secret-key`), with the endpoint's id as associated data, so a ciphertext
//! copied onto another endpoint does not decrypt. Whoever reads the database (a backup, a
//! replica) can't sign as the server without the key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// The prefix the spec gives secrets.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret (the spec asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// Bytes of the server's key.
pub const KEY_BYTES: usize = 32;

/// The server's key that encrypts the signing secrets at rest.
#[derive(Clone)]
pub struct SecretKey(std::sync::Arc<LessSafeKey>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself, not even in a debug log.
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Read a key given as base64 of 32 bytes (what [`SecretKey::generate`] writes).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "the webhook secret key is not base64".to_owned())?;
        if bytes.len() != KEY_BYTES {
            return Err(format!(
                "the webhook secret key must be {KEY_BYTES} bytes (base64), not {}",
                bytes.len()
            ));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "the webhook secret key is not usable".to_owned())?;
        Ok(SecretKey(std::sync::Arc::new(LessSafeKey::new(unbound))))
    }

    /// A new random key, as base64 (for the key file of the embedded default).
    pub fn generate() -> String {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// Encrypt the secret of `endpoint_id`: nonce, ciphertext and tag, in one value.
    pub(crate) fn seal(&self, endpoint_id: Uuid, secret: &Secret) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        // A random 96-bit nonce per secret: secrets are few (one per endpoint and
        // rotation), far below the number where a repeat becomes likely.
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = secret.0.clone();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(endpoint_id.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| internal("cannot encrypt a webhook secret"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypt what [`SecretKey::seal`] made for `endpoint_id`.
    pub(crate) fn open(&self, endpoint_id: Uuid, sealed: &[u8]) -> Result<Secret> {
        let fail = || internal("cannot decrypt a webhook secret: is it the server's key?");
        if sealed.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buffer = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(endpoint_id.as_bytes()), &mut buffer)
            .map_err(|_| fail())?;
        Ok(Secret(plain.to_vec()))
    }
}

fn internal(message: &str) -> StoreError {
    StoreError::Database(sea_orm::DbErr::Custom(message.to_owned()))
}

/// One endpoint's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Secret(bytes)
    }

    /// The form a partner stores: `whsec_` + base64.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The spec's signature of one attempt: base64 of HMAC-SHA256 over
    /// `<id>.<timestamp>.<body>`.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.0);
        let mut context = ring::hmac::Context::with_key(&key);
        context.update(webhook_id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        STANDARD.encode(context.sign().as_ref())
    }
}

/// The `webhook-signature` header for `secrets` (the current one first, then the one a
/// rotation keeps for a day): `v1,<sig>` each, space-separated.
pub fn signature_header(
    secrets: &[Secret],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| format!("v1,{}", s.sign(webhook_id, timestamp, body)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_endpoint_and_key() {
        let key = SecretKey::parse(&SecretKey::generate()).unwrap();
        let other = SecretKey::parse(&SecretKey::generate()).unwrap();
        let secret = Secret::generate();
        let id = Uuid::now_v7();
        let sealed = key.seal(id, &secret).unwrap();
        assert_eq!(key.open(id, &sealed).unwrap(), secret);
        assert!(key.open(Uuid::now_v7(), &sealed).is_err());
        assert!(other.open(id, &sealed).is_err());
        assert!(
            !sealed
                .windows(8)
                .any(|w| secret.0.windows(8).any(|s| s == w))
        );
    }

    #[test]
    fn the_spec_example_signs_as_the_reference_libraries_do() {
        // The example of the Standard Webhooks specification (and its libraries' tests).
        let raw = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let secret = Secret(raw);
        assert_eq!(secret.reveal(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let header = signature_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn keys_of_the_wrong_shape_are_refused() {
        assert!(SecretKey::parse("not base64!").is_err());
        assert!(SecretKey::parse(&STANDARD.encode([0u8; 16])).is_err());
    }
}
