//! Every setting is described once: each environment name appears in exactly one place in the source, the
//! README's settings table and `hauth config check` come from the same list, and every secret can be given
//! as a file (`<NAME>_FILE`).
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hauth::config::Config;
use secrecy::ExposeSecret;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Every token in `text` shaped like an environment name of the service.
fn environment_names(text: &str) -> Vec<String> {
    let pattern = regex::Regex::new(r"\b(AUTH|HASURA_GRAPHQL|POSTGRES|DATABASE|RUST)_[A-Z0-9_]*[A-Z0-9]\b").unwrap();
    pattern.find_iter(text).map(|found| found.as_str().to_string()).collect()
}

#[test]
fn each_environment_name_is_written_once_in_the_source() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut places: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sources = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in environment_names(&text) {
            places.entry(name).or_default().push(file.display().to_string());
        }
        sources.push(text);
    }
    let repeated: Vec<_> = places.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(repeated.is_empty(), "written more than once: {repeated:#?}");
    for setting in hauth::config::settings() {
        for name in std::iter::once(setting.name).chain(setting.aliases.iter().copied()) {
            if setting.is_template() {
                // A provider template (`AUTH_PROVIDER_<P>_ENABLED`) is not a name itself; it is written once.
                let count = sources.iter().map(|text| text.matches(name).count()).sum::<usize>();
                assert_eq!(count, 1, "{name} is written {count} times");
            } else {
                assert!(places.contains_key(name), "{name} is not in the source");
            }
        }
    }
    let declared: Vec<&str> = hauth::config::settings()
        .iter()
        .flat_map(|setting| std::iter::once(setting.name).chain(setting.aliases.iter().copied()))
        .collect();
    let undeclared: Vec<&String> = places.keys().filter(|name| !declared.contains(&name.as_str())).collect();
    assert!(undeclared.is_empty(), "read or named but not declared as settings: {undeclared:?}");
}

#[test]
fn the_readme_settings_table_is_the_generated_one() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("<!-- settings:start -->\n").expect("start marker") + "<!-- settings:start -->\n".len();
    let end = readme.find("<!-- settings:end -->").expect("end marker");
    assert_eq!(
        &readme[start..end],
        hauth::config::settings_table(),
        "README.md's settings table is out of date: replace it with the output of `hauth config docs`"
    );
}

#[test]
fn config_check_prints_every_setting_of_the_list_in_order() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["config", "check"])
        .env_clear()
        .env("DATABASE_URL", "postgres://localhost/auth")
        .env("HASURA_GRAPHQL_JWT_SECRET", r#"{"type":"HS256","key":"a-very-secret-signing-key-of-32-bytes!"}"#)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split_once('=').map(|(name, _)| name.to_string()).unwrap_or_default())
        .collect();
    // A provider template prints as the settings read under it (here the built-in providers' switches).
    let settings = hauth::config::settings();
    let setting_of = |name: &str| -> String {
        let found = settings.iter().find(|setting| match setting.name.split_once("<P>") {
            Some((prefix, suffix)) => {
                name.starts_with(prefix) && name.ends_with(suffix) && name.len() > prefix.len() + suffix.len()
            }
            None => setting.name == name,
        });
        found.map(|setting| setting.name.to_string()).unwrap_or_else(|| format!("unknown {name}"))
    };
    let mut collapsed: Vec<String> = printed.iter().map(|name| setting_of(name)).collect();
    collapsed.dedup();
    let listed: Vec<String> = settings
        .iter()
        .filter(|setting| !setting.is_template() || collapsed.contains(&setting.name.to_string()))
        .map(|setting| setting.name.to_string())
        .collect();
    assert_eq!(collapsed, listed);
    assert!(printed.iter().any(|name| name == "AUTH_PROVIDER_GOOGLE_ENABLED"), "{printed:?}");
    let listed: Vec<String> = settings.iter().map(|setting| setting.name.to_string()).collect();
    let table = hauth::config::settings_table();
    for name in &listed {
        assert!(table.contains(&format!("| `{name}`")), "{name} missing from the table");
    }
}

#[test]
fn secrets_are_read_from_files() {
    let dir = std::env::temp_dir().join(format!("hauth-secrets-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{contents}\n")).unwrap();
        path.display().to_string()
    };
    let jwt = r#"{"type":"HS256","key":"a-file-held-signing-key-of-32-bytes!!"}"#;
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", "postgres://localhost/auth".to_string()),
        ("HASURA_GRAPHQL_JWT_SECRET_FILE", file("jwt", jwt)),
        ("AUTH_SMTP_USER", "mailer".to_string()),
        ("AUTH_SMTP_PASS_FILE", file("smtp", "smtp password with spaces")),
        ("HASURA_GRAPHQL_ADMIN_SECRET_FILE", file("admin", "admin-from-a-file")),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();
    let config = Config::from_env(&vars).unwrap_or_else(|e| panic!("{e}"));
    let key = config.jwt.secret.key.as_ref().map(|key| key.expose_secret().to_string());
    assert_eq!(key.as_deref(), Some("a-file-held-signing-key-of-32-bytes!!"));
    let smtp = config.mail.password.as_ref().map(|pass| pass.expose_secret().to_string());
    assert_eq!(smtp.as_deref(), Some("smtp password with spaces"));
    let admin = config.hasura.admin_secret.as_ref().map(|secret| secret.expose_secret().to_string());
    assert_eq!(admin.as_deref(), Some("admin-from-a-file"));
    let printed = config.redacted(&vars);
    assert!(!printed.contains("a-file-held") && !printed.contains("smtp password") && !printed.contains("admin-from"));

    // A file that cannot be read is a configuration problem, named.
    let mut broken = vars.clone();
    broken.insert("HASURA_GRAPHQL_ADMIN_SECRET_FILE".into(), dir.join("missing").display().to_string());
    let error = Config::from_env(&broken).expect_err("must be refused").to_string();
    assert!(error.contains("HASURA_GRAPHQL_ADMIN_SECRET_FILE"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}
