//! `POST /api/v1/applications/{id}/api-keys`

use appkeys::api_key::{FullKey, Pepper};
use appkeys::domain::{CreatedApiKey, KeyRequest};
use appkeys::http::{self, secret_response};
use appkeys::store::NewKey;
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
        let application_id = http::application_id(&request)?;
        let KeyRequest { description, expires_at } =
            http::new_api_key(&request, api.store.clock().now())?;
        let full_key = FullKey::generate(api.config.key_mode);
        // The store gets what it keeps, never the key itself.
        let new = NewKey {
            description,
            key_prefix: full_key.display_prefix().to_owned(),
            hash: pepper.hash(full_key.expose_secret()),
            expires_at,
        };
        let issued = api.store.create_api_key(&merchant, application_id, new).await?;
        tracing::info!(key_prefix = full_key.display_prefix(), key_id = %issued.id, "api key created");
        Ok(secret_response(StatusCode::CREATED, &CreatedApiKey::new(issued, &full_key)))
    })
    .await
}
