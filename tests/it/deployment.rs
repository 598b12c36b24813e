//! The docker-compose.yml and Dockerfile are valid and wired as documented.
//!
//! No container engine runs here, so these read the files: the compose file's services and their settings, the
//! JWT secret Hasura gets (checked against Hasura's startup rules and against what hauth itself would tell
//! Hasura), hauth's whole configuration as hauth would load it, and the Dockerfile's final stage.
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::Value as Json;
use serde_yaml::Value;

fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn compose() -> Value {
    let text = std::fs::read_to_string(repo_file("docker-compose.yml")).unwrap();
    // serde_yaml resolves anchors and aliases (`*jwt-secret`) while parsing.
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("docker-compose.yml is not valid YAML: {e}"))
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"].get(name).unwrap_or_else(|| panic!("service {name} missing"))
}

/// A service's environment, in either compose spelling: a mapping, or a list of `KEY=value`.
fn environment(service: &Value) -> BTreeMap<String, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => panic!("environment value {other:?} is not a scalar"),
    };
    match service.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(map)) => map.iter().map(|(k, v)| (k.as_str().unwrap().to_string(), scalar(v))).collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                let item = item.as_str().unwrap();
                let (key, value) = item.split_once('=').unwrap_or((item, ""));
                (key.to_string(), value.to_string())
            })
            .collect(),
        Some(other) => panic!("environment {other:?} is neither a mapping nor a list"),
    }
}

/// The rules Hasura v2 applies to `HASURA_GRAPHQL_JWT_SECRET` at startup (its `FromJSON JWTConfig` and key parsing).
fn assert_hasura_accepts(secret: &Json) {
    let object = secret.as_object().unwrap_or_else(|| panic!("the JWT secret must be a JSON object: {secret}"));
    let has_key = object.contains_key("key");
    let has_url = object.contains_key("jwk_url");
    assert!(has_key != has_url, "give either type+key or jwk_url, not both or neither: {secret}");
    if has_url {
        let url = object["jwk_url"].as_str().unwrap();
        assert!(url.starts_with("http://") || url.starts_with("https://"), "jwk_url {url}");
        return;
    }
    let key_type = object.get("type").and_then(Json::as_str).expect("type is required with key");
    let key = object["key"].as_str().expect("key is a string");
    let hmac_minimum = match key_type {
        "HS256" => Some(32),
        "HS384" => Some(48),
        "HS512" => Some(64),
        "RS256" | "RS384" | "RS512" | "Ed25519" | "ES256" | "ES384" | "ES512" => None,
        other => panic!("Hasura does not support key type {other}"),
    };
    match hmac_minimum {
        Some(minimum) => assert!(key.len() >= minimum, "{key_type} keys must be at least {minimum} bytes"),
        None => assert!(key.contains("-----BEGIN"), "{key_type} key must be a PEM"),
    }
    if let Some(path) = object.get("claims_namespace_path") {
        assert!(!object.contains_key("claims_namespace"), "claims_namespace and _path together: {path}");
    }
}

