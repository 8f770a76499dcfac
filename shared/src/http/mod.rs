//! The HTTP edge of the management functions: what a request says ([`call`]), its query
//! ([`query`]) and body ([`body`]) parsed strictly, responses ([`response`]), the one map from
//! errors to problem+json ([`error`]), and the idempotent POST ([`idempotent`]). Every handler
//! runs inside [`respond`], which bounds it by the invocation's deadline and answers its error.

pub mod body;
pub mod call;
pub mod error;
pub mod idempotent;
pub mod json;
pub mod query;
pub mod response;

use std::future::Future;

use lambda_http::{Body, Request, RequestExt, Response};

use crate::domain::{Deadline, Error, Failure};
use crate::lambda::{deadline, sdk::Budget};
pub use call::Call;

/// Runs a handler's work until the invocation's deadline and answers its error, if any, with the
/// problem response: a handler always answers, and before Lambda's timeout.
pub async fn respond<F, Fut>(
    request: &Request,
    work: F,
) -> Result<Response<Body>, lambda_http::Error>
where
    F: FnOnce(Deadline) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>>,
{
    let deadline = deadline::for_invocation(
        request.lambda_context_ref(),
        Budget::MANAGEMENT.function_timeout,
    );
    let outcome = deadline.run(work(deadline)).await;
    let err = match outcome {
        Ok(Ok(response)) => return Ok(response),
        Ok(Err(err)) => err,
        Err(_) => Failure::DeadlineExceeded.into(),
    };
    Ok(error::response(&err, &call::request_id(request)))
}

/// [`respond`] for a management route: the merchant first (401 without it).
pub async fn management<'a, F, Fut>(
    request: &'a Request,
    merchant_claim: &str,
    work: F,
) -> Result<Response<Body>, lambda_http::Error>
where
    F: FnOnce(Call<'a>) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>>,
{
    respond(request, |deadline| async move {
        let call = Call::new(request, merchant_claim, deadline)?;
        work(call).await
    })
    .await
}
