//! The functions, in-process: the same handlers the Lambda binaries run, with dependencies
//! built once, dispatched by function name as API Gateway's integrations are.

use std::sync::Arc;

use appkeys::api_key::Pepper;
use appkeys::authorize::KeyVerifier;
use appkeys::secret_scanning::{PublicKeys, KEYS_URL_DEFAULT};
use appkeys::Api;
use lambda_http::{Body, Request, Response};
use report_leaked_keys::Scanner;

pub struct Functions {
    pub api: Api,
    pub pepper: Pepper,
    pub verifier: KeyVerifier,
    /// The leaked-key report function, with its instance's cache of GitHub's signing keys.
    pub scanner: Arc<Scanner>,
}

#[derive(Debug, thiserror::Error)]
#[error("no function named {0}")]
pub struct UnknownFunction(pub String);

impl Functions {
    pub fn new(api: Api, pepper: Pepper) -> Self {
        let verifier = KeyVerifier::new(api.store.clone(), pepper.clone(), api.config.key_mode);
        let scanner = Arc::new(Scanner {
            api: api.clone(),
            pepper: pepper.clone(),
            signing_keys: PublicKeys::new(KEYS_URL_DEFAULT),
        });
        Self {
            api,
            pepper,
            verifier,
            scanner,
        }
    }

    /// Leaked-key reports checked against the keys at `url` (`SECRET_SCANNING_KEYS_URL`).
    pub fn with_signing_keys(mut self, signing_keys: PublicKeys) -> Self {
        self.scanner = Arc::new(Scanner {
            api: self.api.clone(),
            pepper: self.pepper.clone(),
            signing_keys,
        });
        self
    }

    /// Runs the named HTTP function on an API Gateway payload-2.0 request. Each handler's future
    /// is boxed: unoptimised (debug) builds would otherwise lay every arm's future out on the
    /// stack of one frame, and the test threads' 2 MiB stacks overflowed.
    pub async fn invoke(
        &self,
        function: &str,
        request: Request,
    ) -> Result<Response<Body>, lambda_http::Error> {
        match function {
            "create-application" => Box::pin(create_application::handler(&self.api, request)).await,
            "list-applications" => Box::pin(list_applications::handler(&self.api, request)).await,
            "set-application-status" => {
                Box::pin(set_application_status::handler(&self.api, request)).await
            }
            "create-api-key" => {
                Box::pin(create_api_key::handler(&self.api, &self.pepper, request)).await
            }
            "revoke-api-key" => Box::pin(revoke_api_key::handler(&self.api, request)).await,
            "get-application" => Box::pin(get_application::handler(&self.api, request)).await,
            "list-events" => Box::pin(list_events::handler(&self.api, request)).await,
            "roll-api-key" => {
                Box::pin(roll_api_key::handler(&self.api, &self.pepper, request)).await
            }
            "report-leaked-keys" => {
                Box::pin(report_leaked_keys::handler(&self.scanner, request)).await
            }
            "payments-echo" => Box::pin(payments_echo::handler(request)).await,
            other => Err(Box::new(UnknownFunction(other.to_owned()))),
        }
    }

    /// Runs the API-key authorizer on an authorizer event.
    pub async fn authorize(
        &self,
        event: authorizer::Request,
    ) -> Result<authorizer::Response, appkeys::failure::Failure> {
        authorizer::handler(
            &self.verifier,
            lambda_runtime::LambdaEvent::new(event, Default::default()),
        )
        .await
    }
}
