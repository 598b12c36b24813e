//! The hasura/ metadata folder: every YAML parses, every !include resolves, actions.graphql parses, and every
//! tracked table and column exists in the migrated schema.
//!
//! Hasura cannot run here, so these are the offline checks the Hasura contract lists: the files parse, the
//! includes resolve the way the CLI resolves them, actions.yaml and actions.graphql agree, and every name the
//! metadata uses (tables, columns, foreign keys) exists in a database migrated by hauth.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use graphql_parser::schema::{Definition, Document, Type, TypeDefinition, TypeExtension};
use serde_yaml::Value;

use crate::helpers::db::TestDb;

fn hasura_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hasura")
}

fn metadata_dir() -> PathBuf {
    hasura_dir().join("metadata")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn parse_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// The file an `!include` names, in either spelling: the quoted string `"!include x.yaml"` the CLI writes, or
/// the YAML tag `!include x.yaml`.
fn include_target(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => s.strip_prefix("!include ").map(|rest| rest.trim().to_string()),
        Value::Tagged(tagged) if tagged.tag == "include" => match &tagged.value {
            Value::String(s) => Some(s.trim().to_string()),
            other => panic!("!include must name a file, found {other:?}"),
        },
        _ => None,
    }
}

/// Replaces every `!include` below `value` with the included file's (resolved) content. Paths are relative
/// to the including file's folder, as the Hasura CLI reads them. `seen` collects every included file.
fn resolve(value: Value, dir: &Path, seen: &mut BTreeSet<PathBuf>) -> Value {
    if let Some(target) = include_target(&value) {
        let path = dir.join(&target);
        assert!(path.is_file(), "!include {target} (from {}) does not exist", dir.display());
        let path = path.canonicalize().unwrap();
        assert!(seen.insert(path.clone()), "{} is included twice", path.display());
        let included = parse_yaml(&path);
        return resolve(included, path.parent().unwrap(), seen);
    }
    match value {
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(|v| resolve(v, dir, seen)).collect()),
        Value::Mapping(map) => Value::Mapping(map.into_iter().map(|(k, v)| (k, resolve(v, dir, seen))).collect()),
        other => other,
    }
}

/// databases.yaml with every include resolved, plus the files the includes reached.
fn resolved_databases() -> (Value, BTreeSet<PathBuf>) {
    let path = metadata_dir().join("databases").join("databases.yaml");
    let mut seen = BTreeSet::new();
    let value = resolve(parse_yaml(&path), path.parent().unwrap(), &mut seen);
    (value, seen)
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("expected a string at {key:?} in {value:?}"))
}

fn seq_of<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_sequence).map(Vec::as_slice).unwrap_or(&[])
}

/// A tracked table as the metadata describes it.
struct Tracked {
    schema: String,
    name: String,
    entry: Value,
}

fn tracked_tables() -> Vec<Tracked> {
    let (databases, _) = resolved_databases();
    let sources = databases.as_sequence().expect("databases.yaml is a list of sources");
    assert_eq!(sources.len(), 1, "one source");
    let source = &sources[0];
    assert_eq!(str_of(source, "name"), "default");
    assert_eq!(str_of(source, "kind"), "postgres");
    let url = &source["configuration"]["connection_info"]["database_url"];
    assert_eq!(str_of(url, "from_env"), "HASURA_GRAPHQL_DATABASE_URL");
    seq_of(source, "tables")
        .iter()
        .map(|entry| Tracked {
            schema: str_of(&entry["table"], "schema").to_string(),
            name: str_of(&entry["table"], "name").to_string(),
            entry: entry.clone(),
        })
        .collect()
}

fn actions_graphql() -> Document<'static, String> {
    let text = std::fs::read_to_string(metadata_dir().join("actions.graphql")).unwrap();
    let text: &'static str = Box::leak(text.into_boxed_str());
    graphql_parser::parse_schema::<String>(text).unwrap_or_else(|e| panic!("actions.graphql does not parse: {e}"))
}

