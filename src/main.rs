//! The `hauth` binary: parses the command line and hands over to [`hauth::cli::run`].
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = hauth::cli::Cli::parse();
    match hauth::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hauth: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
