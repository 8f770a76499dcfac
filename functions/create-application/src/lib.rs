//! `POST /api/v1/applications`

use appkeys::domain::Application;
use appkeys::http;
use appkeys::idempotency::{self, Answer};
use appkeys::store::Idempotent;
use appkeys::Api;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(api: &Api, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        http::no_query(&request)?;
        let new = match http::new_application(&request) {
            Ok(new) => new,
            Err(invalid) => {
                return idempotency::replay_if_recorded(
                    &api.store, &merchant, &request, None, invalid,
                )
                .await
            }
        };
        let claim = idempotency::claim(&request, api.store.clock().now())?;
        let render = |application: &Application| Answer {
            status: StatusCode::CREATED,
            body: serde_json::json!(application),
            location: Some(format!("/api/v1/applications/{}", application.id)),
            full_key: None,
        };
        let record = |application: &Application| match &claim {
            Some(claim) => render(application).record(claim, None),
            None => Err(appkeys::StoreError::Backend("no claim to record".into())),
        };
        let idempotent = claim.as_ref().map(|claim| Idempotent {
            claim,
            render: &record,
        });
        let origin = http::origin(&request);
        match api
            .store
            .create_application(&merchant, new, &origin, idempotent)
            .await
        {
            Ok(written) => idempotency::answer(
                written,
                |app| render(&app).into_response(),
                claim.as_ref(),
                None,
            ),
            Err(refusal) => {
                idempotency::refused(
                    &api.store,
                    &merchant,
                    claim.as_ref(),
                    refusal,
                    &origin.request_id,
                    None,
                )
                .await
            }
        }
    })
    .await
}
