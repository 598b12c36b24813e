//! The admin API and the `hauth users` commands: only the admin secret or an admin's token gets in; users
//! are listed with paging and search, created, disabled (their sessions end) and enabled, given roles,
//! unlocked and deleted with their sessions; roles, permissions and their assignment.
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply};

const SECRET: &str = "an-admin-secret-for-tests";

async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Reply {
    let request = match method {
        "GET" => app.client.get(path),
        "POST" => app.client.post(path),
        "PUT" => app.client.put(path),
        _ => app.client.delete(path),
    }
    .header("x-hasura-admin-secret", SECRET);
    let request = match body {
        Some(body) => request.body_json(&body),
        None => request,
    };
    Reply::read(request.send().await.0).await
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("HASURA_GRAPHQL_ADMIN_SECRET", SECRET), ("AUTH_LOCKOUT_THRESHOLD", "2")]).await
}

#[tokio::test]
async fn only_the_admin_secret_or_an_admins_token_gets_in() {
    let app = spawn().await;
    let session = app.signed_up_session("plain@example.com").await;
    let token = session["accessToken"].as_str().unwrap();
    assert_eq!(app.get("/admin/users", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/admin/users", Some(token)).await.status, StatusCode::FORBIDDEN);
    let wrong = app.client.get("/admin/users").header("x-hasura-admin-secret", "guess").send().await;
    assert_eq!(wrong.0.status(), StatusCode::UNAUTHORIZED);

    let id = session["user"]["id"].as_str().unwrap();
    admin(&app, "POST", "/admin/roles", Some(json!({"role": "admin"}))).await;
    let reply = admin(
        &app,
        "PUT",
        &format!("/admin/users/{id}/roles"),
        Some(json!({"defaultRole": "user", "roles": ["admin"]})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["roles"], json!(["user", "admin"]));
    let refreshed = app.refresh(session["refreshToken"].as_str().unwrap()).await;
    let admin_token = refreshed.body["accessToken"].as_str().unwrap();
    let listed = app.get("/admin/users", Some(admin_token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
}

#[tokio::test]
async fn users_are_listed_created_disabled_unlocked_and_deleted_with_their_sessions() {
    let app = spawn().await;
    for n in 0..5 {
        app.signup(&format!("user{n}@example.com")).await;
        app.clock.advance(chrono::TimeDelta::seconds(1));
    }
    let created = admin(
        &app,
        "POST",
        "/admin/users",
        Some(json!({"email": "made@example.com", "password": PASSWORD, "displayName": "Made Here", "emailVerified": true})),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert_eq!(created.body["displayName"], "Made Here");
    assert_eq!(created.body["disabled"], false);
    let id = created.body["id"].as_str().unwrap().to_string();

    let page = admin(&app, "GET", "/admin/users?limit=2&offset=1", None).await;
    assert_eq!(page.body["total"], 6);
    let emails: Vec<&str> =
        page.body["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["user1@example.com", "user2@example.com"]);
    let found = admin(&app, "GET", "/admin/users?search=MADE", None).await;
    assert_eq!(found.body["total"], 1);
    assert_eq!(admin(&app, "GET", &format!("/admin/users/{id}"), None).await.body["email"], "made@example.com");

    let session = app.signin("made@example.com", PASSWORD).await.body["session"].clone();
    let disabled = admin(&app, "POST", &format!("/admin/users/{id}/disable"), None).await;
    assert_eq!(disabled.body["disabled"], true);
    assert_eq!(app.refresh(session["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.signin("made@example.com", PASSWORD).await.error_code(), "disabled-user");
    admin(&app, "POST", &format!("/admin/users/{id}/enable"), None).await;
    assert_eq!(app.signin("made@example.com", PASSWORD).await.status, StatusCode::OK);

    app.signin("made@example.com", "wrong-password").await;
    app.signin("made@example.com", "wrong-password").await;
    assert_eq!(app.signin("made@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED, "locked");
    admin(&app, "POST", &format!("/admin/users/{id}/unlock"), None).await;
    assert_eq!(app.signin("made@example.com", PASSWORD).await.status, StatusCode::OK);

    let deleted = admin(&app, "DELETE", &format!("/admin/users/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(admin(&app, "GET", &format!("/admin/users/{id}"), None).await.status, StatusCode::NOT_FOUND);
    let sessions = app.rows("select count(*) from auth.refresh_tokens where user_id = $1::text::uuid", &[&id]).await;
    assert_eq!(sessions[0].get::<_, i64>(0), 0);
    let audited = app.count("select count(*) from auth.audit_log where event like 'admin.%'").await;
    assert!(audited >= 5, "{audited}");
}

#[tokio::test]
async fn roles_and_permissions_are_managed_and_a_held_role_is_kept() {
    let app = spawn().await;
    assert_eq!(admin(&app, "POST", "/admin/roles", Some(json!({"role": "editor"}))).await.status, StatusCode::OK);
    let saved = admin(
        &app,
        "POST",
        "/admin/permissions",
        Some(json!({"permission": "posts:write", "description": "Write posts"})),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(admin(&app, "PUT", "/admin/roles/editor/permissions/posts:write", None).await.status, StatusCode::OK);
    assert_eq!(admin(&app, "PUT", "/admin/roles/editor/permissions/nothing", None).await.status, StatusCode::NOT_FOUND);
    let roles = admin(&app, "GET", "/admin/roles", None).await;
    let editor = roles.body.as_array().unwrap().iter().find(|role| role["role"] == "editor").unwrap().clone();
    assert_eq!(editor["permissions"], json!(["posts:write"]));
    let permissions = admin(&app, "GET", "/admin/permissions", None).await;
    assert_eq!(permissions.body, json!([{"permission": "posts:write", "description": "Write posts"}]));

    let user = app.signed_up_session("editor@example.com").await["user"]["id"].as_str().unwrap().to_string();
    let set =
        admin(&app, "PUT", &format!("/admin/users/{user}/roles"), Some(json!({"defaultRole": "editor", "roles": []})))
            .await;
    assert_eq!(set.body["defaultRole"], "editor");
    let unknown =
        admin(&app, "PUT", &format!("/admin/users/{user}/roles"), Some(json!({"defaultRole": "nope", "roles": []})))
            .await;
    assert_eq!(unknown.error_code(), "role-not-allowed");
    let held = admin(&app, "DELETE", "/admin/roles/editor", None).await;
    assert_eq!(held.status, StatusCode::CONFLICT);
    assert_eq!(held.error_code(), "role-in-use");
    assert_eq!(admin(&app, "DELETE", "/admin/roles/editor/permissions/posts:write", None).await.status, StatusCode::OK);
    assert_eq!(admin(&app, "DELETE", "/admin/permissions/posts:write", None).await.status, StatusCode::OK);
    assert_eq!(admin(&app, "DELETE", "/admin/permissions/posts:write", None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_users_commands_list_create_disable_and_set_roles() {
    let server = crate::helpers::server::TestServer::start(&[]).await;
    let run = |args: &[&str], extra: &[(&str, &str)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hauth"))
            .args(args)
            .env_clear()
            .envs(&server.env)
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "hauth {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let created = run(
        &["users", "create", "cli@example.com", "--roles", "me", "--verified"],
        &[("HAUTH_NEW_PASSWORD", PASSWORD)],
    );
    let created: Value = serde_json::from_str(created.trim()).unwrap();
    assert_eq!(created["emailVerified"], true);
    assert_eq!(created["roles"], json!(["me", "user"]));
    let listed = run(&["users", "list", "--search", "cli@"], &[]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let client = reqwest::Client::new();
    let signin = |password: &'static str| {
        client
            .post(format!("{}/signin/email-password", server.url))
            .json(&json!({"email": "cli@example.com", "password": password}))
            .send()
    };
    assert_eq!(signin(PASSWORD).await.unwrap().status(), 200);
    let disabled: Value = serde_json::from_str(run(&["users", "disable", "cli@example.com"], &[]).trim()).unwrap();
    assert_eq!(disabled["disabled"], true);
    assert_eq!(signin(PASSWORD).await.unwrap().status(), 401);
    run(&["users", "disable", "cli@example.com", "--enable"], &[]);
    let roles = run(&["users", "set-roles", "cli@example.com", "--default-role", "me", "--roles", "user"], &[]);
    let roles: Value = serde_json::from_str(roles.trim()).unwrap();
    assert_eq!(roles["defaultRole"], "me");
    assert_eq!(signin(PASSWORD).await.unwrap().status(), 200);
}

#[tokio::test]
async fn role_names_postgres_cannot_store_are_refused_with_400() {
    let app = spawn().await;
    let created =
        admin(&app, "POST", "/admin/users", Some(json!({"email": "nul@example.com", "defaultRole": "a\u{0}b"}))).await;
    assert_eq!(created.status, StatusCode::BAD_REQUEST, "{}", created.text);
    assert_eq!(created.error_code(), "invalid-request");
    let created =
        admin(&app, "POST", "/admin/users", Some(json!({"email": "nul@example.com", "roles": ["user", "\u{0}"]})))
            .await;
    assert_eq!(created.status, StatusCode::BAD_REQUEST, "{}", created.text);
    assert_eq!(app.count("select count(*) from auth.users").await, 0);

    let created = admin(&app, "POST", "/admin/users", Some(json!({"email": "nul@example.com"}))).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    let set = admin(
        &app,
        "PUT",
        &format!("/admin/users/{id}/roles"),
        Some(json!({"defaultRole": "user", "roles": ["\u{0}"]})),
    )
    .await;
    assert_eq!(set.status, StatusCode::BAD_REQUEST, "{}", set.text);
}
