//! The claims of a verified token: registered claims typed, the whole claim set kept as sent.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The claims of a token that passed every check (the seed's `current_user`).
///
/// Verification reads only the registered claims, borrowed from the decoded claim set; the claim set as a
/// map of JSON values is built the first time a handler or a scope requirement asks for a claim, so a route
/// that needs none of them (most requests) never allocates one. `Debug` prints claim names only: claim
/// values never reach a log by accident.
#[derive(Clone)]
pub struct Claims {
    pub(crate) exp: i64,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
    /// The claim set as the token sent it: a JSON object (verification checked that it parses as one).
    payload: Vec<u8>,
    all: OnceLock<Map<String, Value>>,
    /// What the token's `cnf` claim binds it to, read during verification.
    binding: Binding,
}

/// What a token is bound to (its `cnf` claim, RFC 7800): whoever presents it must prove it holds that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// No `cnf` (or `null`): a bearer token.
    #[default]
    None,
    /// `cnf.jkt`: a DPoP key (RFC 9449 §6.1).
    Dpop,
    /// Another confirmation method (an mTLS certificate's `x5t#S256`, RFC 8705, or one unknown here).
    Other,
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        (self.exp, self.nbf, self.iat) == (other.exp, other.nbf, other.iat) && self.all() == other.all()
    }
}

impl Claims {
    /// `sub`: the user (or `<client-id>@clients` for machine-to-machine tokens), when present.
    pub fn sub(&self) -> Option<&str> {
        self.str_claim("sub")
    }

    /// `iss`: the issuer, when present (always present when issuers are configured).
    pub fn iss(&self) -> Option<&str> {
        self.str_claim("iss")
    }

    /// `aud`: the audiences, whether the token sent one string or an array.
    pub fn audiences(&self) -> impl Iterator<Item = &str> {
        let (single, many) = match self.all().get("aud") {
            Some(Value::String(one)) => (Some(one.as_str()), None),
            Some(Value::Array(list)) => (None, Some(list.iter().filter_map(Value::as_str))),
            _ => (None, None),
        };
        single.into_iter().chain(many.into_iter().flatten())
    }

    /// `exp`: expiry, in seconds since the Unix epoch (rounded down when the token sent a fraction).
    pub fn exp(&self) -> i64 {
        self.exp
    }

    /// `nbf`: not-before, in seconds since the Unix epoch (rounded up), when present.
    pub fn nbf(&self) -> Option<i64> {
        self.nbf
    }

    /// `iat`: issued-at, in seconds since the Unix epoch, when present.
    pub fn iat(&self) -> Option<i64> {
        self.iat
    }

    /// The OAuth 2.0 scopes granted (`scope`, space-separated).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.str_claim("scope").unwrap_or_default().split(' ').filter(|scope| !scope.is_empty())
    }

    /// The Auth0 RBAC permissions granted (`permissions`, an array of strings).
    pub fn permissions(&self) -> impl Iterator<Item = &str> {
        let list = match self.all().get("permissions") {
            Some(Value::Array(list)) => list.as_slice(),
            _ => &[],
        };
        list.iter().filter_map(Value::as_str)
    }

    /// Whether `grant` is among the grants of `source`.
    pub fn has_grant(&self, source: GrantSource, grant: &str) -> bool {
        let in_scope = || self.scopes().any(|scope| scope == grant);
        let in_permissions = || self.permissions().any(|permission| permission == grant);
        match source {
            GrantSource::Scope => in_scope(),
            GrantSource::Permissions => in_permissions(),
            GrantSource::ScopeOrPermissions => in_scope() || in_permissions(),
        }
    }

    /// Any claim, as sent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all().get(name)
    }

    /// Whether the token is for one of `organizations`: an `org_...` entry equal to `org_id`, another equal to
    /// `org_name` without regard to case (Auth0 keeps organization names in lower case).
    pub fn in_organization(&self, organizations: &[impl AsRef<str>]) -> bool {
        let (org_id, org_name) = (self.str_claim("org_id"), self.str_claim("org_name"));
        organizations.iter().map(AsRef::as_ref).any(|org| match org.strip_prefix("org_") {
            Some(_) => org_id == Some(org),
            None => org_name.is_some_and(|name| name.eq_ignore_ascii_case(org)),
        })
    }

    /// A claim that is a JSON string; `None` when it is absent or of another type.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.all().get(name).and_then(Value::as_str)
    }

    /// The whole claim set, as sent (read from the token on the first call).
    pub fn all(&self) -> &Map<String, Value> {
        // The payload parsed as a JSON object when the token was verified, so this cannot fail; an empty map
        // would be the answer if it ever did.
        self.all.get_or_init(|| serde_json::from_slice(&self.payload).unwrap_or_default())
    }

    /// Claims whose registered time claims were read by verification from `payload`, a JSON object.
    pub(crate) fn new(exp: i64, nbf: Option<i64>, iat: Option<i64>, payload: Vec<u8>) -> Self {
        Self { exp, nbf, iat, payload, all: OnceLock::new(), binding: Binding::None }
    }

    /// The same claims with the binding verification read from `cnf`.
    pub(crate) fn with_binding(mut self, binding: Binding) -> Self {
        self.binding = binding;
        self
    }

    /// What the token is bound to.
    pub fn binding(&self) -> Binding {
        self.binding
    }

    /// Who to greet: `email`, else the custom claim named by `email_claim` (Auth0 access tokens carry the
    /// email only in a namespaced claim), else `sub`. A claim of another type is skipped, never an error.
    pub fn display_name<'a>(&'a self, email_claim: Option<&str>) -> Option<&'a str> {
        self.str_claim("email").or_else(|| email_claim.and_then(|name| self.str_claim(name))).or_else(|| self.sub())
    }
}

