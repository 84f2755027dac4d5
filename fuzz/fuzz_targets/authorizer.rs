//! The authorizer front door on any input: its grants-per-route parser on any text, and its decision on any
//! JSON event under any rules it accepts. It never panics; an event it answers gets a well-formed answer (an
//! IAM policy that allows no more than the stage, or a simple response) or one of its function errors.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth0_lambda_api::Config;
use auth0_lambda_api::authorizer::{Authorizer, Event, RouteTable, Settings};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRET: &str = "a-fuzzing-secret-that-is-long-enough-for-hs256-0123456789";

// The input is the rules, a new line, one byte (odd: simple responses), and the event's JSON, so that the
// seeds in fuzz/seeds/authorizer/ can be real events.
fuzz_target!(|input: &[u8]| {
    let Some(split) = input.iter().position(|b| *b == b'\n') else { return };
    let (Ok(rules), Some((flag, event))) = (std::str::from_utf8(&input[..split]), input[split + 1..].split_first())
    else {
        return;
    };
    let simple = flag % 2 == 1;
    if RouteTable::parse(Some(rules)).is_err() {
        return;
    }
    let vars = [
        ("AUTH0_AUDIENCE", "https://api.example.com"),
        ("AUTH0_CLIENT_SECRET", SECRET),
        ("AUTH0_METRICS", "off"),
        ("AUTH0_AUTHORIZER_ROUTES", rules),
        ("AUTH0_AUTHORIZER_RESPONSE", if simple { "simple" } else { "iam" }),
    ];
    let lookup = |name: &str| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned());
    let authorizer =
        Authorizer::new(Config::from_lookup(lookup).unwrap(), Settings::from_lookup(lookup).unwrap()).unwrap();
    let Ok(event) = serde_json::from_slice::<Event>(event) else { return };

    // With the secret alone nothing is fetched: the decision is ready at its first poll.
    let Poll::Ready(decision) = pin!(authorizer.decide(&event)).as_mut().poll(&mut Context::from_waker(Waker::noop()))
    else {
        panic!("an HS256-only decision awaited");
    };
    match &decision.answer {
        Err(error) => assert!(
            matches!(error.error_type.as_str(), "Unauthorized" | "InvalidEvent" | "KeysUnavailable"),
            "{error:?}"
        ),
        Ok(answer) if answer.get("isAuthorized").is_some() => {
            assert_eq!(answer["isAuthorized"] == Value::Bool(true), decision.outcome == "ok", "{answer}");
        }
        Ok(answer) => {
            let statements = answer["policyDocument"]["Statement"].as_array().expect("a policy");
            let (_, arn) = event.route().expect("an answer only for an authorizer event");
            for statement in statements {
                assert_eq!(statement["Action"], "execute-api:Invoke");
                for resource in statement["Resource"].as_array().expect("resources") {
                    let resource = resource.as_str().expect("a string");
                    // Every resource is within the API and stage of the request.
                    assert!(resource.starts_with(&format!("{}/", arn.base)), "{resource}");
                    if statement["Effect"] == "Allow" {
                        assert_eq!(resource, format!("{}/*", arn.base));
                    }
                }
            }
        }
    }
});
