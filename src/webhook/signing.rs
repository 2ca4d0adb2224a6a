//! Standard Webhooks v1 signatures (github.com/standard-webhooks/standard-webhooks,
//! spec v1.0.0): HMAC-SHA256 over `{id}.{timestamp}.{body}` with a shared secret,
//! sent as `v1,<base64>` in the `webhook-signature` header.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::Rng;
use sha2::Sha256;

use crate::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "whsec_";
const VERSION: &str = "v1";
/// Bytes in a generated key (the spec asks for 24 to 64).
const GENERATED_LEN: usize = 32;

/// A shared signing secret, written `whsec_<base64 of the key>`.
///
/// `Display` writes that form; `Debug` hides the key.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

impl Secret {
    /// Parses `whsec_<base64>`. The error says what is wrong without repeating the secret.
    pub fn parse(text: &str) -> Result<Self> {
        let encoded = text.strip_prefix(PREFIX).ok_or(Error::BadSecret("it does not start with whsec_"))?;
        let key =
            BASE64.decode(encoded).map_err(|_| Error::BadSecret("the part after whsec_ is not base64"))?;
        if key.is_empty() {
            return Err(Error::BadSecret("the key is empty"));
        }
        Ok(Secret { key })
    }

    /// A fresh random secret of 32 bytes drawn from `rng` (seed it for a reproducible run).
    pub fn generate(rng: &mut impl Rng) -> Self {
        let mut key = vec![0; GENERATED_LEN];
        rng.fill_bytes(&mut key);
        Secret { key }
    }

    /// The `webhook-signature` value for a message: `v1,` and the base64 HMAC-SHA256
    /// of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp_secs: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp_secs, body).finalize().into_bytes();
        format!("{VERSION},{}", BASE64.encode(tag))
    }

    /// Whether `header` (a space-separated list of `version,signature` entries, as the
    /// spec allows during key rotation) holds a valid v1 signature of the message.
    /// Each comparison runs in constant time; unknown versions and garbage are skipped.
    pub fn verify(&self, id: &str, timestamp_secs: i64, body: &[u8], header: &str) -> bool {
        let mac = self.mac(id, timestamp_secs, body);
        header
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == VERSION)
            .filter_map(|(_, encoded)| BASE64.decode(encoded).ok())
            .any(|tag| mac.clone().verify_slice(&tag).is_ok())
    }

    fn mac(&self, id: &str, timestamp_secs: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("{id}.{timestamp_secs}.").as_bytes());
        mac.update(body);
        mac
    }
}

impl FromStr for Secret {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Secret::parse(text)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", BASE64.encode(&self.key))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    // The reference vector of the Standard Webhooks libraries:
    // github.com/standard-webhooks/standard-webhooks, libraries/go/webhook_test.go,
    // TestWebhookSign.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> Secret {
        Secret::parse(SECRET).unwrap()
    }

    #[test]
    fn signs_the_reference_vector() {
        assert_eq!(secret().sign(ID, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn signs_the_rust_library_vector() {
        // Same repository, libraries/rust/src/lib.rs, test_sign.
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            secret.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn verifies_the_reference_vector_and_nothing_altered() {
        let secret = secret();
        assert!(secret.verify(ID, TIMESTAMP, BODY, SIGNATURE));
        assert!(!secret.verify("msg_other", TIMESTAMP, BODY, SIGNATURE));
        assert!(!secret.verify(ID, TIMESTAMP + 1, BODY, SIGNATURE));
        assert!(!secret.verify(ID, TIMESTAMP, br#"{"test": 2432232315}"#, SIGNATURE));
        let other = Secret::parse("whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=").unwrap();
        assert!(!other.verify(ID, TIMESTAMP, BODY, SIGNATURE));
    }

    #[test]
    fn verify_accepts_a_list_with_one_valid_v1_entry() {
        let wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        let same_tag_other_version = SIGNATURE.replacen("v1,", "v2,", 1);
        let secret = secret();
        assert!(secret.verify(ID, TIMESTAMP, BODY, &format!("{wrong} garbage {SIGNATURE} {wrong}")));
        assert!(!secret.verify(ID, TIMESTAMP, BODY, &format!("{wrong} {same_tag_other_version}")));
        assert!(!secret.verify(ID, TIMESTAMP, BODY, ""));
        assert!(!secret.verify(ID, TIMESTAMP, BODY, "v1,not-base64!"));
    }

    #[test]
    fn bad_secrets_are_refused_without_echoing_them() {
        for (text, why) in [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
            ("whsec_not base64!", "not base64"),
            ("whsec_", "empty"),
        ] {
            let message = Secret::parse(text).unwrap_err().to_string();
            assert!(message.contains(why), "{message}");
            assert!(text.len() <= PREFIX.len() || !message.contains(text), "{message}");
        }
    }

    #[test]
    fn generated_secrets_round_trip_through_text_and_sign() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let secret = Secret::generate(&mut rng);
        assert_eq!(secret.key.len(), GENERATED_LEN);
        assert_ne!(secret.key, Secret::generate(&mut rng).key);
        let parsed: Secret = secret.to_string().parse().unwrap();
        assert_eq!(parsed.key, secret.key);
        let signature = secret.sign(ID, TIMESTAMP, BODY);
        assert!(parsed.verify(ID, TIMESTAMP, BODY, &signature));
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }
}
