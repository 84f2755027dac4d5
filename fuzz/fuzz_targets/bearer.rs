//! The `Authorization` header parser: any bytes a client can send in one or two headers. It never panics, and
//! a token it returns is a slice of the header made of base64url segments and dots.
#![no_main]

use auth0_lambda_api::bearer_token;
use lambda_http::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&[u8], Option<&[u8]>)| {
    let mut headers = HeaderMap::new();
    for value in [Some(input.0), input.1].into_iter().flatten() {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append("authorization", value);
        }
    }
    if let Ok(token) = bearer_token(&headers) {
        assert!(!token.is_empty());
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        let header = headers.get("authorization").unwrap().as_bytes();
        assert!(header.windows(token.len()).any(|window| window == token.as_bytes()));
    }
});