/// Field names of the root type `root` (`Mutation` or `Query`), across all of its definitions and extensions.
fn root_fields(doc: &Document<'static, String>, root: &str) -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    for definition in &doc.definitions {
        match definition {
            Definition::TypeDefinition(TypeDefinition::Object(object)) if object.name == root => {
                fields.extend(object.fields.iter().map(|f| f.name.clone()));
            }
            Definition::TypeExtension(TypeExtension::Object(object)) if object.name == root => {
                fields.extend(object.fields.iter().map(|f| f.name.clone()));
            }
            _ => {}
        }
    }
    fields
}

fn base_type_name<'a>(ty: &'a Type<'static, String>) -> &'a str {
    match ty {
        Type::NamedType(name) => name,
        Type::ListType(inner) | Type::NonNullType(inner) => base_type_name(inner),
    }
}

fn is_lower_camel_case(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

#[test]
fn every_yaml_file_under_hasura_parses() {
    let mut files = Vec::new();
    yaml_files(&hasura_dir(), &mut files);
    assert!(files.len() >= 20, "expected the config, the top-level metadata files and the tables, found {files:?}");
    for file in &files {
        parse_yaml(file);
    }
    let config = parse_yaml(&hasura_dir().join("config.yaml"));
    assert_eq!(config["version"].as_u64(), Some(3));
    assert_eq!(str_of(&config, "metadata_directory"), "metadata");
    assert_eq!(str_of(&config["actions"], "kind"), "synchronous");
    assert_eq!(parse_yaml(&metadata_dir().join("version.yaml"))["version"].as_u64(), Some(3));
}

#[test]
fn the_metadata_folder_has_every_top_level_file_of_a_config_v3_export() {
    let lists =
        ["allow_list", "cron_triggers", "inherited_roles", "query_collections", "remote_schemas", "rest_endpoints"];
    for name in lists {
        let value = parse_yaml(&metadata_dir().join(format!("{name}.yaml")));
        assert!(value.is_sequence(), "{name}.yaml must be a list, found {value:?}");
    }
    for name in ["api_limits", "network", "backend_configs"] {
        let value = parse_yaml(&metadata_dir().join(format!("{name}.yaml")));
        assert!(value.is_mapping(), "{name}.yaml must be a mapping, found {value:?}");
    }
    let introspection = parse_yaml(&metadata_dir().join("graphql_schema_introspection.yaml"));
    assert!(introspection["disabled_for_roles"].is_sequence(), "the server requires disabled_for_roles");
    for name in ["actions.graphql", "actions.yaml", "version.yaml", "databases/databases.yaml"] {
        assert!(metadata_dir().join(name).is_file(), "{name} missing");
    }
}

#[test]
fn every_include_resolves_to_an_existing_file_and_every_table_file_is_included() {
    let (_, seen) = resolved_databases();
    let tables_dir = metadata_dir().join("databases").join("default").join("tables").canonicalize().unwrap();
    assert!(seen.contains(&tables_dir.join("tables.yaml")), "databases.yaml must include tables.yaml");
    let mut files = Vec::new();
    yaml_files(&tables_dir, &mut files);
    for file in files {
        let file = file.canonicalize().unwrap();
        assert!(seen.contains(&file), "{} is not reached by any !include", file.display());
    }
}

#[test]
fn the_auth_tables_are_tracked_under_nhost_graphql_names() {
    let expected = [
        ("oauth_states", "authOauthStates", "authOauthState"),
        ("audit_log", "authAuditLogs", "authAuditLog"),
        ("users", "users", "user"),
        ("user_roles", "authUserRoles", "authUserRole"),
        ("refresh_tokens", "authRefreshTokens", "authRefreshToken"),
        ("refresh_token_types", "authRefreshTokenTypes", "authRefreshTokenType"),
        ("user_providers", "authUserProviders", "authUserProvider"),
        ("providers", "authProviders", "authProvider"),
        ("provider_requests", "authProviderRequests", "authProviderRequest"),
        ("roles", "authRoles", "authRole"),
        ("user_security_keys", "authUserSecurityKeys", "authUserSecurityKey"),
    ];
    let tables = tracked_tables();
    assert_eq!(tables.len(), expected.len());
    let mut root_fields = BTreeSet::new();
    for (table, many, one) in expected {
        let tracked = tables.iter().find(|t| t.schema == "auth" && t.name == table).unwrap_or_else(|| {
            panic!("auth.{table} is not tracked");
        });
        let configuration = &tracked.entry["configuration"];
        assert_eq!(str_of(configuration, "custom_name"), many, "auth.{table} custom_name");
        let roots = &configuration["custom_root_fields"];
        assert_eq!(str_of(roots, "select"), many, "auth.{table} select");
        assert_eq!(str_of(roots, "select_by_pk"), one, "auth.{table} select_by_pk");
        let upper = |s: &str| format!("{}{}", s[..1].to_uppercase(), &s[1..]);
        assert_eq!(str_of(roots, "select_aggregate"), format!("{many}Aggregate"));
        assert_eq!(str_of(roots, "insert"), format!("insert{}", upper(many)));
        assert_eq!(str_of(roots, "insert_one"), format!("insert{}", upper(one)));
        assert_eq!(str_of(roots, "update"), format!("update{}", upper(many)));
        assert_eq!(str_of(roots, "update_by_pk"), format!("update{}", upper(one)));
        assert_eq!(str_of(roots, "delete"), format!("delete{}", upper(many)));
        assert_eq!(str_of(roots, "delete_by_pk"), format!("delete{}", upper(one)));
        for (_, field) in roots.as_mapping().unwrap() {
            let field = field.as_str().unwrap().to_string();
            assert!(root_fields.insert(field.clone()), "root field {field} is used twice");
        }
    }
    let doc = actions_graphql();
    for action in root_fields_of_actions(&doc) {
        assert!(!root_fields.contains(&action), "action {action} clashes with a table root field");
    }
}

/// Tables of the migrated `auth` schema that are the service's own bookkeeping, never read through Hasura.
const UNTRACKED_AUTH_TABLES: [&str; 12] = [
    "hauth_migrations",
    "code_guards",
    "email_outbox",
    "mfa_recovery_codes",
    "mfa_tickets",
    "oauth_token_refresh_queue",
    "one_time_codes",
    "organisations",
    "permissions",
    "rate_limits",
    "role_permissions",
    "sign_in_lockouts",
];

#[tokio::test]
async fn every_auth_table_is_tracked_or_deliberately_left_out() {
    let db = TestDb::create().await;
    let client = db.connect().await;
    let tables: BTreeSet<String> = client
        .query("select table_name::text from information_schema.tables where table_schema = 'auth'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let tracked: BTreeSet<String> =
        tracked_tables().into_iter().filter(|t| t.schema == "auth").map(|t| t.name).collect();
    let untracked: BTreeSet<String> = UNTRACKED_AUTH_TABLES.iter().map(|t| t.to_string()).collect();
    assert!(tracked.is_disjoint(&untracked), "a table is both tracked and left out");
    assert_eq!(tables, &tracked | &untracked, "every auth table is tracked or listed as left out");
}

fn root_fields_of_actions(doc: &Document<'static, String>) -> BTreeSet<String> {
    let mut all = root_fields(doc, "Mutation");
    all.extend(root_fields(doc, "Query"));
    all
}

#[test]
fn graphql_names_within_a_table_are_camel_case_and_unique() {
    for tracked in tracked_tables() {
        let table = format!("{}.{}", tracked.schema, tracked.name);
        let mut names = BTreeSet::new();
        let column_config = tracked.entry["configuration"]["column_config"].as_mapping().unwrap();
        for (column, config) in column_config {
            let custom = str_of(config, "custom_name");
            assert!(is_lower_camel_case(custom), "{table}.{column:?}: {custom} is not camelCase");
            assert!(names.insert(custom.to_string()), "{table}: GraphQL name {custom} used twice");
        }
        for kind in ["object_relationships", "array_relationships"] {
            for relationship in seq_of(&tracked.entry, kind) {
                let name = str_of(relationship, "name");
                assert!(is_lower_camel_case(name), "{table}: relationship {name} is not camelCase");
                assert!(names.insert(name.to_string()), "{table}: relationship {name} clashes with another field");
            }
        }
    }
}

#[test]
fn clients_can_only_read_their_own_user_row_roles_and_providers_and_never_secrets() {
    let secrets = [
        "password_hash",
        "otp_hash",
        "otp_hash_expires_at",
        "otp_method_last_used",
        "ticket",
        "ticket_expires_at",
        "totp_secret",
        "webauthn_current_challenge",
        "new_email",
    ];
    for tracked in tracked_tables() {
        let table = format!("{}.{}", tracked.schema, tracked.name);
        for kind in ["insert_permissions", "update_permissions", "delete_permissions"] {
            assert!(seq_of(&tracked.entry, kind).is_empty(), "{table}: no {kind} for any non-admin role");
        }
        assert!(tracked.entry.get("event_triggers").is_none(), "{table}: no event triggers");
        for permission in seq_of(&tracked.entry, "select_permissions") {
            let role = str_of(permission, "role");
            let columns = permission["permission"]["columns"].as_sequence().unwrap_or_else(|| {
                panic!("{table}/{role}: select columns must be listed, not \"*\"");
            });
            for column in columns {
                let column = column.as_str().unwrap();
                assert!(!secrets.contains(&column), "{table}/{role} exposes {column}");
            }
            match tracked.name.as_str() {
                "users" => assert_eq!(
                    permission["permission"]["filter"]["id"]["_eq"].as_str(),
                    Some("X-Hasura-User-Id"),
                    "{role} may read only its own user row"
                ),
                "user_roles" => assert_eq!(
                    permission["permission"]["filter"]["user_id"]["_eq"].as_str(),
                    Some("X-Hasura-User-Id"),
                    "{role} may read only its own roles"
                ),
                "user_providers" => {
                    assert_eq!(
                        permission["permission"]["filter"]["user_id"]["_eq"].as_str(),
                        Some("X-Hasura-User-Id"),
                        "{role} may read only its own linked providers"
                    );
                    for column in columns {
                        let column = column.as_str().unwrap();
                        let token = ["access_token", "refresh_token", "token_key_id"].contains(&column)
                            || column.ends_with("_sealed");
                        assert!(!token, "{table}/{role} exposes the provider token column {column}");
                    }
                }
                other => panic!("auth.{other} must not be readable by {role}"),
            }
        }
    }
}

#[test]
fn actions_graphql_parses_as_a_schema() {
    let doc = actions_graphql();
    assert!(!root_fields(&doc, "Mutation").is_empty());
    assert_eq!(root_fields(&doc, "Query"), BTreeSet::from(["me".to_string(), "providerAccessToken".to_string()]));
}

#[test]
fn actions_yaml_and_actions_graphql_declare_the_same_actions_and_types() {
    let doc = actions_graphql();
    let actions_yaml = parse_yaml(&metadata_dir().join("actions.yaml"));

    let declared: BTreeSet<String> = root_fields_of_actions(&doc);
    let configured: BTreeSet<String> =
        seq_of(&actions_yaml, "actions").iter().map(|a| str_of(a, "name").to_string()).collect();
    assert_eq!(declared, configured, "actions.graphql fields vs actions.yaml actions");
    let expected: BTreeSet<String> =
        ["signUpEmailPassword", "signInEmailPassword", "refreshToken", "signOut", "me", "providerAccessToken"]
            .map(String::from)
            .into();
    assert_eq!(configured, expected);

    // Every action goes to hauth's handler with the shared secret, and only the intended roles may call it.
    for action in seq_of(&actions_yaml, "actions") {
        let name = str_of(action, "name");
        let definition = &action["definition"];
        assert_eq!(str_of(definition, "kind"), "synchronous", "{name}");
        assert_eq!(str_of(definition, "handler"), "{{HAUTH_URL}}/hasura/actions", "{name}");
        assert_eq!(definition["forward_client_headers"].as_bool(), Some(false), "{name}");
        assert_eq!(definition["timeout"].as_u64(), Some(30), "{name}");
        let headers = seq_of(definition, "headers");
        assert_eq!(headers.len(), 1, "{name}: one configured header");
        assert!(
            str_of(&headers[0], "name").eq_ignore_ascii_case(hauth::api::hasura::ACTIONS_SECRET_HEADER),
            "{name}: the secret header hauth checks"
        );
        assert_eq!(str_of(&headers[0], "value_from_env"), "AUTH_ACTIONS_SECRET", "{name}");
        let roles: BTreeSet<&str> = seq_of(action, "permissions").iter().map(|p| str_of(p, "role")).collect();
        let signed_in_only = name == "me" || name == "providerAccessToken";
        let want: BTreeSet<&str> = if signed_in_only { ["user", "me"].into() } else { ["public", "user"].into() };
        assert_eq!(roles, want, "{name} roles");
    }

    // The custom types listed in actions.yaml are exactly the SDL's non-root types, by kind.
    let mut sdl: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for definition in &doc.definitions {
        let (kind, name) = match definition {
            Definition::TypeDefinition(TypeDefinition::Object(t)) => ("objects", &t.name),
            Definition::TypeDefinition(TypeDefinition::InputObject(t)) => ("input_objects", &t.name),
            Definition::TypeDefinition(TypeDefinition::Enum(t)) => ("enums", &t.name),
            Definition::TypeDefinition(TypeDefinition::Scalar(t)) => ("scalars", &t.name),
            Definition::TypeExtension(_) => continue,
            other => panic!("actions.graphql: unexpected definition {other:?}"),
        };
        if name == "Mutation" || name == "Query" {
            continue;
        }
        assert!(sdl.entry(kind).or_default().insert(name.clone()), "{name} is defined twice");
    }
    let custom_types = &actions_yaml["custom_types"];
    for kind in ["objects", "input_objects", "enums", "scalars"] {
        let listed: BTreeSet<String> =
            custom_types[kind].as_sequence().unwrap().iter().map(|t| str_of(t, "name").to_string()).collect();
        assert_eq!(listed, sdl.get(kind).cloned().unwrap_or_default(), "custom_types.{kind}");
    }

    // Every type the SDL refers to is a GraphQL built-in, one of its own types, or a Postgres scalar that
    // Hasura resolves from the database (these must not be declared, or they clash with Hasura's own).
    let defined: BTreeSet<&String> = sdl.values().flatten().collect();
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    let postgres = ["jsonb", "json", "uuid", "timestamptz", "bigint", "numeric"];
    assert!(!defined.iter().any(|n| postgres.contains(&n.as_str())), "a Postgres scalar is redeclared");
    let known = |name: &str| builtin.contains(&name) || postgres.contains(&name) || defined.iter().any(|d| *d == name);
    for definition in &doc.definitions {
        match definition {
            Definition::TypeDefinition(TypeDefinition::Object(object)) => {
                for field in &object.fields {
                    let ty = base_type_name(&field.field_type);
                    assert!(known(ty), "{}.{}: unknown type {ty}", object.name, field.name);
                    for argument in &field.arguments {
                        let ty = base_type_name(&argument.value_type);
                        assert!(known(ty), "{}.{}({}): unknown type {ty}", object.name, field.name, argument.name);
                    }
                }
            }
            Definition::TypeDefinition(TypeDefinition::InputObject(input)) => {
                for field in &input.fields {
                    let ty = base_type_name(&field.value_type);
                    assert!(known(ty), "{}.{}: unknown type {ty}", input.name, field.name);
                }
            }
            _ => {}
        }
    }
}

/// Columns of one table, from information_schema.
async fn columns_of(client: &tokio_postgres::Client, schema: &str, table: &str) -> BTreeSet<String> {
    client
        .query(
            "select column_name::text from information_schema.columns where table_schema = $1 and table_name = $2",
            &[&schema, &table],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Whether a foreign key on `from` over exactly `columns` exists (referencing `to`, when given).
async fn foreign_key_exists(
    client: &tokio_postgres::Client,
    from: (&str, &str),
    columns: &[String],
    to: Option<(&str, &str)>,
) -> bool {
    let mut columns = columns.to_vec();
    columns.sort();
    let (to_schema, to_table) = to.map_or((None, None), |(s, t)| (Some(s.to_string()), Some(t.to_string())));
    client
        .query_one(
            "select exists (
               select 1
               from pg_constraint c
               join pg_class fc on fc.oid = c.conrelid
               join pg_namespace fns on fns.oid = fc.relnamespace
               join pg_class tc on tc.oid = c.confrelid
               join pg_namespace tns on tns.oid = tc.relnamespace
               where c.contype = 'f'
                 and fns.nspname = $1 and fc.relname = $2
                 and ($4::text is null or (tns.nspname = $4 and tc.relname = $5))
                 and (select array_agg(a.attname::text order by a.attname::text)
                      from pg_attribute a
                      where a.attrelid = c.conrelid and a.attnum = any (c.conkey)) = $3::text[])",
            &[&from.0, &from.1, &columns, &to_schema, &to_table],
        )
        .await
        .unwrap()
        .get(0)
}

/// The columns of a `foreign_key_constraint_on` value that is a column name or a list of them.
fn column_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(column) => Some(vec![column.clone()]),
        Value::Sequence(columns) => Some(columns.iter().map(|c| c.as_str().unwrap().to_string()).collect()),
        _ => None,
    }
}

/// The `{column(s), table}` form of `foreign_key_constraint_on`: the remote table and its columns.
fn remote_columns(value: &Value) -> ((String, String), Vec<String>) {
    let table = &value["table"];
    let columns = match (value.get("column"), value.get("columns")) {
        (Some(column), _) => vec![column.as_str().unwrap().to_string()],
        (None, Some(columns)) => column_list(columns).unwrap(),
        _ => panic!("foreign_key_constraint_on needs column or columns: {value:?}"),
    };
    ((str_of(table, "schema").to_string(), str_of(table, "name").to_string()), columns)
}

/// Column names used as keys of a boolean expression, skipping operators and relationship names.
fn filter_columns(filter: &Value, relationships: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    let Some(map) = filter.as_mapping() else { return };
    for (key, value) in map {
        let key = key.as_str().unwrap();
        match key {
            "_and" | "_or" => {
                for item in value.as_sequence().unwrap() {
                    filter_columns(item, relationships, out);
                }
            }
            "_not" => filter_columns(value, relationships, out),
            _ if key.starts_with('_') => {}
            _ if relationships.contains(key) => {}
            _ => {
                out.insert(key.to_string());
            }
        }
    }
}

#[tokio::test]
async fn tracked_tables_and_columns_exist_in_the_migrated_schema() {
    let db = TestDb::create().await;
    let client = db.connect().await;
    for tracked in tracked_tables() {
        let (schema, name) = (tracked.schema.as_str(), tracked.name.as_str());
        let table = format!("{schema}.{name}");
        let columns = columns_of(&client, schema, name).await;
        assert!(!columns.is_empty(), "{table} is tracked but does not exist");
        let entry = &tracked.entry;

        // Every column has a GraphQL name, and every configured name is a real column.
        let configured: BTreeSet<String> = entry["configuration"]["column_config"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(configured, columns, "{table}: column_config must name exactly the table's columns");
        if let Some(names) = entry["configuration"].get("custom_column_names").and_then(Value::as_mapping) {
            for column in names.keys() {
                assert!(columns.contains(column.as_str().unwrap()), "{table}: custom_column_names {column:?}");
            }
        }

        let mut relationship_names = BTreeSet::new();
        for relationship in seq_of(entry, "object_relationships") {
            let rel = str_of(relationship, "name");
            relationship_names.insert(rel.to_string());
            let using = &relationship["using"];
            if let Some(on) = using.get("foreign_key_constraint_on") {
                if let Some(local) = column_list(on) {
                    for column in &local {
                        assert!(columns.contains(column), "{table}.{rel}: no column {column}");
                    }
                    assert!(
                        foreign_key_exists(&client, (schema, name), &local, None).await,
                        "{table}.{rel}: no foreign key on {local:?}"
                    );
                } else {
                    let ((rs, rt), remote) = remote_columns(on);
                    let remote_table_columns = columns_of(&client, &rs, &rt).await;
                    for column in &remote {
                        assert!(remote_table_columns.contains(column), "{table}.{rel}: no column {rs}.{rt}.{column}");
                    }
                    assert!(
                        foreign_key_exists(&client, (&rs, &rt), &remote, Some((schema, name))).await,
                        "{table}.{rel}: no foreign key on {rs}.{rt}{remote:?}"
                    );
                }
            } else {
                check_manual(&client, &table, rel, &columns, &using["manual_configuration"]).await;
            }
        }
        for relationship in seq_of(entry, "array_relationships") {
            let rel = str_of(relationship, "name");
            relationship_names.insert(rel.to_string());
            let using = &relationship["using"];
            if let Some(on) = using.get("foreign_key_constraint_on") {
                let ((rs, rt), remote) = remote_columns(on);
                let remote_table_columns = columns_of(&client, &rs, &rt).await;
                for column in &remote {
                    assert!(remote_table_columns.contains(column), "{table}.{rel}: no column {rs}.{rt}.{column}");
                }
                assert!(
                    foreign_key_exists(&client, (&rs, &rt), &remote, Some((schema, name))).await,
                    "{table}.{rel}: no foreign key from {rs}.{rt}{remote:?} to {table}"
                );
            } else {
                check_manual(&client, &table, rel, &columns, &using["manual_configuration"]).await;
            }
        }

        for kind in ["select_permissions", "insert_permissions", "update_permissions", "delete_permissions"] {
            for permission in seq_of(entry, kind) {
                let role = str_of(permission, "role");
                let permission = &permission["permission"];
                let mut used = BTreeSet::new();
                if let Some(listed) = permission.get("columns").and_then(Value::as_sequence) {
                    used.extend(listed.iter().map(|c| c.as_str().unwrap().to_string()));
                }
                for expression in ["filter", "check"] {
                    if let Some(filter) = permission.get(expression) {
                        filter_columns(filter, &relationship_names, &mut used);
                    }
                }
                if let Some(set) = permission.get("set").and_then(Value::as_mapping) {
                    used.extend(set.keys().map(|k| k.as_str().unwrap().to_string()));
                }
                for column in used {
                    assert!(columns.contains(&column), "{table} {kind} for {role}: no column {column}");
                }
            }
        }
    }
}

async fn check_manual(
    client: &tokio_postgres::Client,
    table: &str,
    rel: &str,
    columns: &BTreeSet<String>,
    manual: &Value,
) {
    assert!(manual.is_mapping(), "{table}.{rel}: needs foreign_key_constraint_on or manual_configuration");
    let remote = &manual["remote_table"];
    let (rs, rt) = (str_of(remote, "schema"), str_of(remote, "name"));
    let remote_columns = columns_of(client, rs, rt).await;
    assert!(!remote_columns.is_empty(), "{table}.{rel}: remote table {rs}.{rt} does not exist");
    for (local, remote) in manual["column_mapping"].as_mapping().unwrap() {
        let (local, remote) = (local.as_str().unwrap(), remote.as_str().unwrap());
        assert!(columns.contains(local), "{table}.{rel}: no column {local}");
        assert!(remote_columns.contains(remote), "{table}.{rel}: no column {rs}.{rt}.{remote}");
    }
}
