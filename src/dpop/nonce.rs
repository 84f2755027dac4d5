//! Server nonces for DPoP proofs (RFC 9449 §8–9) without stored state: a nonce is the index of a time window
//! and an HMAC of it under a key from the configuration. Every instance that shares the key issues and accepts
//! the same nonces, so a client's nonce is good on any of them, for the rest of its window and the next.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a window lasts. A nonce is accepted in its window and the next: from five to ten minutes.
pub const WINDOW_SECONDS: u64 = 300;

/// Bytes of the HMAC kept in a nonce: 128 bits cannot be guessed.
const TAG_BYTES: usize = 16;

/// Issues and checks nonces.
pub struct Nonces {
    key: hmac::Key,
}

impl Nonces {
    /// Nonces under `secret` (at least 32 bytes, checked by the configuration).
    pub fn new(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    /// The nonce of the window `now` falls in, which the client is told to use.
    pub fn current(&self, now: u64) -> String {
        self.nonce(now / WINDOW_SECONDS)
    }

    /// Whether `nonce` is this window's or the previous one's.
    pub fn accepts(&self, nonce: &str, now: u64) -> bool {
        let window = now / WINDOW_SECONDS;
        let mut bytes = [0; 8 + TAG_BYTES];
        let decoded = URL_SAFE_NO_PAD.decode_slice(nonce, &mut bytes);
        if decoded != Ok(bytes.len()) {
            return false;
        }
        let (index, tag) = bytes.split_at(8);
        let index = u64::from_be_bytes(index.try_into().unwrap_or_default());
        let recent = index == window || index.checked_add(1) == Some(window);
        recent && self.tag_matches(index, tag)
    }

    /// Whether `tag` is the window's, compared in constant time.
    fn tag_matches(&self, index: u64, tag: &[u8]) -> bool {
        let full = hmac::sign(&self.key, &index.to_be_bytes());
        aws_lc_rs::constant_time::verify_slices_are_equal(&full.as_ref()[..TAG_BYTES], tag).is_ok()
    }

    fn nonce(&self, window: u64) -> String {
        let mut bytes = [0; 8 + TAG_BYTES];
        bytes[..8].copy_from_slice(&window.to_be_bytes());
        bytes[8..].copy_from_slice(&hmac::sign(&self.key, &window.to_be_bytes()).as_ref()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

impl std::fmt::Debug for Nonces {
    /// Nothing: the key is the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nonces").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-nonce-secret-of-at-least-32-bytes-0123";

    #[test]
    fn a_nonce_is_accepted_in_its_window_and_the_next_only() {
        let nonces = Nonces::new(SECRET);
        let issued_at = 1_800_000_000;
        let nonce = nonces.current(issued_at);
        assert!(nonces.accepts(&nonce, issued_at));
        let window_start = issued_at - issued_at % WINDOW_SECONDS;
        assert!(nonces.accepts(&nonce, window_start + 2 * WINDOW_SECONDS - 1));
        assert!(!nonces.accepts(&nonce, window_start + 2 * WINDOW_SECONDS));
        assert!(!nonces.accepts(&nonce, window_start - 1), "a nonce from the future");
    }

    #[test]
    fn a_nonce_under_another_key_or_altered_is_refused() {
        let now = 1_800_000_000;
        let nonce = Nonces::new(SECRET).current(now);
        assert!(!Nonces::new(b"another-secret-of-at-least-32-bytes-9876").accepts(&nonce, now));
        let mut altered = nonce.clone().into_bytes();
        altered[20] = if altered[20] == b'A' { b'B' } else { b'A' };
        assert!(!Nonces::new(SECRET).accepts(std::str::from_utf8(&altered).unwrap(), now));
        for bad in ["", "x", "not base64!", &nonce[..nonce.len() - 1]] {
            assert!(!Nonces::new(SECRET).accepts(bad, now), "{bad}");
        }
    }

    #[test]
    fn instances_sharing_the_key_issue_the_same_nonce() {
        assert_eq!(Nonces::new(SECRET).current(1_800_000_000), Nonces::new(SECRET).current(1_800_000_001));
    }
}
