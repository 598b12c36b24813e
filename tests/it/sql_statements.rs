//! Stands in for compile-time query checking: every SQL file is prepared against the migrated schema.
use crate::helpers::db::TestDb;

#[tokio::test]
async fn every_sql_statement_prepares_against_the_migrated_schema() {
    let db = TestDb::create().await;
    let client = db.connect().await;
    for (name, sql) in hauth::db::all_statements() {
        if let Err(e) = client.prepare(sql).await {
            panic!("{name} does not prepare: {e}");
        }
    }
    // And no statement file is left out of the list.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db/sql");
    let mut files = 0;
    for table in std::fs::read_dir(dir).unwrap() {
        files += std::fs::read_dir(table.unwrap().path()).unwrap().count();
    }
    assert_eq!(files, hauth::db::all_statements().len());
}
