//! What each route requires (`AUTH0_AUTHORIZER_ROUTES`), matched against the request's ARN the way API
//! Gateway matches the IAM policy the authorizer returns, so that the decision logged is the one enforced.
//!
//! A rule is `METHOD /path = grants`: `read:reports admin` needs all of them, `read:reports | admin` any one.
//! `ANY` matches every method; a `{param}` or `{proxy+}` segment becomes `*` in the policy, and IAM's `*`
//! matches across `/`, so `GET /reports/{id}` also covers `/reports/7/comments`. Routes no rule covers need a
//! valid token only. Organizations in brackets limit a route to tokens of one of them (`org_...` ids match
//! `org_id`, other names `org_name`): `GET /acme/reports [org_abc123, acme] = read:reports`, or with no
//! grants after `=`.

use crate::claims::{Claims, GrantSource, Match, Requirement};
use crate::config::{ConfigError, invalid, var};

/// The methods a rule can name: API Gateway's, and `ANY` for all of them.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

/// One route's requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// The rule's route as configured, `GET /reports/{id}`: the route of the log line and the metric.
    key: &'static str,
    /// `METHOD/path` as IAM resource patterns, `GET/reports/*`, relative to the API and stage: one per
    /// method, as a `*` for `ANY` would also span the path (`*/admin/*` matches `GET/reports/admin/x`).
    patterns: Vec<String>,
    requirement: Requirement,
}

impl RouteRule {
    /// The route as configured.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// What it requires.
    pub fn requirement(&self) -> Requirement {
        self.requirement
    }

    /// The IAM resources that cover it under `base` (`arn:aws:execute-api:…:api-id/stage`).
    pub fn resources<'a>(&'a self, base: &'a str) -> impl Iterator<Item = String> + 'a {
        self.patterns.iter().map(move |pattern| format!("{base}/{pattern}"))
    }

    fn covers(&self, method_and_path: &str) -> bool {
        self.patterns.iter().any(|pattern| glob_matches(pattern.as_bytes(), method_and_path.as_bytes()))
    }

    fn overlaps(&self, other: &Self) -> bool {
        self.patterns.iter().any(|mine| other.patterns.iter().any(|theirs| globs_intersect(mine, theirs)))
    }
}

/// Every rule, checked at cold start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    rules: Vec<RouteRule>,
}

