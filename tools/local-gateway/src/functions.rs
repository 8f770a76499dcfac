//! The functions, in-process: the same handlers the Lambda binaries run, with dependencies
//! built once, dispatched by function name as API Gateway's integrations are.

use std::sync::Arc;

use appkeys::authorize::KeyVerifier;
use appkeys::domain::origin_lock::OriginLock;
use appkeys::lambda::config::KEYS_URL_DEFAULT;
use appkeys::lambda::{FunctionError, KeyIssuer, State};
use appkeys::pepper::Pepper;
use appkeys::secret_scanning::PublicKeys;
use lambda_http::{Body, Request, Response};
use report_leaked_keys::Scanner;

pub struct Functions {
    pub issuer: KeyIssuer,
    /// The console's page and assets; not served unless configured.
    pub console: console::Console,
    pub verifier: KeyVerifier,
    /// The leaked-key report function, with its instance's cache of GitHub's signing keys.
    pub scanner: Arc<Scanner>,
}

#[derive(Debug, thiserror::Error)]
#[error("no function named {0}")]
pub struct UnknownFunction(pub String);

impl Functions {
    pub fn new(state: State, pepper: Pepper) -> Self {
        let verifier = KeyVerifier::new(
            state.store.clone(),
            pepper.clone(),
            state.config.key_mode,
            state.config.payment_resources.clone(),
        );
        let issuer = KeyIssuer { state, pepper };
        let scanner = Arc::new(Scanner {
            keys: issuer.clone(),
            signing_keys: PublicKeys::new(KEYS_URL_DEFAULT),
            origin_lock: None,
        });
        Self {
            issuer,
            verifier,
            scanner,
            console: console::Console::default(),
        }
    }

    pub fn state(&self) -> &State {
        &self.issuer.state
    }

    /// Leaked-key reports checked against the keys at `url` (`SECRET_SCANNING_KEYS_URL`).
    pub fn with_signing_keys(mut self, signing_keys: PublicKeys) -> Self {
        self.scanner_mut().signing_keys = signing_keys;
        self
    }

    /// The edge protection on: the authorizer and the report function require its secret.
    pub fn with_origin_lock(mut self, lock: Option<OriginLock>) -> Self {
        self.verifier = self.verifier.with_origin_lock(lock.clone());
        self.scanner_mut().origin_lock = lock;
        self
    }

    /// The console served (`CONSOLE_CLIENT_ID` set).
    pub fn with_console(mut self, console: console::Console) -> Self {
        self.console = console;
        self
    }

    /// The report function while the set-up still holds it alone.
    fn scanner_mut(&mut self) -> &mut Scanner {
        Arc::get_mut(&mut self.scanner).expect("the functions are configured before they serve")
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
            "create-application" => {
                Box::pin(create_application::handler(self.state(), request)).await
            }
            "list-applications" => {
                Box::pin(list_applications::handler(self.state(), request)).await
            }
            "set-application-status" => {
                Box::pin(set_application_status::handler(self.state(), request)).await
            }
            "create-api-key" => Box::pin(create_api_key::handler(&self.issuer, request)).await,
            "revoke-api-key" => Box::pin(revoke_api_key::handler(self.state(), request)).await,
            "update-api-key" => Box::pin(update_api_key::handler(self.state(), request)).await,
            "get-application" => Box::pin(get_application::handler(self.state(), request)).await,
            "list-events" => Box::pin(list_events::handler(self.state(), request)).await,
            "roll-api-key" => Box::pin(roll_api_key::handler(&self.issuer, request)).await,
            "report-leaked-keys" => {
                Box::pin(report_leaked_keys::handler(&self.scanner, request)).await
            }
            "payments-echo" => Box::pin(payments_echo::handler(request)).await,
            "console" => Box::pin(console::handler(&self.console, request)).await,
            other => Err(Box::new(UnknownFunction(other.to_owned()))),
        }
    }

    /// Runs the API-key authorizer on an authorizer event.
    pub async fn authorize(
        &self,
        event: authorizer::Request,
    ) -> Result<authorizer::Response, FunctionError> {
        authorizer::handler(
            &self.verifier,
            lambda_runtime::LambdaEvent::new(event, Default::default()),
        )
        .await
    }
}
