//! TLS to Postgres against a throwaway cluster with `ssl=on` and a certificate from a test CA made here:
//! `verify-full` connects with the right CA and host, and refuses a wrong CA or a host the certificate does
//! not name; `verify-ca` checks only the chain; `require` encrypts; `disable` does not.
use std::path::{Path, PathBuf};

use hauth::pgcluster::PrivateCluster;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

struct TlsCluster {
    cluster: PrivateCluster,
    dir: PathBuf,
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, contents: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A cluster whose certificate, signed by the test CA, names `localhost` only.
fn start_tls_cluster() -> (TlsCluster, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("hauth-pg-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = certificate_authority("hauth test CA");
    let wrong_ca = certificate_authority("another CA");
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&server_key, &ca).unwrap();
    write(&dir.join("server.crt"), &server.pem(), 0o644);
    write(&dir.join("server.key"), &server_key.serialize_pem(), 0o600);
    let ca_file = std::env::temp_dir().join(format!("hauth-ca-{}.pem", uuid::Uuid::new_v4().simple()));
    let wrong_ca_file = std::env::temp_dir().join(format!("hauth-wrong-ca-{}.pem", uuid::Uuid::new_v4().simple()));
    write(&ca_file, &ca.pem(), 0o644);
    write(&wrong_ca_file, &wrong_ca.pem(), 0o644);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cert = dir.join("server.crt").to_string_lossy().to_string();
    let key = dir.join("server.key").to_string_lossy().to_string();
    let cluster = PrivateCluster::start_with_settings(
        &dir,
        port,
        true,
        &[("ssl", "on"), ("ssl_cert_file", &cert), ("ssl_key_file", &key), ("max_connections", "20")],
    )
    .unwrap();
    (TlsCluster { cluster, dir }, ca_file, wrong_ca_file)
}

/// Connects through hauth's pool and says whether the session is encrypted.
async fn encrypted(url: &str) -> anyhow::Result<bool> {
    let pool = hauth::db::connect(url, 1)?;
    hauth::db::ping(&pool).await?;
    let client = pool.get().await?;
    let row = client.query_one("select ssl from pg_stat_ssl where pid = pg_backend_pid()", &[]).await?;
    Ok(row.get(0))
}

#[tokio::test]
async fn verify_full_works_with_the_test_ca_and_fails_with_a_wrong_one() {
    let (tls, ca, wrong_ca) = start_tls_cluster();
    let port = tls.cluster.port;
    let url = |host: &str, mode: &str, root: Option<&Path>| {
        let root = root.map(|path| format!("&sslrootcert={}", path.display())).unwrap_or_default();
        format!("postgres://postgres@{host}:{port}/postgres?sslmode={mode}{root}")
    };

    assert!(encrypted(&url("localhost", "verify-full", Some(&ca))).await.unwrap());
    let wrong = encrypted(&url("localhost", "verify-full", Some(&wrong_ca))).await;
    assert!(wrong.is_err(), "a certificate from another CA must be refused");
    let wrong_host = encrypted(&url("127.0.0.1", "verify-full", Some(&ca))).await;
    assert!(wrong_host.is_err(), "a host the certificate does not name must be refused");
    assert!(encrypted(&url("127.0.0.1", "verify-ca", Some(&ca))).await.unwrap(), "verify-ca checks the chain only");
    assert!(encrypted(&url("127.0.0.1", "verify-ca", Some(&wrong_ca))).await.is_err());
    assert!(encrypted(&url("127.0.0.1", "require", None)).await.unwrap());
    assert!(!encrypted(&url("127.0.0.1", "disable", None)).await.unwrap());

    // Migrations connect the same way.
    let applied = hauth::db::migrate::run(&url("localhost", "verify-full", Some(&ca))).await.unwrap();
    assert!(!applied.is_empty());
    assert!(hauth::db::migrate::run(&url("localhost", "verify-full", Some(&wrong_ca))).await.is_err());
    let _ = std::fs::remove_file(ca);
    let _ = std::fs::remove_file(wrong_ca);
}
