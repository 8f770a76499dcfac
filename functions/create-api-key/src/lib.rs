//! `POST /api/v1/applications/{id}/api-keys`

use appkeys::api_key::{FullKey, Pepper};
use appkeys::domain::{CreatedApiKey, IssuedKey, KeyRequest};
use appkeys::http;
use appkeys::idempotency::{self, Answer};
use appkeys::store::{Idempotent, NewKey};
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
        let now = api.store.clock().now();
        let KeyRequest { description, expires_at } = match http::new_api_key(&request, now) {
            Ok(parsed) => parsed,
            Err(invalid) => {
                return idempotency::replay_if_recorded(&api.store, &merchant, &request, Some(pepper), invalid)
                    .await
            }
        };
        let claim = idempotency::claim(&request, now)?;
        let full_key = FullKey::generate(api.config.key_mode);
        // The store gets what it keeps, never the key itself (an idempotency record keeps it
        // only encrypted).
        let new = NewKey {
            description,
            key_prefix: full_key.display_prefix().to_owned(),
            hash: pepper.hash(full_key.expose_secret()),
            expires_at,
        };
        let render = |issued: &IssuedKey| Answer {
            status: StatusCode::CREATED,
            body: serde_json::json!(CreatedApiKey::new(issued.clone(), &full_key)),
            location: None,
            full_key: Some(&full_key),
        };
        let record = |issued: &IssuedKey| match &claim {
            Some(claim) => render(issued).record(claim, Some(pepper)),
            None => Err(appkeys::StoreError::Backend("no claim to record".into())),
        };
        let idempotent = claim.as_ref().map(|claim| Idempotent { claim, render: &record });
        let origin = http::origin(&request);
        match api.store.create_api_key(&merchant, application_id, new, &origin, idempotent).await {
            Ok(written) => {
                if let appkeys::store::Written::Fresh(issued) = &written {
                    tracing::info!(key_prefix = full_key.display_prefix(), key_id = %issued.id, "api key created");
                }
                idempotency::answer(written, |issued| render(&issued).into_response(), claim.as_ref(), Some(pepper))
            }
            Err(refusal) => {
                idempotency::refused(&api.store, &merchant, claim.as_ref(), refusal, &origin.request_id, Some(pepper)).await
            }
        }
    })
    .await
}
