//! `POST /api/v1/applications/{id}/api-keys`: the one answer that carries a new key in full.

use appkeys::domain::key::{CreatedApiKey, IssuedKey, NewKey};
use appkeys::domain::key_format::FullKey;
use appkeys::domain::{ApplicationId, Error, Refusal, Timestamp};
use appkeys::http::body::{self, Body};
use appkeys::http::idempotent::{self, Answer, Post};
use appkeys::http::Call;
use appkeys::lambda::KeyIssuer;
use appkeys::pepper::Sealer;
use appkeys::store::{Caller, Recorder, Written};
use lambda_http::{Request, Response};

/// One request: the key it generates, which the store never sees (only its prefix and keyed
/// hash), and which an idempotency record keeps only sealed.
struct CreateKey<'a> {
    issuer: &'a KeyIssuer,
    full_key: FullKey,
}

impl Post for CreateKey<'_> {
    type Input = (ApplicationId, NewKey);
    type Output = IssuedKey;

    fn parse(
        &self,
        call: &Call<'_>,
        body: &mut Body<'_>,
        now: Timestamp,
    ) -> Result<Self::Input, Refusal> {
        let application = call.application_id()?;
        let request = body::new_api_key(
            body.object()?,
            now,
            &self.issuer.state.config.payment_resources,
        )?;
        let hash = self.issuer.pepper.hash(self.full_key.expose_secret());
        Ok((application, NewKey::new(request, &self.full_key, hash)))
    }

    async fn write(
        &self,
        caller: &Caller<'_>,
        (application, new): Self::Input,
        record: Option<&dyn Recorder<IssuedKey>>,
    ) -> Result<Written<IssuedKey>, Error> {
        let written = self
            .issuer
            .state
            .store
            .create_api_key(caller, application, new, record)
            .await?;
        if let Written::Fresh(issued) = &written {
            tracing::info!(key_prefix = %issued.key_prefix, key_id = %issued.id, "api key created");
        }
        Ok(written)
    }

    fn answer(&self, issued: &IssuedKey) -> Answer<'_> {
        Answer::created(&CreatedApiKey::new(issued, &self.full_key)).with_secret(&self.full_key)
    }

    fn sealer(&self) -> Option<&Sealer> {
        Some(self.issuer.pepper.sealer())
    }
}

pub async fn handler(
    issuer: &KeyIssuer,
    request: Request,
) -> Result<Response<lambda_http::Body>, lambda_http::Error> {
    let create = CreateKey {
        issuer,
        full_key: FullKey::generate(issuer.state.config.key_mode),
    };
    idempotent::post(&request, &issuer.state, &create).await
}
