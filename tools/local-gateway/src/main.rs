//! `local-gateway [serve]`            serve the API on PORT (default 3000)
//! `local-gateway setup`              create the table and pepper secret if absent
//! `local-gateway token [--merchant M] [--ttl SECONDS] [--scope S]...`   print a JWT the gateway
//!                                    accepts: with the read and write scopes, or exactly the
//!                                    `--scope`s given (`--scope ""` for none)

use std::sync::Arc;

use local_gateway::{ensure_local_resources, from_env, JwtSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("setup") => {
            let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required")?;
            let secret = std::env::var("API_KEY_PEPPER_SECRET_ID").ok();
            ensure_local_resources(&table, secret.as_deref()).await
        }
        Some("token") => {
            let merchant = flag(&args, "--merchant").unwrap_or_else(|| "m_123".into());
            let ttl = flag(&args, "--ttl")
                .map(|t| t.parse())
                .transpose()?
                .unwrap_or(3600);
            let jwt = JwtSettings::from_env();
            let scopes = flags(&args, "--scope");
            let token = if scopes.is_empty() {
                jwt.issue(&merchant, ttl)
            } else {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                jwt.issue_with_scopes(&merchant, ttl, &scopes)
            };
            println!("{token}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`: use serve, setup or token").into()),
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    flags(args, name).into_iter().next()
}

/// Every value of a repeatable flag (`--scope a --scope b`); a value may hold several words.
fn flags(args: &[String], name: &str) -> Vec<String> {
    args.windows(2)
        .filter(|pair| pair[0] == name)
        .flat_map(|pair| {
            let words: Vec<String> = pair[1].split_whitespace().map(str::to_owned).collect();
            if words.is_empty() {
                vec![String::new()]
            } else {
                words
            }
        })
        .collect()
}

async fn serve() -> Result<(), lambda_http::Error> {
    appkeys::telemetry::init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .filter(|p| !p.is_empty())
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(3000);
    let gateway = Arc::new(from_env().await?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(port, "local gateway listening");
    tokio::select! {
        _ = gateway.serve(listener) => Ok(()),
        _ = shutdown() => Ok(()),
    }
}

async fn shutdown() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
