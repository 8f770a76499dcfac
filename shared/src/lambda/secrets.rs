//! Optional secrets a function reads once at cold start from Secrets Manager, each named by a
//! variable: the GitHub token the report function fetches the secret-scanning keys with
//! (`SECRET_SCANNING_TOKEN_SECRET_ID`; without it the fetch is anonymous), and the edge's
//! origin secret (`ORIGIN_VERIFY_SECRET_ID`; without it no edge is required). A secret that is
//! named but cannot be read, or is not a header-safe token, fails the start: the function would
//! otherwise run without it, unseen.

use aws_config::SdkConfig;
use secrecy::SecretString;

use super::startup::FunctionError;
use crate::domain::origin_lock::OriginLock;

/// One optional secret: the variable that names it, and the `errorType` of a failed read.
#[derive(Debug, Clone, Copy)]
pub struct OptionalSecret {
    pub variable: &'static str,
    pub error_type: &'static str,
}

pub const GITHUB_TOKEN: OptionalSecret = OptionalSecret {
    variable: "SECRET_SCANNING_TOKEN_SECRET_ID",
    error_type: "GitHubTokenUnreadable",
};

pub const ORIGIN_VERIFY: OptionalSecret = OptionalSecret {
    variable: "ORIGIN_VERIFY_SECRET_ID",
    error_type: "OriginSecretUnreadable",
};

impl OptionalSecret {
    /// The secret's value, if `lookup` names one.
    pub async fn read(
        self,
        sdk: &SdkConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<SecretString>, FunctionError> {
        let Some(secret_id) = lookup(self.variable).filter(|id| !id.trim().is_empty()) else {
            return Ok(None);
        };
        let unreadable = |reason: String| FunctionError {
            error_type: self.error_type,
            message: format!(
                "could not read Secrets Manager secret `{secret_id}` ({}): {reason}",
                self.variable
            ),
        };
        let output = aws_sdk_secretsmanager::Client::new(sdk)
            .get_secret_value()
            .secret_id(&secret_id)
            .send()
            .await
            .map_err(|err| {
                unreadable(aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string())
            })?;
        let value = output
            .secret_string
            .ok_or_else(|| unreadable("the secret has no text value".into()))?;
        let value = value.trim();
        // It goes into an HTTP header: printable ASCII, no spaces.
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(unreadable(
                "the value is not a token (printable ASCII without spaces)".into(),
            ));
        }
        Ok(Some(SecretString::from(value.to_owned())))
    }

    /// As the process environment configures it.
    pub async fn from_env(self, sdk: &SdkConfig) -> Result<Option<SecretString>, FunctionError> {
        super::at_start(self.read(sdk, |name| std::env::var(name).ok()).await).await
    }
}

/// The edge's lock, when `ORIGIN_VERIFY_SECRET_ID` names its secret.
pub async fn origin_lock_from_env(sdk: &SdkConfig) -> Result<Option<OriginLock>, FunctionError> {
    Ok(ORIGIN_VERIFY.from_env(sdk).await?.map(OriginLock::new))
}
