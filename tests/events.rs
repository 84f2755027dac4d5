//! The sample events: `mint-token --write-events` writes one for every route and outcome, in both API Gateway
//! payload versions, the same as Application Load Balancer and Function URL events for each kind of answer,
//! and the authorizer's; the function (or the authorizer) gives each the outcome its name ends with.

mod support;

use std::path::{Path, PathBuf};

use support::{app, authorize, authorizer_with, call};

/// The status and code an event's name promises.
fn expected(name: &str) -> (u16, &'static str) {
    let outcomes = [
        ("-insufficient-scope", (403, "insufficient_scope")),
        ("-no-token", (401, "authorization_header_missing")),
        ("-bad-token", (401, "token_invalid_signature")),
        ("-expired", (401, "token_expired")),
        ("not-found", (404, "not_found")),
        ("method-not-allowed", (405, "method_not_allowed")),
        ("preflight", (204, "")),
        ("-ok", (200, "")),
    ];
    let stem = name.trim_end_matches(".json");
    outcomes.into_iter().find(|(suffix, _)| stem.ends_with(suffix)).map(|(_, outcome)| outcome).unwrap()
}

fn event_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Runs `mint-token --write-events` with the tests' configuration into a fresh directory.
fn generate(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auth0-lambda-api-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mint-token"))
        .env_clear()
        .envs(support::env())
        .arg("--write-events")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    dir
}

#[tokio::test]
async fn every_generated_event_gets_the_outcome_its_name_says() {
    let dir = generate("outcomes");
    let (authorizer_names, names): (Vec<String>, Vec<String>) =
        event_names(&dir).into_iter().partition(|name| name.starts_with("authorizer-"));
    assert_eq!(names.len(), 48, "{names:?}");
    assert_eq!(authorizer_names.len(), 19, "{authorizer_names:?}");
    let app = app();
    for name in &names {
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        let answer = call(&app, &event).await;
        let (status, code) = expected(name);
        assert_eq!(answer.status, status, "{name}: {}", answer.body);
        if !code.is_empty() {
            assert_eq!(answer.code(), code, "{name}");
        }
    }
    let authorizer = authorizer_with(&[]);
    for name in &authorizer_names {
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        let decision = authorize(&authorizer, &event).await;
        let (status, code) = expected(name);
        assert_eq!(decision.outcome, if code.is_empty() { "ok" } else { code }, "{name}");
        // What API Gateway makes of the answer: a 401 from REST APIs' `Unauthorized`, else the policy's or
        // the simple response's verdict.
        let answered = match &decision.answer {
            Err(error) if error.error_message == "Unauthorized" => 401,
            Err(error) => panic!("{name}: {error:?}"),
            Ok(answer) if answer["isAuthorized"] == true => 200,
            Ok(answer) if answer["isAuthorized"] == false => 403,
            Ok(answer) => {
                let statements = answer["policyDocument"]["Statement"].as_array().unwrap();
                let denied = statements.iter().any(|statement| statement["Effect"] == "Deny");
                if denied { 403 } else { 200 }
            }
        };
        let rest = name.starts_with("authorizer-rest-");
        let status = if status == 401 && !rest { 403 } else { status };
        assert_eq!(answered, status, "{name}: {:?}", decision.answer);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_committed_events_are_the_generated_set() {
    let dir = generate("names");
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    assert_eq!(
        event_names(&committed),
        event_names(&dir),
        "run: cargo run --bin mint-token -- --env-file dev/local.env --write-events events"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
