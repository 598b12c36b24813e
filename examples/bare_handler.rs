//! The ceiling `bench/run.sh` measures hauth's HTTP paths against: a poem server built from the same
//! dependency versions (this package's lock file) and the same runtime, answering every `GET` with a fixed
//! JSON body the size of a webhook answer. Whatever hauth does beyond this is its own cost.
//!
//! `cargo run --release --example bare_handler -- <port>`

use poem::listener::TcpListener;
use poem::{Route, Server, get, handler};

#[handler]
fn answer() -> poem::Response {
    poem::Response::builder().content_type("application/json").body(
        r#"{"Cache-Control":"max-age=900","X-Hasura-Role":"user","X-Hasura-User-Id":"0190c0de-0000-7000-8000-000000000000","X-Hasura-User-Is-Anonymous":"false"}"#,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "4570".into());
    let app = Route::new().at("/*path", get(answer));
    Server::new(TcpListener::bind(format!("127.0.0.1:{port}"))).run(app).await
}
