//! Management-route tokens, checked as API Gateway's HTTP API JWT authorizer checks them:
//! signature, required `exp`, `nbf` when present, `iss`, and `aud` (or, for a token without
//! `aud` such as a Cognito access token, `client_id`), where the audience is `JWT_AUDIENCE` or,
//! with the console configured, its client id (`CONSOLE_CLIENT_ID`), as the template's
//! `JwtConfiguration` lists them; then the route's scopes (`scope` or `scp`).
//! Locally the key is a shared HS256 secret instead of the issuer's JWKS, and HS256 is the only
//! algorithm accepted.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use devkit::routes::Scopes;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value};

pub const DEFAULT_ISSUER: &str = "https://auth.local.example";
pub const DEFAULT_AUDIENCE: &str = "applications-api";
/// Only for local runs; `scripts/dev` prints tokens signed with it.
pub const DEFAULT_SECRET: &str = "local-development-secret-not-for-production";

#[derive(Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    secret: Vec<u8>,
    pub merchant_claim: String,
    /// What the routes require (`JWT_READ_SCOPE`, `JWT_WRITE_SCOPE`), as the template configures
    /// the HTTP API's routes.
    pub scopes: Scopes,
    /// The console's OAuth client, accepted as an audience beside `audience`.
    pub console_client: Option<String>,
}

/// A token the authorizer accepted: its claims as API Gateway passes them on, and its scopes.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: HashMap<String, String>,
    pub scopes: Vec<String>,
}

impl JwtSettings {
    pub fn new(issuer: &str, audience: &str, secret: &[u8], merchant_claim: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            secret: secret.to_vec(),
            merchant_claim: merchant_claim.to_owned(),
            scopes: Scopes::default(),
            console_client: None,
        }
    }

    pub fn with_console_client(mut self, client: Option<String>) -> Self {
        self.console_client = client.filter(|c| !c.is_empty());
        self
    }

    pub fn with_scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `LOCAL_JWT_SECRET`, `MERCHANT_CLAIM`, `JWT_READ_SCOPE` and
    /// `JWT_WRITE_SCOPE`, with local defaults.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self::new(
            &var("JWT_ISSUER", DEFAULT_ISSUER),
            &var("JWT_AUDIENCE", DEFAULT_AUDIENCE),
            var("LOCAL_JWT_SECRET", DEFAULT_SECRET).as_bytes(),
            &var("MERCHANT_CLAIM", "merchant_id"),
        )
        .with_scopes(Scopes::from_env())
        .with_console_client(std::env::var("CONSOLE_CLIENT_ID").ok())
    }

    /// `Err` naming the variables when the console is served with a scope requirement turned
    /// off: an ID token issued to the console carries its client id as `aud` and no scope, so
    /// only the scopes keep it out (the template's rule `ConsoleRequiresScopes`).
    pub fn check_console_scopes(&self) -> Result<(), String> {
        match &self.console_client {
            Some(_) if self.scopes.read.is_empty() || self.scopes.write.is_empty() => Err(
                "refusing to serve: CONSOLE_CLIENT_ID is set, so JWT_READ_SCOPE and \
                 JWT_WRITE_SCOPE must not be empty (the console's ID tokens have its client id \
                 as audience and no scope; only the scopes refuse them). To run without scopes, \
                 set CONSOLE_CLIENT_ID= (empty) as well."
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }

    /// The claims API Gateway would pass on, all as strings, and the token's scopes; or `None`
    /// (401).
    pub fn verify(&self, authorization: Option<&str>) -> Option<Verified> {
        let header = authorization?;
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
            _ => header,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        // The audience is checked below: `aud`, or `client_id` when there is no `aud`.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        let claims = decode::<Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .ok()?
        .claims;
        if !self.addressed_to_us(&claims) {
            return None;
        }
        let scopes = token_scopes(&claims);
        Some(Verified {
            claims: claims
                .into_iter()
                .map(|(name, value)| (name, claim_string(value)))
                .collect(),
            scopes,
        })
    }

    /// API Gateway checks `aud`; only a token without `aud` (a Cognito access token) is checked
    /// by its `client_id` instead.
    fn addressed_to_us(&self, claims: &Map<String, Value>) -> bool {
        let accepted = |value: &Value| {
            value
                .as_str()
                .is_some_and(|v| v == self.audience || self.console_client.as_deref() == Some(v))
        };
        match claims.get("aud") {
            Some(Value::Array(audiences)) => audiences.iter().any(accepted),
            Some(audience) => accepted(audience),
            None => claims.get("client_id").is_some_and(accepted),
        }
    }

    /// A token this gateway accepts, for `merchant`, valid for `ttl_seconds`, with both scopes
    /// (read and write): it may call every route.
    pub fn issue(&self, merchant: &str, ttl_seconds: u64) -> String {
        let scopes = [self.scopes.read.as_str(), self.scopes.write.as_str()];
        self.issue_with_scopes(merchant, ttl_seconds, &scopes)
    }

    /// A token for `merchant` carrying exactly `scopes` (empty names are left out).
    pub fn issue_with_scopes(&self, merchant: &str, ttl_seconds: u64, scopes: &[&str]) -> String {
        self.sign(&self.claims(merchant, ttl_seconds, scopes))
    }

    fn claims(&self, merchant: &str, ttl_seconds: u64, scopes: &[&str]) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let mut claims = json!({
            "sub": format!("dev-user-{merchant}"),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
        });
        claims[&self.merchant_claim] = json!(merchant);
        let scope: Vec<&str> = scopes.iter().copied().filter(|s| !s.is_empty()).collect();
        if !scope.is_empty() {
            claims["scope"] = json!(scope.join(" "));
        }
        claims
    }

    /// A token shaped as a Cognito access token of `client`: no `aud`, `client_id` = `client`,
    /// both scopes.
    pub fn issue_as_client(&self, merchant: &str, ttl_seconds: u64, client: &str) -> String {
        let scopes = [self.scopes.read.as_str(), self.scopes.write.as_str()];
        let mut claims = self.claims(merchant, ttl_seconds, &scopes);
        claims.as_object_mut().expect("claims").remove("aud");
        claims["client_id"] = json!(client);
        claims["token_use"] = json!("access");
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use it for expired, wrongly addressed and other tokens).
    pub fn sign(&self, claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .expect("HS256 signs")
    }
}

/// The token's scopes, as API Gateway reads them: `scope` (space-separated, RFC 8693) or `scp`
/// (a list, or a space-separated string).
fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let words = |text: &str| text.split_whitespace().map(str::to_owned).collect();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(scope)), _) => words(scope),
        (_, Some(Value::String(scp))) => words(scp),
        (_, Some(Value::Array(scp))) => scp
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// API Gateway hands every claim to the function as a string; arrays as `[a b]`.
fn claim_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Array(items) => {
            let parts: Vec<String> = items.into_iter().map(claim_string).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}
