use appkeys::lambda::config::secret_scanning_keys_url;
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::{at_start, pepper_from_env, secrets, telemetry, Config, KeyIssuer, State};
use appkeys::secret_scanning::PublicKeys;
use lambda_http::{run, service_fn, Error};
use report_leaked_keys::Scanner;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = at_start(Config::from_env()).await?;
    let keys_url = at_start(secret_scanning_keys_url(|name| std::env::var(name).ok())).await?;
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let pepper = pepper_from_env(&sdk).await?;
    let scanner = Scanner {
        keys: KeyIssuer {
            state: State::new(config, &sdk),
            pepper,
        },
        signing_keys: PublicKeys::new(&keys_url)
            .with_token(secrets::GITHUB_TOKEN.from_env(&sdk).await?),
        origin_lock: secrets::origin_lock_from_env(&sdk).await?,
    };
    run(service_fn(|request| {
        report_leaked_keys::handler(&scanner, request)
    }))
    .await
}
