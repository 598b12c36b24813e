//! In-process ceilings for `bench/run.sh`, each measured on every core at once:
//! - `hauth-bench-ceilings argon2 <seconds>`: argon2id hashes/s at hauth's production parameters (m=19456
//!   KiB, t=2, p=1, 32-byte output) for each implementation, as `<implementation> <hashes/s>` lines. The
//!   RustCrypto `argon2` crate (hauth's) hashes into one reused working-memory buffer per thread, as hauth
//!   does;
//! - `hauth-bench-ceilings jwt <seconds> <key dir>`: jsonwebtoken's `decode` (signature, `exp`, `iss`,
//!   claims) of a token shaped like hauth's access tokens, per algorithm and backend, with the keys
//!   `bench/run.sh` generated (`<alg>.pem`), as `<alg> <backend> <verifications/s>` lines.
use std::time::{Duration, Instant};

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

/// Runs `work` on every core for `seconds`; the total number of calls per second.
fn on_all_cores(seconds: u64, work: impl Fn() + Sync) -> f64 {
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let calls: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut calls = 0u64;
                    while Instant::now() < deadline {
                        work();
                        calls += 1;
                    }
                    calls
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("a worker panicked")).sum()
    });
    calls as f64 / started.elapsed().as_secs_f64()
}

const MEMORY_KIB: u32 = 19_456;
const PASSWORD: &[u8] = b"bench-password-123";
const SALT: &[u8] = b"sixteen-byte-slt";

fn argon2(seconds: u64) {
    let params = argon2::Params::new(MEMORY_KIB, 2, 1, Some(32)).expect("valid parameters");
    let rate = on_all_cores(seconds, || {
        thread_local! {
            static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> =
                std::cell::RefCell::new(vec![argon2::Block::new(); MEMORY_KIB as usize]);
        }
        let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params.clone());
        let mut out = [0u8; 32];
        BLOCKS.with_borrow_mut(|blocks| {
            hasher.hash_password_into_with_memory(PASSWORD, SALT, &mut out, blocks).expect("hashed")
        });
    });
    println!("argon2 {rate:.1}");

    let config = argon2_rs::Config {
        variant: argon2_rs::Variant::Argon2id,
        version: argon2_rs::Version::Version13,
        mem_cost: MEMORY_KIB,
        time_cost: 2,
        lanes: 1,
        secret: &[],
        ad: &[],
        hash_length: 32,
    };
    let rate = on_all_cores(seconds, || {
        argon2_rs::hash_raw(PASSWORD, SALT, &config).expect("hashed");
    });
    println!("rust-argon2 {rate:.1}");

    let rate = on_all_cores(seconds, || {
        argon2_kdf::Hasher::new()
            .algorithm(argon2_kdf::Algorithm::Argon2id)
            .memory_cost_kib(MEMORY_KIB)
            .iterations(2)
            .threads(1)
            .hash_length(32)
            .custom_salt(SALT)
            .hash(PASSWORD)
            .expect("hashed");
    });
    println!("argon2-kdf(C) {rate:.1}");
}

fn jwt(seconds: u64, keys: &std::path::Path, backend: &str) {
    let provider: &'static CryptoProvider = match backend {
        "aws_lc_rs" => &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        _ => &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
    };
    provider.install_default().expect("one backend per process");
    let claims = serde_json::json!({
        "sub": "0190c0de-0000-7000-8000-000000000000", "iss": "hasura-auth", "iat": 1_900_000_000i64,
        "exp": 4_000_000_000i64, "sid": "0190c0de-0000-7000-8000-000000000001",
        "https://hasura.io/jwt/claims": {
            "x-hasura-user-id": "0190c0de-0000-7000-8000-000000000000", "x-hasura-default-role": "user",
            "x-hasura-allowed-roles": ["user", "me"], "x-hasura-user-is-anonymous": "false"
        }
    });
    let secret = b"bench-secret-bench-secret-bench-secret-0123";
    let mut cases = vec![(Algorithm::HS256, EncodingKey::from_secret(secret), DecodingKey::from_secret(secret))];
    for (algorithm, name) in [(Algorithm::EdDSA, "EdDSA"), (Algorithm::ES256, "ES256"), (Algorithm::RS256, "RS256")] {
        let pem = std::fs::read(keys.join(format!("{name}.pem"))).expect("the key bench/run.sh generated");
        let encoding = match algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            _ => EncodingKey::from_rsa_pem(&pem),
        }
        .expect("a private key PEM");
        // hauth verifies with the public key it derives from its signing key; so does this.
        let jwk = Jwk::from_encoding_key(&encoding, algorithm).expect("a public key");
        cases.push((algorithm, encoding, DecodingKey::from_jwk(&jwk).expect("a decoding key")));
    }
    for (algorithm, encoding, decoding) in cases {
        let token = jsonwebtoken::encode(&Header::new(algorithm), &claims, &encoding).expect("signed");
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&["hasura-auth"]);
        let rate = on_all_cores(seconds, || {
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(&token, &decoding, &validation)
                .expect("verified");
        });
        println!("{algorithm:?} {backend} {rate:.0}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    match (args.get(1).map(String::as_str), args.get(3), args.get(4)) {
        (Some("argon2"), _, _) => argon2(seconds),
        (Some("jwt"), Some(keys), Some(backend)) => jwt(seconds, std::path::Path::new(keys), backend),
        _ => eprintln!("usage: hauth-bench-ceilings argon2 <seconds> | jwt <seconds> <key dir> <rust_crypto|aws_lc_rs>"),
    }
}
