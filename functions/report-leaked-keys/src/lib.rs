//! `POST /api/v1/secret-scanning/reports`: GitHub's secret-scanning partner endpoint. No JWT: the
//! report is authenticated by its signature, checked before anything else is done with it.

use appkeys::domain::error::SignatureProblem;
use appkeys::domain::origin_lock::{self, OriginLock};
use appkeys::domain::Refusal;
use appkeys::http::{self, call, query, response};
use appkeys::lambda::KeyIssuer;
use appkeys::secret_scanning::{self, PublicKeys};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

/// What the function holds for the life of its instance.
pub struct Scanner {
    pub keys: KeyIssuer,
    pub signing_keys: PublicKeys,
    /// With the edge protection on: reports must come through it.
    pub origin_lock: Option<OriginLock>,
}

pub async fn handler(scanner: &Scanner, request: Request) -> Result<Response<Body>, Error> {
    let request = &request;
    http::respond(request, |deadline| async move {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        };
        if !origin_lock::admits(scanner.origin_lock.as_ref(), header(origin_lock::HEADER)) {
            return Err(Refusal::BadSignature(SignatureProblem::NotThroughEdge).into());
        }
        query::none(request)?;
        let body: &[u8] = request.body().as_ref();
        secret_scanning::check_size(body)?;
        scanner
            .signing_keys
            .verify(
                header("github-public-key-identifier"),
                header("github-public-key-signature"),
                body,
            )
            .await?;
        let tokens = secret_scanning::parse_report(body)?;
        let verdicts = secret_scanning::triage(
            &scanner.keys.state.store,
            &scanner.keys.pepper,
            scanner.keys.state.config.key_mode,
            &tokens,
            &call::origin(request),
            deadline,
        )
        .await?;
        Ok(response::json(StatusCode::OK, &verdicts))
    })
    .await
}