impl RouteTable {
    /// Parses `text` (`None`: no rules). Rules are separated by `;` or new lines.
    ///
    /// Refused, naming [`var::AUTHORIZER_ROUTES`]: an unknown method, a path that is not `/`-separated segments, a
    /// `{proxy+}` before the end, a literal `*`, an empty or malformed grant, `|` mixed with all-of grants, a
    /// route given twice, and two rules with different requirements whose policy patterns overlap (IAM cannot
    /// allow a route inside a pattern it denies, so the narrower rule could never be honoured).
    pub fn parse(text: Option<&str>) -> Result<Self, ConfigError> {
        let mut rules: Vec<RouteRule> = Vec::new();
        for entry in text.unwrap_or_default().split([';', '\n']).map(str::trim).filter(|entry| !entry.is_empty()) {
            let rule = rule(entry)?;
            if let Some(other) = rules.iter().find(|other| other.key == rule.key) {
                return Err(invalid(var::AUTHORIZER_ROUTES, format!("`{}` is given twice", other.key)));
            }
            if let Some(other) =
                rules.iter().find(|other| other.requirement != rule.requirement && other.overlaps(&rule))
            {
                return Err(invalid(
                    var::AUTHORIZER_ROUTES,
                    format!(
                        "`{}` and `{}` overlap in an IAM policy (a `{{param}}` matches the rest of the path) but \
                         require different grants: give them the same grants, or routes that do not overlap",
                        other.key, rule.key
                    ),
                ));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// Whether no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule that covers `method_and_path` (`GET/reports/7`, as in a method ARN), if any.
    pub fn find(&self, method_and_path: &str) -> Option<&RouteRule> {
        self.rules.iter().find(|rule| rule.covers(method_and_path))
    }

    /// The rules whose requirement `claims` do not meet.
    pub fn unmet<'a>(&'a self, claims: &'a Claims) -> impl Iterator<Item = &'a RouteRule> {
        self.rules.iter().filter(|rule| !rule.requirement.is_met_by(claims))
    }
}

fn rule(entry: &str) -> Result<RouteRule, ConfigError> {
    let bad = |problem: String| invalid(var::AUTHORIZER_ROUTES, problem);
    let (route, grants) =
        entry.split_once('=').ok_or_else(|| bad(format!("`{entry}` must be `METHOD /path = grants`")))?;
    let (route, organizations) = match route.split_once('[') {
        None => (route, None),
        Some((route, rest)) => {
            let list = rest.trim().strip_suffix(']').ok_or_else(|| {
                bad(format!(
                    "`{}[{rest}`: organizations go in brackets before `=`, like `[org_abc123, acme]`",
                    route.trim()
                ))
            })?;
            (route, Some(organizations(list).map_err(|problem| bad(format!("`{}`: {problem}", route.trim())))?))
        }
    };
    let (method, path) = route
        .trim()
        .split_once(' ')
        .map(|(method, path)| (method, path.trim()))
        .ok_or_else(|| bad(format!("`{}` must be a method, a space and a path", route.trim())))?;
    if !METHODS.contains(&method) {
        return Err(bad(format!("`{method}` is not one of {}", METHODS.join(", "))));
    }
    let path_pattern = path_pattern(path).map_err(bad)?;
    let methods = if method == "ANY" { &METHODS[..METHODS.len() - 1] } else { std::slice::from_ref(&method) };
    // A literal path also covers itself with a trailing slash: a backend that routes `/admin/` as `/admin`
    // must not find it allowed. (A parameter's `*` covers that already; case is the backend's to keep.)
    let mut paths = vec![path_pattern.clone()];
    if !path_pattern.ends_with(['/', '*']) {
        paths.push(format!("{path_pattern}/"));
    }
    let patterns = methods.iter().flat_map(|method| paths.iter().map(move |path| format!("{method}{path}"))).collect();
    let requirement = match (grants.trim(), organizations) {
        ("", Some(organizations)) => Requirement::all_of(&[]).in_organizations(organizations),
        (grants, organizations) => requirement(grants)
            .map(|requirement| requirement.in_organizations(organizations.unwrap_or_default()))
            .map_err(|problem| bad(format!("`{}`: {problem}", route.trim())))?,
    };
    // Read once per cold start and kept for the life of the process, as the routes of the API are.
    let key: &'static str = Box::leak(format!("{method} {path}").into_boxed_str());
    Ok(RouteRule { key, patterns, requirement })
}

/// `/reports/{id}` as the pattern `/reports/*`.
fn path_pattern(path: &str) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("`{path}` must start with `/`"));
    };
    if rest.is_empty() {
        return Ok("/".to_owned());
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let mut pattern = String::with_capacity(path.len());
    for (index, segment) in segments.iter().enumerate() {
        pattern.push('/');
        if let Some(name) = segment.strip_prefix('{').and_then(|inner| inner.strip_suffix('}')) {
            let (name, greedy) = name.strip_suffix('+').map_or((name, false), |name| (name, true));
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("`{segment}` in `{path}` is not a parameter like `{{id}}` or `{{proxy+}}`"));
            }
            if greedy && index + 1 != segments.len() {
                return Err(format!("`{segment}` in `{path}` must be the last segment"));
            }
            pattern.push('*');
        } else if segment.is_empty() {
            return Err(format!("`{path}` has an empty segment"));
        } else if !segment.bytes().all(|b| b.is_ascii_graphic() && !b"{}*?".contains(&b)) {
            return Err(format!("`{segment}` in `{path}` must be visible ASCII without `{{`, `}}`, `*` or `?`"));
        } else {
            pattern.push_str(segment);
        }
    }
    Ok(pattern)
}

/// `org_abc123, acme`: organization ids (`org_...`) and names, any one of which the token must be for.
fn organizations(list: &str) -> Result<&'static [&'static str], String> {
    let names: Vec<&str> = list.split([',', ' ']).map(str::trim).filter(|name| !name.is_empty()).collect();
    if names.is_empty() {
        return Err("`[]` names no organization".to_owned());
    }
    if let Some(name) = names.iter().find(|name| !name.bytes().all(|b| b.is_ascii_graphic() && !b"[]=;|".contains(&b)))
    {
        return Err(format!("`{name}` is not an organization id or name"));
    }
    // Read once per cold start and kept for the life of the process, as the grants are.
    Ok(Box::leak(names.into_iter().map(|name| &*Box::leak(name.to_owned().into_boxed_str())).collect()))
}

