//! Migrations: the nhost-compatible `auth` schema on a fresh database, adopting an nhost database in
//! place (its schema only added to, its rows unchanged, its passwords, sessions and tokens still working), and replicas that start together migrating exactly once.
use std::collections::{BTreeMap, BTreeSet};

use poem::EndpointExt;
use poem::http::StatusCode;
use poem::test::TestClient;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::PASSWORD;
use crate::helpers::db::TestDb;
use crate::helpers::nhost::{ADA, ADA_EXPIRED_TOKEN, ADA_REFRESH_TOKEN, GRACE, GRACE_PAT, LINUS, nhost_database};

#[tokio::test]
async fn migrations_create_the_nhost_tables_and_seed_data() {
    let db = TestDb::create_empty().await;
    let applied = hauth::db::migrate::run(&db.url).await.unwrap();
    assert_eq!(applied.len() as i32, hauth::db::migrate::latest_version());
    let client = db.connect().await;
    for table in [
        "users",
        "roles",
        "user_roles",
        "refresh_tokens",
        "refresh_token_types",
        "providers",
        "user_providers",
        "provider_requests",
        "user_security_keys",
        "hauth_migrations",
    ] {
        let found = client
            .query_opt(
                "select 1 from information_schema.tables where table_schema = 'auth' and table_name = $1",
                &[&table],
            )
            .await
            .unwrap();
        assert!(found.is_some(), "auth.{table} missing");
    }
    let roles: Vec<String> = client
        .query("select role from auth.roles order by role", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(roles, vec!["anonymous", "me", "user"]);
    let providers: Vec<String> =
        client.query("select id from auth.providers", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    for provider in [
        "google",
        "github",
        "facebook",
        "twitter",
        "linkedin",
        "apple",
        "azuread",
        "entraid",
        "slack",
        "discord",
        "twitch",
        "gitlab",
        "bitbucket",
        "spotify",
    ] {
        assert!(providers.contains(&provider.to_string()), "{provider} not seeded");
    }
    let types: i64 = client
        .query_one("select count(*) from auth.refresh_token_types where value in ('regular', 'pat')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(types, 2);
}

#[tokio::test]
async fn migrating_again_is_a_no_op() {
    let db = TestDb::create_empty().await;
    hauth::db::migrate::run(&db.url).await.unwrap();
    assert!(hauth::db::migrate::run(&db.url).await.unwrap().is_empty());
}

#[tokio::test]
async fn replicas_migrating_at_once_take_turns() {
    let db = TestDb::create_empty().await;
    let runs = futures::future::join_all((0..4).map(|_| hauth::db::migrate::run(&db.url))).await;
    let mut total = 0;
    for run in runs {
        total += run.expect("every replica starts").len();
    }
    assert_eq!(total as i32, hauth::db::migrate::latest_version(), "each migration applied exactly once");
}

/// nhost's tables and the columns they had before hauth migrated: what adoption must not lose.
const NHOST_TABLES: &[&str] = &[
    "schema_migrations",
    "provider_requests",
    "providers",
    "refresh_token_types",
    "roles",
    "users",
    "refresh_tokens",
    "user_providers",
    "user_roles",
    "user_security_keys",
];

/// Every row of nhost's tables, with only the columns nhost knew, as JSON, in a stable order.
async fn nhost_rows(
    client: &tokio_postgres::Client,
    columns: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Value> {
    let mut rows = BTreeMap::new();
    for (table, columns) in columns {
        let list = columns.iter().map(|column| format!("\"{column}\"")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "select coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text), '[]') from (select {list} from auth.{table}) t"
        );
        rows.insert(table.clone(), client.query_one(&sql, &[]).await.unwrap().get(0));
    }
    rows
}

/// The schema objects of `auth` as lines: columns (type, nullability, default), constraints, indexes, triggers.
async fn auth_objects(client: &tokio_postgres::Client) -> BTreeSet<String> {
    let queries = [
        "select table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
                coalesce(column_default, '') from information_schema.columns where table_schema = 'auth'",
        "select conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) from pg_constraint
         where connamespace = 'auth'::regnamespace",
        "select indexdef from pg_indexes where schemaname = 'auth'",
        "select tgrelid::regclass::text || ' ' || tgname from pg_trigger
         where not tgisinternal and tgrelid::regclass::text like 'auth.%'",
    ];
    let mut objects = BTreeSet::new();
    for sql in queries {
        for row in client.query(sql, &[]).await.unwrap() {
            objects.insert(row.get::<_, String>(0));
        }
    }
    objects
}

#[tokio::test]
async fn an_nhost_database_is_adopted_in_place_with_nothing_lost() {
    let db = nhost_database().await;
    let client = db.connect().await;
    let mut columns = BTreeMap::new();
    for table in NHOST_TABLES {
        let names: Vec<String> = client
            .query(
                "select column_name::text from information_schema.columns
                 where table_schema = 'auth' and table_name = $1 order by ordinal_position",
                &[table],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(!names.is_empty(), "{table}");
        columns.insert(table.to_string(), names);
    }
    let rows_before = nhost_rows(&client, &columns).await;
    let objects_before = auth_objects(&client).await;

    let applied = hauth::db::migrate::run(&db.url).await.expect("adopts the nhost schema");
    assert_eq!(applied.len() as i32, hauth::db::migrate::latest_version());
    assert_eq!(hauth::db::migrate::run(&db.url).await.unwrap(), Vec::<i32>::new(), "and once is enough");

    // Only additions: every nhost column (same type, nullability and default), constraint, index and trigger
    // is still there, and every row of every nhost table reads back the same.
    let objects_after = auth_objects(&client).await;
    let lost: Vec<&String> = objects_before.difference(&objects_after).collect();
    assert!(lost.is_empty(), "nhost schema objects changed or dropped: {lost:#?}");
    let rows_after = nhost_rows(&client, &columns).await;
    for (table, before) in &rows_before {
        let after = rows_after[table].as_array().unwrap();
        let before = before.as_array().unwrap();
        let missing: Vec<&Value> = before.iter().filter(|row| !after.contains(row)).collect();
        assert!(missing.is_empty(), "{table} rows lost or changed: {missing:#?}");
        let added: Vec<&Value> = after.iter().filter(|row| !before.contains(row)).collect();
        // The one addition: the providers hauth knows beyond nhost's.
        let expected_added = if table == "providers" {
            vec![json!({"id": "entraid"}), json!({"id": "microsoft"}), json!({"id": "slack"})]
        } else {
            vec![]
        };
        assert_eq!(added.into_iter().cloned().collect::<Vec<Value>>(), expected_added, "{table} rows added");
    }
    let counts: Vec<usize> = rows_before.values().map(|rows| rows.as_array().unwrap().len()).collect();
    assert!(counts.iter().all(|count| *count > 0), "every nhost table holds rows: {counts:?}");
    let family: Option<uuid::Uuid> = client
        .query_one("select family_id from auth.refresh_tokens where id = 'c0000000-0000-4000-8000-000000000001'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(family.is_some(), "existing sessions join the rotation scheme");

    let mut env = crate::helpers::app::base_env(&db.url);
    env.insert("AUTH_SKIP_MIGRATIONS".into(), "true".into());
    let config = hauth::config::Config::from_env(&env).unwrap();
    let state = hauth::state::AppState::build(config, hauth::clock::Clock::System).unwrap();
    let app = TestApp {
        db,
        client: TestClient::new(hauth::api::routes(state.clone()).boxed()),
        state,
        clock: hauth::clock::Clock::System,
        prefix: String::new(),
    };
    let password_hash = |id: &'static str| {
        let client = &client;
        async move {
            client
                .query_one("select password_hash from auth.users where id = $1::text::uuid", &[&id])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };

    // Old passwords sign in (bcrypt `$2b$` and bcryptjs' `$2a$`), and are re-hashed with argon2id.
    for (email, id) in [("ada@example.com", ADA), ("grace@example.com", GRACE)] {
        assert!(password_hash(id).await.starts_with("$2"));
        assert_eq!(app.signin(email, "not-the-password").await.status, StatusCode::UNAUTHORIZED);
        let signed_in = app.signin(email, PASSWORD).await;
        assert_eq!(signed_in.status, StatusCode::OK, "{email}: {}", signed_in.text);
        assert!(password_hash(id).await.starts_with("$argon2id$"), "{email}'s hash is upgraded");
        assert_eq!(app.signin(email, PASSWORD).await.status, StatusCode::OK, "{email} after the upgrade");
    }
    let barred = app.signin("barred@example.com", PASSWORD).await;
    assert_eq!(barred.status, StatusCode::UNAUTHORIZED, "{}", barred.text);
    assert_eq!(barred.error_code(), "disabled-user");

    // The session nhost issued refreshes, and the user is whole: profile, metadata, roles.
    let refreshed = app.refresh(ADA_REFRESH_TOKEN).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let user = app.get("/user", refreshed.body["accessToken"].as_str()).await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.text);
    assert_eq!(
        (&user.body["id"], &user.body["displayName"], &user.body["locale"], &user.body["metadata"]),
        (&json!(ADA), &json!("Ada"), &json!("fr"), &json!({"plan": "pro"}))
    );
    assert_eq!((&user.body["phoneNumber"], &user.body["defaultRole"]), (&json!("+14155550101"), &json!("user")));
    let mut roles: Vec<String> = serde_json::from_value(user.body["roles"].clone()).unwrap();
    roles.sort();
    assert_eq!(roles, ["me", "user"]);
    // ... the rotated token too; the expired one does not.
    let rotated = refreshed.body["refreshToken"].as_str().unwrap();
    assert_eq!(app.refresh(rotated).await.status, StatusCode::OK);
    assert_eq!(app.refresh(ADA_EXPIRED_TOKEN).await.status, StatusCode::UNAUTHORIZED);

    // nhost's personal access token signs in, with the custom role and default role it had.
    let pat = app.post("/signin/pat", json!({"personalAccessToken": GRACE_PAT})).await;
    assert_eq!(pat.status, StatusCode::OK, "{}", pat.text);
    let grace = app.get("/user", pat.body["session"]["accessToken"].as_str()).await;
    assert_eq!(grace.body["defaultRole"], "editor");
    let mut roles: Vec<String> = serde_json::from_value(grace.body["roles"].clone()).unwrap();
    roles.sort();
    assert_eq!(roles, ["editor", "me", "user"]);

    // The GitHub identity is found by provider and provider user id, for Linus.
    let pooled = app.state.pool.get().await.unwrap();
    let identity = hauth::db::user_providers::select_identity(&pooled, &["github".to_string()], "3003")
        .await
        .unwrap()
        .expect("Linus's GitHub link");
    assert_eq!(identity.user_id, uuid::Uuid::parse_str(LINUS).unwrap());
}