/// Where a route's required grants are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSource {
    /// The `scope` claim only (OAuth 2.0 scopes).
    Scope,
    /// The `permissions` claim only (Auth0 RBAC with "Add Permissions in the Access Token").
    Permissions,
    /// Either: a grant counts when it is in `scope` or in `permissions`.
    ScopeOrPermissions,
}

/// Whether every required grant must be present, or one is enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// All of the grants.
    AllOf,
    /// At least one of the grants.
    AnyOf,
}

/// What a route requires beyond a valid token. Failing it is a 403 `insufficient_scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// All of them, or any one.
    pub rule: Match,
    /// The grants, e.g. `read:messages`.
    pub grants: &'static [&'static str],
    /// Where they are looked for.
    pub source: GrantSource,
    /// The Auth0 Organizations the route is for (any one of them), as `AUTH0_ORGANIZATIONS` names them:
    /// `org_...` ids match `org_id`, other entries `org_name`. Empty: any organization, or none.
    pub organizations: &'static [&'static str],
}

impl Requirement {
    /// Every one of `grants`, from `scope` or `permissions`.
    pub const fn all_of(grants: &'static [&'static str]) -> Self {
        Self { rule: Match::AllOf, grants, source: GrantSource::ScopeOrPermissions, organizations: &[] }
    }

    /// At least one of `grants`, from `scope` or `permissions`.
    pub const fn any_of(grants: &'static [&'static str]) -> Self {
        Self { rule: Match::AnyOf, grants, source: GrantSource::ScopeOrPermissions, organizations: &[] }
    }

    /// The same requirement, for tokens of one of `organizations` only (a token of another, or of none, is
    /// 403 `organization_not_allowed`).
    pub const fn in_organizations(self, organizations: &'static [&'static str]) -> Self {
        Self { organizations, ..self }
    }

    /// Why `claims` do not satisfy it, if they do not: the organization first, then the grants.
    pub fn check(&self, claims: &Claims) -> Result<(), crate::error::AuthError> {
        if !self.organizations.is_empty() && !claims.in_organization(self.organizations) {
            return Err(crate::error::AuthError::OrganizationNotAllowed);
        }
        if !self.grants_are_met_by(claims) {
            return Err(crate::error::AuthError::InsufficientScope(*self));
        }
        Ok(())
    }

    /// The same requirement, looked for in `source` only.
    pub const fn from(self, source: GrantSource) -> Self {
        Self { source, ..self }
    }

    /// Whether `claims` satisfy it: organization and grants.
    pub fn is_met_by(&self, claims: &Claims) -> bool {
        self.check(claims).is_ok()
    }

    /// Whether `claims` hold its grants: all of none is met, any of none is not.
    fn grants_are_met_by(&self, claims: &Claims) -> bool {
        if self.grants.is_empty() {
            return self.rule == Match::AllOf;
        }
        let mut granted = self.grants.iter().map(|grant| claims.has_grant(self.source, grant));
        match self.rule {
            Match::AllOf => granted.all(|ok| ok),
            Match::AnyOf => granted.any(|ok| ok),
        }
    }
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims").field("names", &self.all().keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        assert!(value.is_object());
        Claims::new(0, None, None, value.to_string().into_bytes())
    }

    #[test]
    fn audiences_accept_a_string_or_an_array() {
        assert_eq!(claims(json!({"aud": "a"})).audiences().collect::<Vec<_>>(), ["a"]);
        assert_eq!(claims(json!({"aud": ["a", "b"]})).audiences().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(claims(json!({})).audiences().count(), 0);
    }

    #[test]
    fn display_name_prefers_email() {
        let c = claims(json!({"email": "e@x", "https://x/email": "c@x", "sub": "s"}));
        assert_eq!(c.display_name(Some("https://x/email")), Some("e@x"));
    }

    #[test]
    fn display_name_falls_back_to_the_custom_claim() {
        let c = claims(json!({"https://x/email": "c@x", "sub": "s"}));
        assert_eq!(c.display_name(Some("https://x/email")), Some("c@x"));
        assert_eq!(c.display_name(None), Some("s"));
    }

    #[test]
    fn display_name_skips_claims_that_are_not_strings() {
        let c = claims(json!({"email": 42, "https://x/email": null, "sub": "s"}));
        assert_eq!(c.display_name(Some("https://x/email")), Some("s"));
        assert_eq!(claims(json!({"email": ["a"]})).display_name(None), None);
    }

    fn grants() -> Claims {
        claims(json!({"scope": "openid read:messages  write:messages", "permissions": ["delete:messages"]}))
    }

    #[test]
    fn scopes_are_split_on_spaces() {
        assert_eq!(grants().scopes().collect::<Vec<_>>(), ["openid", "read:messages", "write:messages"]);
        assert_eq!(claims(json!({})).scopes().count(), 0);
    }

    #[test]
    fn all_of_needs_every_grant() {
        let claims = grants();
        assert!(Requirement::all_of(&["read:messages", "write:messages"]).is_met_by(&claims));
        assert!(!Requirement::all_of(&["read:messages", "admin"]).is_met_by(&claims));
    }

    #[test]
    fn any_of_needs_one_grant() {
        let claims = grants();
        assert!(Requirement::any_of(&["admin", "write:messages"]).is_met_by(&claims));
        assert!(!Requirement::any_of(&["admin", "root"]).is_met_by(&claims));
    }

    #[test]
    fn missing_claims_grant_nothing() {
        assert!(!Requirement::all_of(&["read:messages"]).is_met_by(&claims(json!({}))));
        assert!(!Requirement::any_of(&["read:messages"]).is_met_by(&claims(json!({"scope": ""}))));
    }

    #[test]
    fn a_scope_only_requirement_ignores_permissions() {
        let claims = grants();
        assert!(!Requirement::all_of(&["delete:messages"]).from(GrantSource::Scope).is_met_by(&claims));
        assert!(Requirement::all_of(&["read:messages"]).from(GrantSource::Scope).is_met_by(&claims));
    }

    #[test]
    fn a_permissions_only_requirement_ignores_scope() {
        let claims = grants();
        assert!(!Requirement::all_of(&["read:messages"]).from(GrantSource::Permissions).is_met_by(&claims));
        assert!(Requirement::all_of(&["delete:messages"]).from(GrantSource::Permissions).is_met_by(&claims));
    }

    #[test]
    fn either_source_counts_by_default() {
        let claims = grants();
        assert!(Requirement::all_of(&["read:messages", "delete:messages"]).is_met_by(&claims));
    }

    #[test]
    fn grants_match_exactly() {
        let claims = grants();
        assert!(!Requirement::all_of(&["read"]).is_met_by(&claims));
        assert!(!Requirement::all_of(&["READ:MESSAGES"]).is_met_by(&claims));
    }

    #[test]
    fn a_route_for_some_organizations_refuses_the_others_before_its_grants() {
        use crate::error::AuthError;
        let acme = Requirement::all_of(&["read:reports"]).in_organizations(&["org_abc123", "Acme"]);
        let member = claims(json!({"org_id": "org_abc123", "scope": "read:reports"}));
        assert_eq!(acme.check(&member), Ok(()));
        assert_eq!(acme.check(&claims(json!({"org_name": "acme", "scope": "read:reports"}))), Ok(()));
        assert_eq!(acme.check(&claims(json!({"org_id": "org_abc123"}))), Err(AuthError::InsufficientScope(acme)));
        for other in [
            json!({"org_id": "org_other", "scope": "read:reports"}),
            json!({"scope": "read:reports"}),
            json!({"org_name": "org_abc123", "scope": "read:reports"}),
        ] {
            assert_eq!(acme.check(&claims(other.clone())), Err(AuthError::OrganizationNotAllowed), "{other}");
            assert!(!acme.is_met_by(&claims(other)));
        }
        // An organization alone, without grants.
        let only = Requirement::all_of(&[]).in_organizations(&["org_abc123"]);
        assert_eq!(only.check(&member), Ok(()));
        assert_eq!(only.check(&claims(json!({}))), Err(AuthError::OrganizationNotAllowed));
        // Any one of no grants is never met, organization or not.
        assert!(!Requirement::any_of(&[]).is_met_by(&member));
        assert!(!Requirement::any_of(&[]).in_organizations(&["org_abc123"]).is_met_by(&member));
    }

    #[test]
    fn debug_prints_names_but_never_values() {
        let shown = format!("{:?}", claims(json!({"email": "secret@example.com"})));
        assert!(shown.contains("email"));
        assert!(!shown.contains("secret@example.com"));
    }
}
