//! Management-route tokens, checked as API Gateway's HTTP API JWT authorizer checks them:
//! signature, required `exp`, `nbf` when present, `iss` and `aud`. Locally the key is a shared
//! HS256 secret instead of the issuer's JWKS, and HS256 is the only algorithm accepted.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

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
}

impl JwtSettings {
    pub fn new(issuer: &str, audience: &str, secret: &[u8], merchant_claim: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            secret: secret.to_vec(),
            merchant_claim: merchant_claim.to_owned(),
        }
    }

    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `LOCAL_JWT_SECRET` and `MERCHANT_CLAIM`, with local defaults.
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
    }

    /// The claims API Gateway would pass on, all as strings, or `None` (401).
    pub fn verify(&self, authorization: Option<&str>) -> Option<HashMap<String, String>> {
        let header = authorization?;
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
            _ => header,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        let data = decode::<Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .ok()?;
        Some(
            data.claims
                .into_iter()
                .map(|(name, value)| (name, claim_string(value)))
                .collect(),
        )
    }

    /// A token this gateway accepts, for `merchant`, valid for `ttl_seconds`.
    pub fn issue(&self, merchant: &str, ttl_seconds: u64) -> String {
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
