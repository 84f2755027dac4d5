//! OAuth 2.0 Protected Resource Metadata (RFC 9728): where a client that met this API's 401 finds the
//! authorization server to get a token from, as MCP clients do. Served at [`PATH`] when `AUTH0_RESOURCE` names
//! the API's public URL, and named in every challenge (`resource_metadata`).

use lambda_http::Body;
use lambda_http::http::{Response, StatusCode, Uri};
use serde::Serialize;

use super::response::json_response;

/// The route of the metadata document.
pub const PATH: &str = "/.well-known/oauth-protected-resource";

/// The metadata document, serialised once at cold start, and its URL.
#[derive(Debug, Clone)]
pub struct ResourceMetadata {
    url: String,
    document: String,
}

#[derive(Serialize)]
struct Document<'a> {
    resource: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    authorization_servers: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    scopes_supported: &'a [&'a str],
    bearer_methods_supported: [&'a str; 1],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dpop_signing_alg_values_supported: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens_required: bool,
}

/// What the metadata says about DPoP (RFC 9728 §2).
#[derive(Debug, Clone, Default)]
pub struct DpopMetadata {
    /// The proof algorithms accepted (`dpop_signing_alg_values_supported`); empty when DPoP is off.
    pub algorithms: Vec<String>,
    /// Whether only DPoP-bound tokens are accepted (`dpop_bound_access_tokens_required`).
    pub required: bool,
}

impl ResourceMetadata {
    /// The metadata of `resource` (the API's public URL, exactly as clients call it), whose tokens come from
    /// `issuers`, which asks for `scopes` and takes DPoP-bound tokens as `dpop` says.
    pub fn new(resource: &Uri, issuers: &[String], scopes: &[&str], dpop: &DpopMetadata) -> Self {
        let resource = resource.to_string();
        let resource = match resource.strip_suffix('/') {
            // `Uri` writes an empty path as `/`: the identifier is the URL as configured, without it.
            Some(bare) if bare.matches('/').count() == 2 => bare.to_owned(),
            _ => resource,
        };
        let url = format!("{}{PATH}", resource.trim_end_matches('/'));
        let document = Document {
            resource: &resource,
            authorization_servers: issuers,
            scopes_supported: scopes,
            bearer_methods_supported: ["header"],
            dpop_signing_alg_values_supported: &dpop.algorithms,
            dpop_bound_access_tokens_required: dpop.required,
        };
        // Serialising strings cannot fail.
        let document = serde_json::to_string(&document).unwrap_or_default();
        Self { url, document }
    }

    /// Where the document is served: the resource's URL with [`PATH`] appended. (RFC 9728 §3.1 puts it at the
    /// host's root, before the resource's path; behind an API Gateway stage only the stage's own paths reach
    /// the function, and a client that follows the challenge's `resource_metadata` finds it here.)
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The document, as `application/json`, cacheable for an hour.
    pub fn response(&self) -> Response<Body> {
        json_response(StatusCode::OK, self.document.clone(), Some("public, max-age=3600"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(metadata: &ResourceMetadata) -> serde_json::Value {
        serde_json::from_slice(metadata.response().body().as_ref()).unwrap()
    }

    #[test]
    fn the_document_names_the_resource_its_issuers_and_scopes() {
        let resource: Uri = "https://api.example.com".parse().unwrap();
        let metadata = ResourceMetadata::new(
            &resource,
            &["https://tenant.auth0.com/".into()],
            &["read:messages"],
            &DpopMetadata::default(),
        );
        assert_eq!(metadata.url(), "https://api.example.com/.well-known/oauth-protected-resource");
        assert_eq!(
            document(&metadata),
            serde_json::json!({
                "resource": "https://api.example.com",
                "authorization_servers": ["https://tenant.auth0.com/"],
                "scopes_supported": ["read:messages"],
                "bearer_methods_supported": ["header"],
            })
        );
        assert_eq!(metadata.response().headers()["content-type"], "application/json");
    }

    #[test]
    fn a_resource_with_a_path_keeps_it() {
        let resource: Uri = "https://abc.execute-api.us-east-1.amazonaws.com/prod".parse().unwrap();
        let metadata = ResourceMetadata::new(&resource, &[], &[], &DpopMetadata::default());
        assert_eq!(
            metadata.url(),
            "https://abc.execute-api.us-east-1.amazonaws.com/prod/.well-known/oauth-protected-resource"
        );
        let document = document(&metadata);
        assert_eq!(document["resource"], "https://abc.execute-api.us-east-1.amazonaws.com/prod");
        assert!(document.get("scopes_supported").is_none());
    }

    #[test]
    fn with_dpop_the_document_names_the_proof_algorithms_and_whether_dpop_is_required() {
        let resource: Uri = "https://api.example.com".parse().unwrap();
        let allowed = DpopMetadata { algorithms: vec!["ES256".into(), "EdDSA".into()], required: false };
        let document = document(&ResourceMetadata::new(&resource, &[], &[], &allowed));
        assert_eq!(document["dpop_signing_alg_values_supported"], serde_json::json!(["ES256", "EdDSA"]));
        assert!(document.get("dpop_bound_access_tokens_required").is_none());
        let required = DpopMetadata { required: true, ..allowed };
        let document = self::document(&ResourceMetadata::new(&resource, &[], &[], &required));
        assert_eq!(document["dpop_bound_access_tokens_required"], true);
        assert!(
            self::document(&ResourceMetadata::new(&resource, &[], &[], &DpopMetadata::default()))
                .get("dpop_signing_alg_values_supported")
                .is_none()
        );
    }
}