#[test]
fn docker_compose_has_the_four_services_and_no_version_key() {
    let compose = compose();
    assert!(compose.get("version").is_none(), "the compose spec has no version key");
    let services: Vec<&str> = compose["services"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    for name in ["postgres", "hauth", "graphql-engine", "mail"] {
        assert!(services.contains(&name), "service {name} missing from {services:?}");
    }
    let postgres = service(&compose, "postgres");
    assert!(postgres["image"].as_str().unwrap().starts_with("postgres:"));
    let test = format!("{:?}", postgres["healthcheck"]["test"]);
    assert!(test.contains("pg_isready"), "postgres healthcheck: {test}");
    let mail = service(&compose, "mail");
    assert!(mail["image"].as_str().unwrap().starts_with("axllent/mailpit"));
    let ports = format!("{:?}", mail["ports"]);
    assert!(ports.contains("1025") && ports.contains("8025"), "mailpit SMTP and UI ports: {ports}");
}

#[test]
fn hasura_gets_a_jwt_secret_it_accepts_and_that_matches_hauths_key() {
    let compose = compose();
    let hasura = environment(service(&compose, "graphql-engine"));
    let hauth = environment(service(&compose, "hauth"));

    let raw = hasura.get("HASURA_GRAPHQL_JWT_SECRET").expect("graphql-engine runs in JWT mode");
    let hasura_secret: Json = serde_json::from_str(raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"));
    assert_hasura_accepts(&hasura_secret);
    assert!(hasura.contains_key("HASURA_GRAPHQL_ADMIN_SECRET"), "JWT mode requires an admin secret");
    assert!(!hasura.contains_key("HASURA_GRAPHQL_AUTH_HOOK"), "JWT and webhook modes are mutually exclusive");
    assert_eq!(hasura.get("HASURA_GRAPHQL_UNAUTHORIZED_ROLE").map(String::as_str), Some("public"));

    // hauth loads its configuration from this environment, and what it would tell Hasura to use
    // (`hauth hasura jwt-secret`) verifies the same tokens as the secret Hasura is given.
    let vars: HashMap<String, String> = hauth.clone().into_iter().collect();
    let config = hauth::config::Config::from_env(&vars).unwrap_or_else(|e| panic!("hauth rejects its env: {e}"));
    let keys = hauth::jwt::JwtKeys::from_config(&config.jwt).unwrap();
    let expected = hauth::cli::hasura_jwt_secret(&config, &keys);
    if keys.is_hmac() {
        assert_eq!(hasura_secret.get("type"), expected.get("type"), "HMAC type");
        assert_eq!(hasura_secret.get("key"), expected.get("key"), "Hasura and hauth must share the HMAC key");
    } else {
        let url = hasura_secret["jwk_url"].as_str().expect("asymmetric keys reach Hasura as a jwk_url");
        assert!(url.ends_with("/.well-known/jwks.json"), "{url}");
    }
    for (name, value) in hasura_secret.as_object().unwrap() {
        if !["type", "key", "jwk_url"].contains(&name.as_str()) {
            assert_eq!(Some(value), expected.get(name), "{name} differs from what hauth prints");
        }
    }
}

#[test]
fn hauth_in_compose_is_configured_built_and_health_checked() {
    let compose = compose();
    let hauth = service(&compose, "hauth");
    let env = environment(hauth);
    assert_eq!(env["DATABASE_URL"], "postgres://postgres:postgres@postgres:5432/postgres");
    assert_eq!(env["AUTH_SERVER_URL"], "http://localhost:4000");
    assert_eq!(env["AUTH_CLIENT_URL"], "http://localhost:3000");
    assert_eq!(env["AUTH_SMTP_HOST"], "mail");
    assert_eq!(env["AUTH_SMTP_PORT"], "1025");
    assert!(env.get("AUTH_ACTIONS_SECRET").is_some_and(|s| !s.is_empty()), "actions need a shared secret");
    let secret: Json = serde_json::from_str(&env["HASURA_GRAPHQL_JWT_SECRET"]).unwrap();
    assert!(secret.get("type").is_some(), "hauth's secret names its key type: {secret}");

    let build = &hauth["build"];
    let (context, dockerfile) = match build {
        Value::String(context) => (context.as_str(), "Dockerfile"),
        Value::Mapping(_) => (
            build["context"].as_str().unwrap_or("."),
            build.get("dockerfile").and_then(Value::as_str).unwrap_or("Dockerfile"),
        ),
        other => panic!("hauth must be built from the Dockerfile, found build: {other:?}"),
    };
    assert_eq!(context, ".");
    assert!(repo_file(dockerfile).is_file(), "{dockerfile} missing");

    assert!(format!("{:?}", hauth["ports"]).contains("4000:4000"));
    let depends = &hauth["depends_on"]["postgres"];
    assert_eq!(depends["condition"].as_str(), Some("service_healthy"), "hauth waits for Postgres");
    let test = format!("{:?}", hauth["healthcheck"]["test"]);
    assert!(test.contains("/healthz") && test.contains("curl"), "hauth healthcheck: {test}");
}

#[test]
fn hasura_starts_after_hauth_and_can_reach_the_action_handler() {
    let compose = compose();
    let engine = service(&compose, "graphql-engine");
    assert!(engine["image"].as_str().unwrap().starts_with("hasura/graphql-engine:v2."));
    assert_eq!(
        engine["depends_on"]["hauth"]["condition"].as_str(),
        Some("service_healthy"),
        "Hasura fetches the JWKS at startup, so hauth must be up first"
    );
    let env = environment(engine);
    let hauth_env = environment(service(&compose, "hauth"));
    assert_eq!(env["HAUTH_URL"], "http://hauth:4000", "actions.yaml's handler template");
    assert_eq!(env["AUTH_ACTIONS_SECRET"], hauth_env["AUTH_ACTIONS_SECRET"], "the action secret is shared");
    assert_eq!(env["HASURA_GRAPHQL_ADMIN_SECRET"], hauth_env["HASURA_GRAPHQL_ADMIN_SECRET"]);
    assert!(env["HASURA_GRAPHQL_DATABASE_URL"].starts_with("postgres://"));
    let volumes = format!("{:?}", engine["volumes"]);
    assert!(volumes.contains("./hasura/metadata:/hasura-metadata"), "metadata mounted: {volumes}");
}

/// The Dockerfile's instructions, with continuation lines joined and comments dropped.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_file("Dockerfile")).unwrap();
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, rest) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
        instructions.push((keyword.to_ascii_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    instructions
}

#[test]
fn the_dockerfile_builds_with_cargo_and_runs_hauth_serve_as_a_non_root_user() {
    let instructions = dockerfile_instructions();
    let stages: Vec<usize> =
        instructions.iter().enumerate().filter(|(_, (k, _))| k == "FROM").map(|(i, _)| i).collect();
    assert!(stages.len() >= 2, "a multi-stage build");
    let builds = instructions.iter().any(|(k, rest)| k == "RUN" && rest.contains("cargo build --release --locked"));
    assert!(builds, "the builder runs cargo build --release --locked");

    let last = &instructions[*stages.last().unwrap()..];
    assert!(last[0].1.starts_with("debian:bookworm-slim"), "runtime image: {}", last[0].1);
    let find = |keyword: &str| last.iter().rev().find(|(k, _)| k == keyword).map(|(_, rest)| rest.clone());
    let entrypoint: Vec<String> = serde_json::from_str(&find("ENTRYPOINT").expect("ENTRYPOINT in the last stage"))
        .expect("ENTRYPOINT in exec (JSON) form");
    assert!(entrypoint[0] == "hauth" || entrypoint[0].ends_with("/hauth"), "ENTRYPOINT {entrypoint:?}");
    let cmd: Vec<String> = serde_json::from_str(&find("CMD").expect("CMD in the last stage")).unwrap();
    assert_eq!(cmd, vec!["serve"]);
    let user = find("USER").expect("the runtime stage switches to a non-root user");
    let user = user.split(':').next().unwrap();
    assert!(user != "root" && user != "0", "USER {user}");
    assert!(find("EXPOSE").is_some_and(|ports| ports.split_whitespace().any(|p| p == "4000")));
    let installs = last.iter().any(|(k, rest)| k == "RUN" && rest.contains("ca-certificates") && rest.contains("curl"));
    assert!(installs, "the runtime installs ca-certificates and the curl the health checks use");
    assert!(
        last.iter().any(|(k, rest)| k == "COPY" && rest.starts_with("--from=")),
        "the binary comes from the builder"
    );

    let ignore = std::fs::read_to_string(repo_file(".dockerignore")).expect(".dockerignore");
    let ignored: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for needed in ["target", ".git", "**/node_modules", ".hauth-dev"] {
        assert!(ignored.contains(&needed), ".dockerignore must exclude {needed}");
    }
}
