//! `TestDb`: each test gets its own database, `CREATE DATABASE t_<uuid> TEMPLATE hauth_template_<hash>`,
//! dropped when the test ends (also when it fails). The template is migrated once (per migrations content)
//! under an advisory lock, so parallel test threads and processes agree; templates of older migrations are
//! dropped then. The server is `TEST_DATABASE_URL` if set, else the local one on 127.0.0.1:5432 if it
//! answers, else a throwaway cluster the suite starts itself from `initdb`/`pg_ctl`.
use std::path::PathBuf;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

/// The URL of the server the suite uses (without a database name at the end). `HAUTH_TEST_OWN_POSTGRES=1`
/// skips the local server and uses the suite's own cluster, as on a machine without one.
fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            return url.trim_end_matches('/').to_string();
        }
        let own = std::env::var("HAUTH_TEST_OWN_POSTGRES").is_ok_and(|v| v == "1");
        if !own && hauth::pgcluster::port_open(5432) {
            return "postgres://postgres@127.0.0.1:5432".to_string();
        }
        // Under the system temp folder: when the suite runs as root, the cluster runs as `postgres`, which
        // must be able to reach its folder whatever the checkout's permissions.
        let dir = std::env::temp_dir().join("hauth-test-postgres");
        let cluster = hauth::pgcluster::PrivateCluster::start(&dir, 54330, true)
            .unwrap_or_else(|e| panic!("no Postgres on 127.0.0.1:5432 and cannot start one: {e:#}"));
        format!("postgres://postgres@127.0.0.1:{}", cluster.port)
    })
}

pub fn database_url(name: &str) -> String {
    format!("{}/{name}", server_url())
}

async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&database_url("postgres"), NoTls)
        .await
        .expect("connect to the test server's postgres database");
    tokio::spawn(connection);
    client
}

fn template_name() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.file_name().unwrap().to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap());
    }
    format!("hauth_template_{}", &hex::encode(hasher.finalize())[..12])
}

async fn ensure_template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let client = admin().await;
            client.execute("select pg_advisory_lock(7215001)", &[]).await.unwrap();
            let exists =
                client.query_opt("select 1 from pg_database where datname = $1", &[&name]).await.unwrap().is_some();
            if !exists {
                let building = format!("{name}_building");
                client.batch_execute(&format!("drop database if exists \"{building}\"")).await.unwrap();
                client.batch_execute(&format!("create database \"{building}\"")).await.unwrap();
                hauth::db::migrate::run(&database_url(&building)).await.expect("migrate the template");
                client.batch_execute(&format!("alter database \"{building}\" rename to \"{name}\"")).await.unwrap();
                let stale = client
                    .query(
                        "select datname from pg_database where datname like 'hauth\\_template\\_%' and datname <> $1",
                        &[&name],
                    )
                    .await
                    .unwrap();
                for row in stale {
                    let stale: String = row.get(0);
                    let _ = client.batch_execute(&format!("drop database if exists \"{stale}\" with (force)")).await;
                }
            }
            client.execute("select pg_advisory_unlock(7215001)", &[]).await.unwrap();
            name
        })
        .await
}

/// A database of its own for one test, dropped when the value is.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a runtime of its own
        // drops the database (closing any connection the test left open) and is waited for.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&database_url("postgres"), NoTls).await.ok()?;
                tokio::spawn(connection);
                client.batch_execute(&format!("drop database if exists \"{name}\" with (force)")).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

impl TestDb {
    /// A fresh, migrated database.
    pub async fn create() -> Self {
        let template = ensure_template().await;
        Self::create_from(Some(template)).await
    }

    /// A fresh database with nothing in it (for migration tests).
    pub async fn create_empty() -> Self {
        Self::create_from(None).await
    }

    async fn create_from(template: Option<&str>) -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let client = admin().await;
        let sql = match template {
            Some(template) => format!("create database \"{name}\" template \"{template}\""),
            None => format!("create database \"{name}\""),
        };
        // Two clones of one template at the same instant can collide; retry briefly.
        let mut attempt = 0;
        loop {
            match client.batch_execute(&sql).await {
                Ok(()) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        TestDb { url: database_url(&name), name }
    }

    /// A plain connection for assertions on rows.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.expect("connect to test db");
        tokio::spawn(connection);
        client
    }
}
