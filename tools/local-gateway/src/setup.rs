//! A local run's set-up: the gateway built from the environment as the Lambda functions build
//! themselves, and the local resources (table, pepper secret, bus) created when absent.

use appkeys::lambda::sdk::{sdk_config, Budget};

use crate::{dev_secret, Cors, Functions, Gateway, JwtSettings};

/// Everything a local run needs, built from the environment as the Lambda functions build it.
pub async fn from_env() -> Result<Gateway, lambda_http::Error> {
    dev_secret::check(|name| std::env::var(name).ok())?;
    let config = appkeys::lambda::Config::from_env()?;
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let pepper = appkeys::lambda::pepper_from_env(&sdk).await?;
    let keys_url =
        appkeys::lambda::config::secret_scanning_keys_url(|name| std::env::var(name).ok())?;
    let functions = Functions::new(appkeys::lambda::State::new(config, &sdk), pepper)
        .with_signing_keys(
            appkeys::secret_scanning::PublicKeys::new(&keys_url).with_token(
                appkeys::lambda::secrets::GITHUB_TOKEN
                    .from_env(&sdk)
                    .await?,
            ),
        )
        .with_origin_lock(appkeys::lambda::secrets::origin_lock_from_env(&sdk).await?);
    let jwt = JwtSettings::from_env();
    jwt.check_console_scopes()?;
    // The console signs in against the local issuer, whose default the gateway supplies.
    let console = console::Settings::from_lookup(|name| {
        std::env::var(name)
            .ok()
            .or_else(|| (name == "JWT_ISSUER").then(|| jwt.issuer.clone()))
    })?;
    let functions = functions.with_console(console::Console::new(console));
    Ok(Gateway {
        functions,
        jwt,
        cors: Cors::from_env()?,
    })
}

/// Creates the table and the pepper secret when they do not exist yet (idempotent).
pub async fn ensure_local_resources(
    table: &str,
    secret_id: Option<&str>,
    event_bus: Option<&str>,
) -> Result<(), lambda_http::Error> {
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    if dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_err()
    {
        devkit::schema::create_table(&dynamodb, table).await?;
    }
    if let Some(secret_id) = secret_id {
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        if secrets
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .is_err()
        {
            let mut pepper = [0u8; 32];
            getrandom::fill(&mut pepper)?;
            secrets
                .create_secret()
                .name(secret_id)
                .secret_string(hex::encode(pepper))
                .send()
                .await?;
        }
    }
    if let Some(bus) = event_bus {
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        if events.describe_event_bus().name(bus).send().await.is_err() {
            events.create_event_bus().name(bus).send().await?;
        }
    }
    Ok(())
}
