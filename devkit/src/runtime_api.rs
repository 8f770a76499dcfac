//! A stub of the Lambda Runtime API on loopback, to run the real function binaries through the
//! runtime loop as Lambda runs them: the binary polls `GET /2018-06-01/runtime/invocation/next`,
//! gets one event after another, and posts each answer to `.../invocation/{id}/response` (or
//! `/error`). Used by the cold-start benchmark and the trace-level logging tests.
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>)

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};

/// What the function posted back for one invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    pub request_id: String,
    pub at: Instant,
    /// `true` for `/response`, `false` for `/error` (an invocation or init error).
    pub ok: bool,
    pub body: String,
}

#[derive(Default)]
struct State {
    pending: VecDeque<String>,
    handed_out: usize,
    first_next: Option<Instant>,
    answers: Vec<Answer>,
}

pub struct RuntimeApi {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves `events` in order, one per `/next`; once they are all handed out, `/next` never
    /// answers (the function waits, as an idle Lambda instance does).
    pub async fn start(events: Vec<String>) -> Self {
        let state = Arc::new(Mutex::new(State {
            pending: events.into(),
            ..State::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API stub");
        let address = listener.local_addr().unwrap();
        let server = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            answer(state.clone(), request)
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        Self {
            address,
            state,
            server,
        }
    }

    /// `AWS_LAMBDA_RUNTIME_API`: host and port.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// When the function first asked for an event: the end of its init.
    pub fn first_next(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_next
    }

    /// A command that runs `binary` as Lambda would run function `function` against this stub.
    /// The AWS endpoint, region and credentials come from the caller's environment.
    pub fn command(&self, binary: &Path, function: &str) -> Command {
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "stub")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env_remove("RUST_LOG")
            .env_remove("AWS_LAMBDA_LOG_LEVEL")
            .env_remove("AWS_LAMBDA_LOG_FORMAT")
            .env_remove("API_KEY_PEPPER")
            .env_remove("API_KEY_PEPPER_SECRET_ID")
            .stdin(Stdio::null());
        command
    }

    /// Waits until the function has answered `count` invocations, and returns the answers.
    /// Panics if it exits, posts an init error, or takes longer than `timeout`.
    pub async fn answers(&self, count: usize, child: &mut Child, timeout: Duration) -> Vec<Answer> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let state = self.state.lock().unwrap();
                if let Some(init) = state.answers.iter().find(|a| a.request_id == "init") {
                    panic!("the function failed to start: {}", init.body);
                }
                if state.answers.len() >= count {
                    return state.answers[..count].to_vec();
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the function exited with {status} before answering {count} invocations");
            }
            assert!(
                Instant::now() < deadline,
                "the function did not answer {count} invocations within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let now = Instant::now();
    if path.ends_with("/invocation/next") {
        let next = {
            let mut state = state.lock().unwrap();
            state.first_next.get_or_insert(now);
            state.pending.pop_front().map(|event| {
                state.handed_out += 1;
                (format!("invocation-{}", state.handed_out), event)
            })
        };
        let Some((request_id, event)) = next else {
            std::future::pending::<()>().await;
            unreachable!("pending never completes");
        };
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        let response = hyper::Response::builder()
            .header("lambda-runtime-aws-request-id", &request_id)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:stub",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event)))
            .unwrap();
        return Ok(response);
    }
    // `/runtime/invocation/{id}/response`, `/runtime/invocation/{id}/error`, `/runtime/init/error`.
    let segments: Vec<&str> = path.split('/').collect();
    let (request_id, ok) = match segments.as_slice() {
        [.., "invocation", id, "response"] => (id.to_string(), true),
        [.., "invocation", id, "error"] => (id.to_string(), false),
        _ => ("init".to_owned(), false),
    };
    state.lock().unwrap().answers.push(Answer {
        request_id,
        at: now,
        ok,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    Ok(hyper::Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")))
        .unwrap())
}

/// Runs `binary` as function `function` through `events` with `envs`, and returns its answers
/// and everything it wrote to stdout and stderr.
pub async fn run_function(
    binary: &Path,
    function: &str,
    events: Vec<String>,
    envs: &[(&str, &str)],
) -> (Vec<Answer>, String) {
    let count = events.len();
    let runtime = RuntimeApi::start(events).await;
    let output_dir =
        std::env::temp_dir().join(format!("appkeys-{function}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&output_dir).unwrap();
    let stdout = output_dir.join("stdout");
    let stderr = output_dir.join("stderr");
    let mut child = KillOnDrop(
        runtime
            .command(binary, function)
            .envs(envs.iter().copied())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|err| panic!("run {}: {err}", binary.display())),
    );
    let answers = runtime
        .answers(count, &mut child.0, Duration::from_secs(30))
        .await;
    // Let the last lines reach the files before the process goes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(child);
    let output =
        std::fs::read_to_string(&stdout).unwrap() + &std::fs::read_to_string(&stderr).unwrap();
    let _ = std::fs::remove_dir_all(&output_dir);
    (answers, output)
}

/// A child process that is killed when dropped, also when a test fails halfway.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
