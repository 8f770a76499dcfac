//! `POST /api/v1/applications/{id}/api-keys/{keyId}/roll`: a new key replaces one, which keeps
//! working for a grace window.

use appkeys::domain::key::{Roll, Rolled, RolledApiKey};
use appkeys::domain::key_format::FullKey;
use appkeys::domain::{ApplicationId, Error, KeyId, Refusal, Timestamp};
use appkeys::http::body::{self, Body};
use appkeys::http::idempotent::{self, Answer, Post};
use appkeys::http::Call;
use appkeys::lambda::KeyIssuer;
use appkeys::pepper::Sealer;
use appkeys::store::{Caller, Recorder, Written};
use lambda_http::{Request, Response};

/// One request: the new key it generates, as a key creation does.
struct RollKey<'a> {
    issuer: &'a KeyIssuer,
    full_key: FullKey,
}

impl Post for RollKey<'_> {
    type Input = (ApplicationId, KeyId, Roll);
    type Output = Rolled;

    fn parse(
        &self,
        call: &Call<'_>,
        body: &mut Body<'_>,
        _: Timestamp,
    ) -> Result<Self::Input, Refusal> {
        let (application, key) = (call.application_id()?, call.key_id()?);
        let (grace_seconds, permissions) =
            body::roll_request(body.object()?, &self.issuer.state.config.payment_resources)?;
        let roll = Roll {
            grace_seconds,
            key_prefix: self.full_key.display_prefix().to_owned(),
            hash: self.issuer.pepper.hash(self.full_key.expose_secret()),
            permissions,
        };
        Ok((application, key, roll))
    }

    async fn write(
        &self,
        caller: &Caller<'_>,
        (application, key, roll): Self::Input,
        record: Option<&dyn Recorder<Rolled>>,
    ) -> Result<Written<Rolled>, Error> {
        let written = self
            .issuer
            .state
            .store
            .roll_api_key(caller, application, key, roll, record)
            .await?;
        if let Written::Fresh(rolled) = &written {
            tracing::info!(
                key_prefix = %rolled.new_key.key_prefix,
                key_id = %rolled.new_key.id,
                rolled_key_id = %rolled.old_key,
                "api key rolled"
            );
        }
        Ok(written)
    }

    fn answer(&self, rolled: &Rolled) -> Answer<'_> {
        Answer::created(&RolledApiKey::new(rolled, &self.full_key)).with_secret(&self.full_key)
    }

    fn sealer(&self) -> Option<&Sealer> {
        Some(self.issuer.pepper.sealer())
    }
}

pub async fn handler(
    issuer: &KeyIssuer,
    request: Request,
) -> Result<Response<lambda_http::Body>, lambda_http::Error> {
    let roll = RollKey {
        issuer,
        full_key: FullKey::generate(issuer.state.config.key_mode),
    };
    idempotent::post(&request, &issuer.state, &roll).await
}
