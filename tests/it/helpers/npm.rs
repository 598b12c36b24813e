//! The npm packages the black-box tests use (`tests/sdk/package-lock.json`: the nhost SDK, jose, maildev,
//! oidc-provider, otpauth, playwright-core), installed once on first use.
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

pub fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

fn installed() -> bool {
    let modules = sdk_dir().join("node_modules");
    ["@nhost/hasura-auth-js", "jose", ".bin/maildev", "oidc-provider", "otpauth", "playwright-core"]
        .iter()
        .all(|package| modules.join(package).exists())
}

/// Installs the npm packages of `tests/sdk` when one is missing: `npm ci` on a fresh checkout, else
/// `npm install --no-save`, which only adds what is missing and leaves packages other tests may be using in
/// place. A file lock keeps test processes (nextest) from installing at the same time.
pub fn ensure_npm_packages() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if installed() {
        return;
    }
    let lock_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("npm-install.lock");
    let lock = std::fs::File::create(&lock_path).expect("create the npm install lock file");
    lock.lock().expect("lock the npm install lock file");
    if !installed() {
        let fresh = !sdk_dir().join("node_modules").is_dir();
        let args: &[&str] = if fresh { &["ci"] } else { &["install", "--no-save"] };
        let status = Command::new("npm")
            .args(args)
            .args(["--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(sdk_dir())
            .status()
            .expect("npm is needed for the black-box tests");
        assert!(status.success(), "npm {args:?} in tests/sdk failed");
    }
    let _ = lock.unlock();
}