/// `a b` (all of them) or `a | b` (any one), as a requirement on `scope` or `permissions`.
fn requirement(text: &str) -> Result<Requirement, String> {
    let any_of = text.contains('|');
    let grants: Vec<&str> =
        if any_of { text.split('|').map(str::trim).collect() } else { text.split_ascii_whitespace().collect() };
    if grants.is_empty() || grants.iter().any(|grant| grant.is_empty()) {
        return Err("needs one grant or more, like `read:reports` or `read:reports | admin`".to_owned());
    }
    for grant in &grants {
        // RFC 6749 §3.3 scope-token: visible ASCII without `"` and `\`.
        if any_of && grant.contains(char::is_whitespace) {
            return Err(format!("`{grant}`: all-of (spaces) and any-of (`|`) cannot be mixed"));
        }
        if !grant.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
            return Err(format!("`{grant}` is not a scope or permission name"));
        }
    }
    let grants: &'static [&'static str] =
        Box::leak(grants.into_iter().map(|grant| &*Box::leak(grant.to_owned().into_boxed_str())).collect());
    let rule = if any_of { Match::AnyOf } else { Match::AllOf };
    Ok(Requirement { rule, grants, source: GrantSource::ScopeOrPermissions, organizations: &[] })
}

/// Whether `text` matches the IAM resource pattern `pattern`, where `*` is any run of characters, `/` included.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and the text position it was tried at: backtracking needs only the latest star.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_at, tried)) = star {
            p = star_at + 1;
            t = tried + 1;
            star = Some((star_at, tried + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Whether some text matches both patterns (`*`: any run of characters).
fn globs_intersect(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // reachable[i][j]: some text takes `a` to position i and `b` to position j at once.
    let mut reachable = vec![vec![false; b.len() + 1]; a.len() + 1];
    reachable[0][0] = true;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            if !reachable[i][j] {
                continue;
            }
            let a_star = a.get(i) == Some(&b'*');
            let b_star = b.get(j) == Some(&b'*');
            // A star matching nothing more.
            if a_star {
                reachable[i + 1][j] = true;
            }
            if b_star {
                reachable[i][j + 1] = true;
            }
            // One more character, consumed by a star or matched by a literal on each side.
            match (a.get(i), b.get(j)) {
                (Some(b'*'), Some(b'*')) => {}
                (Some(b'*'), Some(_)) => reachable[i][j + 1] = true,
                (Some(_), Some(b'*')) => reachable[i + 1][j] = true,
                (Some(x), Some(y)) if x == y => reachable[i + 1][j + 1] = true,
                _ => {}
            }
        }
    }
    reachable[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> RouteTable {
        RouteTable::parse(Some(text)).unwrap()
    }

    fn refused(text: &str) -> String {
        let error = RouteTable::parse(Some(text)).expect_err("the rules were accepted");
        assert_eq!(error.variable, var::AUTHORIZER_ROUTES);
        error.problem
    }

    #[test]
    fn rules_are_read_with_all_of_and_any_of() {
        let routes = table("GET /reports = read:reports | admin; DELETE /reports/{id} = delete:reports admin\n");
        let read = routes.find("GET/reports").unwrap();
        assert_eq!(read.key(), "GET /reports");
        assert_eq!(read.requirement(), Requirement::any_of(&["read:reports", "admin"]));
        let delete = routes.find("DELETE/reports/7").unwrap();
        assert_eq!(delete.requirement(), Requirement::all_of(&["delete:reports", "admin"]));
        let base = "arn:aws:execute-api:eu-west-1:1:api/prod";
        assert_eq!(delete.resources(base).collect::<Vec<_>>(), [format!("{base}/DELETE/reports/*")]);
        let read = routes.find("GET/reports").unwrap();
        assert_eq!(
            read.resources(base).collect::<Vec<_>>(),
            [format!("{base}/GET/reports"), format!("{base}/GET/reports/")]
        );
        assert!(routes.find("GET/other").is_none());
        assert_eq!(routes.find("GET/reports/").unwrap().key(), "GET /reports", "a trailing slash is the same route");
        assert!(routes.find("POST/reports").is_none());
    }

    #[test]
    fn any_and_parameters_match_as_the_policy_does() {
        let routes = table("ANY /admin/{proxy+} = admin; GET / = read:root; GET /reports/{id} = read:reports");
        let admin = routes.find("POST/admin/users/1").unwrap();
        assert_eq!(admin.key(), "ANY /admin/{proxy+}");
        assert_eq!(admin.resources("api/prod").count(), 7, "one resource per method");
        assert_eq!(routes.find("GET/").unwrap().resources("api/prod").count(), 1, "the root has no other form");
        assert!(routes.find("GET/reports/admin/x").is_some_and(|rule| rule.key() == "GET /reports/{id}"));
        assert_eq!(routes.find("GET/").unwrap().key(), "GET /");
        assert!(routes.find("GET/admin").is_none(), "`{{proxy+}}` needs a segment");
        // IAM's `*` spans segments: the rule covers what its policy pattern covers.
        assert_eq!(routes.find("GET/reports/7/comments").unwrap().key(), "GET /reports/{id}");
    }

    #[test]
    fn no_rules_is_an_empty_table() {
        assert!(RouteTable::parse(None).unwrap().is_empty());
        assert!(table(" ; \n").is_empty());
    }

    #[test]
    fn malformed_rules_are_refused_with_the_reason() {
        assert!(refused("GET /reports").contains("METHOD /path = grants"));
        assert!(refused("FETCH /reports = a").contains("`FETCH` is not one of"));
        assert!(refused("get /reports = a").contains("`get` is not one of"));
        assert!(refused("GET reports = a").contains("must start with `/`"));
        assert!(refused("GET /a//b = a").contains("empty segment"));
        assert!(refused("GET /a/ = a").contains("empty segment"));
        assert!(refused("GET /{proxy+}/x = a").contains("must be the last segment"));
        assert!(refused("GET /{} = a").contains("is not a parameter"));
        assert!(refused("GET /a* = a").contains("without"));
        assert!(refused("GET /a = ").contains("needs one grant"));
        assert!(refused("GET /a = x | ").contains("needs one grant"));
        assert!(refused("GET /a = x y | z").contains("cannot be mixed"));
        assert!(refused("GET /a = \"x\"").contains("not a scope"));
        assert!(refused("GET /a = x; GET /a = x").contains("given twice"));
        assert!(refused("GET /a [org_x = x").contains("in brackets"));
        assert!(refused("GET /a [] = x").contains("names no organization"));
        assert!(refused("GET /a [a|b] = x").contains("not an organization"));
    }

    #[test]
    fn organizations_in_brackets_limit_a_route() {
        let routes = table("GET /acme/reports [org_abc123, acme] = read:reports; GET /acme [acme] =");
        let reports = routes.find("GET/acme/reports").unwrap();
        assert_eq!(reports.key(), "GET /acme/reports");
        let expected = Requirement::all_of(&["read:reports"]).in_organizations(&["org_abc123", "acme"]);
        assert_eq!(reports.requirement(), expected);
        assert_eq!(
            routes.find("GET/acme").unwrap().requirement(),
            Requirement::all_of(&[]).in_organizations(&["acme"])
        );
    }

    #[test]
    fn overlapping_rules_with_different_grants_are_refused() {
        assert!(refused("GET /reports/{id} = admin; GET /reports/summary = read").contains("overlap"));
        assert!(refused("GET /reports/{id} = admin; GET /reports/{id}/comments = read").contains("overlap"));
        assert!(refused("ANY /reports = admin; GET /reports = read").contains("overlap"));
        // The same grants may overlap; distinct routes may differ.
        table("GET /reports/{id} = admin; GET /reports/summary = admin");
        table("GET /reports = read; POST /reports = write; GET /users/{id} = admin");
    }

    #[test]
    fn globs_match_and_intersect_as_iam_patterns() {
        assert!(glob_matches(b"GET/a/*", b"GET/a/b/c"));
        assert!(glob_matches(b"*/a", b"POST/a"));
        assert!(!glob_matches(b"GET/a/*", b"GET/a"));
        assert!(glob_matches(b"GET/a/*/c", b"GET/a/b/x/c"));
        assert!(!glob_matches(b"GET/a", b"GET/ab"));
        assert!(globs_intersect("GET/a/*", "*/a/b"));
        assert!(globs_intersect("*/x/*", "GET/*/y"));
        assert!(!globs_intersect("GET/a/*", "POST/*"));
        assert!(!globs_intersect("GET/a", "GET/b"));
        assert!(!globs_intersect("GET/a/*", "GET/a"));
    }
}
