//! The idempotent POST: every creating route (`POST /applications`, `…/api-keys`, `…/roll`)
//! accepts an `Idempotency-Key` (as in Stripe's API and the IETF httpapi draft "The
//! Idempotency-Key HTTP Header Field"). A handler says what to parse, what to write and how to
//! answer ([`Post`]); [`post`] does the rest, in this one place:
//!
//! 1. the key (1 to 255 printable ASCII characters, unquoted) and the request's fingerprint
//!    (route, path ids and the parsed body, so white space and member order do not matter);
//! 2. the write, with the answer it will give recorded in its own transaction (a full key sealed
//!    under a key derived from the pepper), so there is never a moment when a request holds a key
//!    without its change being done, and nothing to go stale if a function dies mid-way;
//! 3. a refusal the write meets (409 `name_taken`, a limit, 404) kept under the key, like a
//!    success; a failure (5xx) never: a retry runs again;
//! 4. when a live record holds the key: its answer replayed (`Idempotent-Replayed: true`) if it
//!    answers this same request from the same caller (the token's `sub`), 422
//!    `idempotency_key_reused` otherwise, with no part of the recorded answer. A concurrent
//!    duplicate therefore gets the winner's answer, never `idempotency_key_in_use`.
//!
//! [`claim`] says whose request holds a key; [`answer`] keeps and replays answers.

mod answer;
mod claim;

use std::future::Future;

use lambda_http::{Body as HttpBody, Request, Response};

use super::body::Body;
use super::call::Call;
use super::{error, query};
use crate::domain::{Error, Failure, Refusal, Timestamp};
use crate::lambda::State;
use crate::pepper::Sealer;
use crate::store::items::idempotency_record::{Claim, StoredResponse};
use crate::store::retry::{Attempts, Retry};
use crate::store::{Caller, Recorder, Written};
use answer::{replay, stored_problem};
pub use answer::{Answer, REPLAYED_HEADER};
use claim::claim;
pub use claim::{key, HEADER};

/// A creating route, as its handler gives it to [`post`].
pub trait Post: Sync {
    /// What the write takes: path ids and the parsed body.
    type Input: Clone + Send + Sync;
    /// What the write made.
    type Output: Send + Sync;

    /// The path's ids (404) and the body's fields (400), refused in that order.
    fn parse(
        &self,
        call: &Call<'_>,
        body: &mut Body<'_>,
        now: Timestamp,
    ) -> Result<Self::Input, Refusal>;

    /// The change, recording `record`'s answer in its own transaction when there is one.
    fn write(
        &self,
        caller: &Caller<'_>,
        input: Self::Input,
        record: Option<&dyn Recorder<Self::Output>>,
    ) -> impl Future<Output = Result<Written<Self::Output>, Error>> + Send;

    /// The answer to what was written.
    fn answer(&self, output: &Self::Output) -> Answer<'_>;

    /// What seals the full key of an answer that carries one.
    fn sealer(&self) -> Option<&Sealer> {
        None
    }
}

/// Runs a creating route: see the module's notes.
pub async fn post<P: Post>(
    request: &Request,
    state: &State,
    handler: &P,
) -> Result<Response<HttpBody>, lambda_http::Error> {
    super::management(request, &state.config.merchant_claim, |call| async move {
        query::none(request)?;
        let now = state.store.clock().now();
        let mut body = Body::new(request.body().as_ref());
        let input = match handler.parse(&call, &mut body, now) {
            Ok(input) => input,
            Err(refusal) => {
                return replay_if_recorded(state, &call, &body, now, handler, refusal).await
            }
        };
        let Some(claim) = claim(request, body.parsed(), now)? else {
            return match handler.write(&call.caller(), input, None).await? {
                Written::Fresh(output) => Ok(handler.answer(&output).into_response()),
                Written::KeyHeld => Err(Failure::Backend("a key held without a key".into()).into()),
            };
        };
        let recorder = Pending {
            claim: &claim,
            handler,
        };
        let mut attempts = Attempts::until(call.deadline);
        loop {
            match handler
                .write(&call.caller(), input.clone(), Some(&recorder))
                .await
            {
                Ok(Written::Fresh(output)) => return Ok(handler.answer(&output).into_response()),
                Ok(Written::KeyHeld) => {}
                Err(Error::Refused(refusal)) if refusal.lasts() => {
                    let refused = error::response(&refusal.into(), &call.origin.request_id);
                    let kept = state
                        .store
                        .record_refusal(
                            &call.merchant,
                            &claim,
                            &stored_problem(&refused),
                            call.deadline,
                        )
                        .await?;
                    if kept == Written::Fresh(()) {
                        return Ok(refused);
                    }
                }
                Err(err) => return Err(err),
            }
            // A live record holds the key: it answers, if it answers this request.
            match state
                .store
                .idempotency_record(&call.merchant, &claim, call.deadline)
                .await?
            {
                Some(recorded) if recorded.answers(&claim) => {
                    return replay(&recorded.response, &claim, handler.sealer())
                }
                Some(_) => return Err(Refusal::IdempotencyKeyReused.into()),
                // It expired or went meanwhile: run the request again.
                None => attempts.wait(Retry::Changed).await?,
            }
        }
    })
    .await
}

/// The recorder a write is given: renders and seals the handler's answer under the claim.
struct Pending<'a, P> {
    claim: &'a Claim,
    handler: &'a P,
}

impl<P: Post> Recorder<P::Output> for Pending<'_, P> {
    fn claim(&self) -> &Claim {
        self.claim
    }

    fn response(&self, written: &P::Output) -> Result<StoredResponse, Failure> {
        self.handler
            .answer(written)
            .stored(self.claim, self.handler.sealer())
    }
}

/// A request refused before the write with a 400: if its key holds a live record of this same
/// request, that record answers it. The request was valid when first sent; an `expiresAt` that
/// has passed since (or a rule tightened since) must not turn a retry after a lost response into
/// a refusal. Costs one read, on this path only; otherwise, and if the store cannot answer, the
/// refusal stands. A body that is not strict JSON (a member given twice, which a lenient parse
/// would read as another body) is never the request that was recorded.
async fn replay_if_recorded<P: Post>(
    state: &State,
    call: &Call<'_>,
    body: &Body<'_>,
    now: Timestamp,
    handler: &P,
    refusal: Refusal,
) -> Result<Response<HttpBody>, Error> {
    if !matches!(refusal, Refusal::Validation(_)) || body.parsed().is_none() {
        return Err(refusal.into());
    }
    let Ok(Some(claim)) = claim(call.request, body.parsed(), now) else {
        return Err(refusal.into());
    };
    match state
        .store
        .idempotency_record(&call.merchant, &claim, call.deadline)
        .await
    {
        Ok(Some(recorded)) if recorded.answers(&claim) => {
            replay(&recorded.response, &claim, handler.sealer())
        }
        _ => Err(refusal.into()),
    }
}
