//! `POST /api/v1/applications/{id}/api-keys/{keyId}/roll`: a new key replaces one, which keeps
//! working for a grace window.

use appkeys::api_key::{FullKey, Pepper};
use appkeys::domain::{CreatedApiKey, RolledApiKey, RolledKey};
use appkeys::http;
use appkeys::idempotency::{self, Answer};
use appkeys::store::{Idempotent, Roll, Rolled};
use appkeys::Api;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(
    api: &Api,
    pepper: &Pepper,
    request: Request,
) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        http::no_query(&request)?;
        let application_id = http::application_id(&request)?;
        let key_id = http::key_id(&request)?;
        let grace_seconds = match http::roll_request(&request) {
            Ok(seconds) => seconds,
            Err(invalid) => {
                return idempotency::replay_if_recorded(
                    &api.store,
                    &merchant,
                    &request,
                    Some(pepper),
                    invalid,
                )
                .await
            }
        };
        let claim = idempotency::claim(&request, api.store.clock().now())?;
        let full_key = FullKey::generate(api.config.key_mode);
        // The store gets what it keeps, never the key itself.
        let roll = Roll {
            grace_seconds,
            key_prefix: full_key.display_prefix().to_owned(),
            hash: pepper.hash(full_key.expose_secret()),
        };
        let render = |rolled: &Rolled| Answer {
            status: StatusCode::CREATED,
            body: serde_json::json!(RolledApiKey {
                rolled_key: RolledKey {
                    id: rolled.old_key.to_string(),
                    expires_at: rolled.old_expires_at
                },
                key: CreatedApiKey::new(rolled.new_key.clone(), &full_key),
            }),
            location: None,
            full_key: Some(&full_key),
        };
        let record = |rolled: &Rolled| match &claim {
            Some(claim) => render(rolled).record(claim, Some(pepper)),
            None => Err(appkeys::StoreError::Backend("no claim to record".into())),
        };
        let idempotent = claim.as_ref().map(|claim| Idempotent {
            claim,
            render: &record,
        });
        let origin = http::origin(&request);
        match api
            .store
            .roll_api_key(&merchant, application_id, key_id, roll, &origin, idempotent)
            .await
        {
            Ok(written) => {
                if let appkeys::store::Written::Fresh(rolled) = &written {
                    tracing::info!(
                        key_prefix = full_key.display_prefix(),
                        key_id = %rolled.new_key.id,
                        rolled_key_id = %rolled.old_key,
                        "api key rolled"
                    );
                }
                idempotency::answer(
                    written,
                    |rolled| render(&rolled).into_response(),
                    claim.as_ref(),
                    Some(pepper),
                )
            }
            Err(refusal) => {
                idempotency::refused(
                    &api.store,
                    &merchant,
                    claim.as_ref(),
                    refusal,
                    &origin.request_id,
                    Some(pepper),
                )
                .await
            }
        }
    })
    .await
}
