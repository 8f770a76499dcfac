//! `local-gateway [serve]`            serve the API on PORT (default 3000)
//! `local-gateway setup`              create the table, the pepper secret and the event bus if
//!                                    absent
//! `local-gateway token [--merchant M] [--ttl SECONDS] [--scope S]...`   print a JWT the gateway
//!                                    accepts: with the read and write scopes, or exactly the
//!                                    `--scope`s given (`--scope ""` for none); with
//!                                    `--client-id C`, shaped as a Cognito access token of
//!                                    client C (no `aud`, `client_id`)
//! `local-gateway report TOKEN...`    send the gateway on PORT a leaked-key report of TOKENs,
//!                                    signed by the local signer (`LOCAL_SECRET_SCANNING_SIGNER`)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use appkeys::secret_scanning::PublicKeys;
use local_gateway::signer::{keys_document, KeysServer, Signer};

use local_gateway::stream::{publish_once, LocalStream};
use local_gateway::subscriber::Subscriber;
use local_gateway::{ensure_local_resources, from_env, JwtSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("setup") => {
            let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required")?;
            let secret = std::env::var("API_KEY_PEPPER_SECRET_ID").ok();
            let bus = std::env::var("EVENT_BUS_NAME").ok();
            ensure_local_resources(&table, secret.as_deref(), bus.as_deref()).await
        }
        Some("token") => {
            let merchant = flag(&args, "--merchant").unwrap_or_else(|| "m_123".into());
            let ttl = flag(&args, "--ttl")
                .map(|t| t.parse())
                .transpose()?
                .unwrap_or(3600);
            let jwt = JwtSettings::from_env();
            let scopes = flags(&args, "--scope");
            let token = if let Some(client) = flag(&args, "--client-id") {
                jwt.issue_as_client(&merchant, ttl, &client)
            } else if scopes.is_empty() {
                jwt.issue(&merchant, ttl)
            } else {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                jwt.issue_with_scopes(&merchant, ttl, &scopes)
            };
            println!("{token}");
            Ok(())
        }
        Some("report") => report(&args[1..]).await,
        Some(other) => {
            Err(format!("unknown command `{other}`: use serve, setup, token or report").into())
        }
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

/// The local stand-in for GitHub's signer, when `LOCAL_SECRET_SCANNING_SIGNER` names its key
/// file (created if absent): `scripts/dev` sets it unless `SECRET_SCANNING_KEYS_URL` is given.
fn local_signer() -> Result<Option<Signer>, lambda_http::Error> {
    match std::env::var("LOCAL_SECRET_SCANNING_SIGNER") {
        Ok(path) if !path.is_empty() => Ok(Some(Signer::from_file(
            LOCAL_KEY_IDENTIFIER,
            Path::new(&path),
        )?)),
        _ => Ok(None),
    }
}

const LOCAL_KEY_IDENTIFIER: &str = "local-dev-key";

/// Sends a signed report of `tokens` to the running gateway and prints its answer.
async fn report(tokens: &[String]) -> Result<(), lambda_http::Error> {
    let signer =
        local_signer()?.ok_or("LOCAL_SECRET_SCANNING_SIGNER is required (scripts/dev sets it)")?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let entries: Vec<serde_json::Value> = tokens
        .iter()
        .map(|token| {
            serde_json::json!({
                "token": token,
                "type": "appkeys_api_key",
                "url": "https://github.com/octo/leaky/blob/main/.env",
                "source": "content",
            })
        })
        .collect();
    let body = serde_json::Value::Array(entries).to_string();
    let request = hyper::Request::post(format!(
        "http://127.0.0.1:{port}/api/v1/secret-scanning/reports"
    ))
    .header("content-type", "application/json")
    .header("github-public-key-identifier", &signer.identifier)
    .header("github-public-key-signature", signer.sign(body.as_bytes()))
    .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<hyper::body::Bytes>>();
    let response = client.request(request).await?;
    let status = response.status();
    let answer = http_body_util::BodyExt::collect(response.into_body())
        .await?
        .to_bytes();
    println!("{status} {}", String::from_utf8_lossy(&answer));
    Ok(())
}

async fn serve() -> Result<(), lambda_http::Error> {
    appkeys::lambda::telemetry::init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .filter(|p| !p.is_empty())
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(3000);
    let mut gateway = from_env().await?;
    // Kept alive while the gateway serves: the keys document of the local signer.
    let _keys_server = match local_signer()? {
        Some(signer) => {
            let server = KeysServer::start(keys_document(&[&signer])).await;
            gateway.functions = gateway
                .functions
                .with_signing_keys(PublicKeys::new(&server.url));
            tracing::info!(url = %server.url, "leaked-key reports are checked against the local signer");
            Some(server)
        }
        None => None,
    };
    let gateway = Arc::new(gateway);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(port, "local gateway listening");
    let publishing = publish_events();
    tokio::select! {
        _ = gateway.serve(listener) => Ok(()),
        result = publishing => result,
        _ = shutdown() => Ok(()),
    }
}

/// With `EVENT_BUS_NAME` set, stands in for the event publisher's stream mapping: every event
/// written from now on is published to that bus on the local endpoint, within half a second.
/// With `LOCAL_EVENT_QUEUE` set too, prints each event as the queue a rule on the bus delivers it
/// to receives it (like examples/event-subscriber.yaml). Without `EVENT_BUS_NAME`, never returns.
async fn publish_events() -> Result<(), lambda_http::Error> {
    let Ok(bus) = std::env::var("EVENT_BUS_NAME") else {
        return std::future::pending().await;
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .map_err(|_| "EVENT_BUS_NAME needs AWS_ENDPOINT_URL (the local endpoint)")?;
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required")?;
    let mut stream = LocalStream::from_latest(&endpoint, &table).await?;
    let sdk = appkeys::lambda::sdk::sdk_config(appkeys::lambda::sdk::Budget::MANAGEMENT).await;
    let subscriber = match std::env::var("LOCAL_EVENT_QUEUE") {
        Ok(queue) => Some((Subscriber::ensure(&sdk, &bus, &queue).await?, queue)),
        Err(_) => None,
    };
    let publisher = event_publisher::Publisher {
        events: aws_sdk_eventbridge::Client::new(&sdk),
        bus,
    };
    tracing::info!(bus = %publisher.bus, "publishing audit events");
    loop {
        if let Err(err) = publish_once(&mut stream, &publisher).await {
            tracing::warn!(error = %err, "local stream poll failed");
        }
        if let Some((subscriber, queue)) = &subscriber {
            match subscriber.received().await {
                Ok(delivered) => {
                    for event in delivered {
                        println!(
                            "event on {queue}: {} {}",
                            event["detail-type"].as_str().unwrap_or("?"),
                            event["detail"]
                        );
                    }
                }
                Err(err) => tracing::warn!(error = %err, "local event queue read failed"),
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
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
