//! Embedded, forward-only migrations of the `auth` schema (refinery). A session-level advisory lock makes
//! replicas that start together take turns: the first migrates, the others find nothing left to do. Tables
//! of nself's OAuth handler service are moved out of `auth` first (see [`super::nself_adoption`]).
use anyhow::Context as _;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The history table. nhost's own migrator owns `auth.schema_migrations`, so ours has another name and an
/// nhost database can be adopted in place.
pub const HISTORY_TABLE: &str = "auth.hauth_migrations";

/// An arbitrary constant shared by every hauth process: the advisory lock key for migrations.
const MIGRATION_LOCK_KEY: i64 = 0x6861_7574_685f_6d67; // "hauth_mg"

/// Applies every pending migration; returns the versions applied by this call.
pub async fn run(database_url: &str) -> anyhow::Result<Vec<i32>> {
    let target = super::tls::target(database_url).context("the migrations database URL")?;
    let (mut client, connection) =
        target.config.connect(target.tls).await.context("cannot connect to the database to migrate")?;
    let connection = tokio::spawn(connection);
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .context("cannot take the migration lock")?;
    let outcome = apply(&mut client).await;
    let unlock = client.execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY]).await;
    drop(client);
    let _ = connection.await;
    let applied = outcome?;
    unlock.context("cannot release the migration lock")?;
    Ok(applied)
}

async fn apply(client: &mut tokio_postgres::Client) -> anyhow::Result<Vec<i32>> {
    // refinery creates its history table before running V1, so the schema must exist first.
    client.batch_execute("create schema if not exists auth").await.context("cannot create schema auth")?;
    // nself's OAuth handler tables go aside first: two of their names are hauth's own (V10 adopts them).
    client
        .batch_execute(super::nself_adoption::MOVE_NSELF_TABLES_ASIDE)
        .await
        .context("cannot move nself's OAuth tables aside")?;
    let report = embedded::migrations::runner()
        .set_migration_table_name(HISTORY_TABLE)
        .run_async(client)
        .await
        .context("migration failed")?;
    Ok(report.applied_migrations().iter().map(|m| m.version()).collect())
}

/// The newest version the binary knows, for `hauth version` and the test template's name.
pub fn latest_version() -> i32 {
    embedded::migrations::runner().get_migrations().iter().map(|m| m.version()).max().unwrap_or(0)
}
