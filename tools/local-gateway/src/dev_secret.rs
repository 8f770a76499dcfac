//! The built-in development JWT secret is public (it is in this repository), so a token signed
//! with it proves nothing: anyone can mint one for any merchant. The gateway therefore refuses to
//! serve with it unless every AWS service it calls is on this machine, so that it can never front
//! real data.

use crate::jwt::DEFAULT_SECRET;

/// `Err` with the reason when the gateway must not serve: the JWT secret is the public default
/// (`LOCAL_JWT_SECRET` unset, empty or equal to it) and some service's endpoint is not loopback.
pub fn check(lookup: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    let public = lookup("LOCAL_JWT_SECRET")
        .filter(|secret| !secret.is_empty())
        .is_none_or(|secret| secret == DEFAULT_SECRET);
    let remote = devkit::guard::remote_services(&lookup);
    if !public || remote.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing to serve: the JWT secret is the built-in development one, which is public, and \
         {} requests would go to real AWS (AWS_ENDPOINT_URL is unset or not a loopback address). \
         Point AWS_ENDPOINT_URL at a local endpoint (scripts/dev does), or set LOCAL_JWT_SECRET \
         to a secret of your own.",
        remote.join(" and ")
    ))
}
