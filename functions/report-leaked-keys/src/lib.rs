//! `POST /api/v1/secret-scanning/reports`: GitHub's secret-scanning partner endpoint. No JWT: the
//! report is authenticated by its signature, checked before anything else is done with it.

use appkeys::api_key::Pepper;
use appkeys::http::{self, json_response, ApiError};
use appkeys::secret_scanning::{self, PublicKeys};
use appkeys::Api;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

/// What the function holds for the life of its instance.
pub struct Scanner {
    pub api: Api,
    pub pepper: Pepper,
    pub signing_keys: PublicKeys,
}

pub async fn handler(scanner: &Scanner, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        http::no_query(&request)?;
        let body: &[u8] = request.body().as_ref();
        secret_scanning::check_size(body)?;
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        };
        scanner
            .signing_keys
            .verify(
                header("github-public-key-identifier"),
                header("github-public-key-signature"),
                body,
            )
            .await
            .map_err(ApiError::BadSignature)?;
        let tokens = secret_scanning::parse_report(body)?;
        let verdicts = secret_scanning::triage(
            &scanner.api.store,
            &scanner.pepper,
            scanner.api.config.key_mode,
            &tokens,
            &http::origin(&request),
        )
        .await?;
        Ok(json_response(StatusCode::OK, &verdicts))
    })
    .await
}
