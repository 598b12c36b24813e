//! TLS to Postgres with libpq's settings, read from the connection URL: `sslmode` (`disable`, `prefer`
//! (libpq's default), `require`, `verify-ca`, `verify-full`) and `sslrootcert` (a PEM file of trusted
//! certificates, or `system` for the built-in web PKI roots, which are also used when it is absent).
//!
//! As in libpq, `prefer` and `require` encrypt without checking the server's certificate (unless a root
//! certificate is given, when `require` checks the chain like `verify-ca`), `verify-ca` checks that the
//! certificate chains to a trusted root, and `verify-full` also checks that it names the host.
use std::sync::Arc;

use anyhow::{Context as _, bail};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn parse(value: &str) -> anyhow::Result<Self> {
        Ok(match value {
            "disable" => TlsMode::Disable,
            // `allow` only falls back the other way round; treating it as `prefer` never weakens it.
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => bail!("sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"),
        })
    }
}

/// A Postgres connection target: what tokio-postgres connects to, and the TLS connector to use.
pub struct Target {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub mode: TlsMode,
}

/// Parses a `postgres://` URL (or libpq's `key=value` form) with its TLS settings.
pub fn target(url: &str) -> anyhow::Result<Target> {
    let (rest, ssl_mode, root_cert) = split_tls_settings(url)?;
    let mode = ssl_mode.as_deref().map(TlsMode::parse).transpose()?.unwrap_or(TlsMode::Prefer);
    let mut config: tokio_postgres::Config = rest.parse().context("not a valid Postgres URL")?;
    config.ssl_mode(match mode {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
    });
    let tls = MakeRustlsConnect::new(client_config(mode, root_cert.as_deref())?);
    Ok(Target { config, tls, mode })
}

/// Takes `sslmode` and `sslrootcert` out of the connection string (tokio-postgres knows neither
/// `verify-*` nor `sslrootcert`).
fn split_tls_settings(url: &str) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let (mut ssl_mode, mut root_cert) = (None, None);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut parsed = url::Url::parse(url).context("not a valid Postgres URL")?;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "sslmode" => ssl_mode = Some(value.into_owned()),
                "sslrootcert" => root_cert = Some(value.into_owned()),
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        return Ok((parsed.to_string(), ssl_mode, root_cert));
    }
    let mut kept = Vec::new();
    for pair in url.split_whitespace() {
        match pair.split_once('=') {
            Some(("sslmode", value)) => ssl_mode = Some(value.to_string()),
            Some(("sslrootcert", value)) => root_cert = Some(value.to_string()),
            _ => kept.push(pair),
        }
    }
    Ok((kept.join(" "), ssl_mode, root_cert))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The trusted roots: the PEM file named by `sslrootcert`, or the web PKI roots.
fn roots(root_cert: Option<&str>) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match root_cert.filter(|path| *path != "system") {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            for certificate in CertificateDer::pem_file_iter(path).with_context(|| format!("sslrootcert {path}"))? {
                let certificate = certificate.with_context(|| format!("sslrootcert {path}: not a PEM certificate"))?;
                roots.add(certificate).with_context(|| format!("sslrootcert {path}: unusable certificate"))?;
            }
            if roots.is_empty() {
                bail!("sslrootcert {path} holds no certificate");
            }
        }
    }
    Ok(roots)
}

fn client_config(mode: TlsMode, root_cert: Option<&str>) -> anyhow::Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("no TLS protocol version available")?;
    let checks_chain =
        matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull) || (mode == TlsMode::Require && root_cert.is_some());
    let chain = if checks_chain {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(root_cert)?), provider.clone())
            .build()
            .context("cannot build the certificate verifier")?;
        Some(webpki)
    } else {
        None
    };
    let verifier = Arc::new(ServerCertificates { provider, chain, check_name: mode == TlsMode::VerifyFull });
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

/// What is checked of the server's certificate: nothing (`prefer`, `require`: encrypted only, libpq's
/// behaviour), the chain to a trusted root (`verify-ca`), or the chain and the host name (`verify-full`).
/// The handshake's signatures are always checked.
#[derive(Debug)]
struct ServerCertificates {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
}

impl ServerCertVerifier for ServerCertificates {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_leave_the_url_and_the_rest_stays() -> anyhow::Result<()> {
        let (rest, mode, root) = split_tls_settings(
            "postgres://u:p@db:5433/auth?sslmode=verify-full&sslrootcert=%2Fca.pem&application_name=x",
        )?;
        assert_eq!(rest, "postgres://u:p@db:5433/auth?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        let (rest, mode, _) = split_tls_settings("host=db dbname=auth sslmode=require")?;
        assert_eq!(rest, "host=db dbname=auth");
        assert_eq!(mode.as_deref(), Some("require"));
        Ok(())
    }

    #[test]
    fn modes_map_to_libpq_behaviour() -> anyhow::Result<()> {
        assert_eq!(target("postgres://localhost/db")?.mode, TlsMode::Prefer);
        assert_eq!(target("postgres://localhost/db?sslmode=disable")?.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(target("postgres://localhost/db?sslmode=verify-ca")?.config.get_ssl_mode(), SslMode::Require);
        assert!(target("postgres://localhost/db?sslmode=sometimes").is_err());
        assert!(target("postgres://localhost/db?sslmode=verify-full&sslrootcert=/no/such/file").is_err());
        Ok(())
    }
}
