//! CORS for the platform's browser dashboard, answered as API Gateway's own CORS configuration
//! answers it (`x-amazon-apigateway-cors` in `infra/template.yaml`, from its `CorsAllowedOrigins`
//! parameter; tests/api/deployment/api.rs checks the two agree). A preflight that no route takes
//! is answered by the gateway itself, so it never reaches the JWT authorizer; the payment route
//! (`ANY`) takes its preflights, which its authorizer refuses: API keys are not for browsers.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::Method;

use devkit::routes::{Guard, ROUTES};

pub const ALLOW_HEADERS: &[&str] = &["authorization", "content-type", "idempotency-key"];
pub const EXPOSE_HEADERS: &[&str] = &["location", "retry-after", "idempotent-replayed"];
pub const MAX_AGE_SECONDS: u32 = 600;

#[derive(Debug, Clone, Default)]
pub struct Cors {
    allowed_origins: Vec<String>,
}

impl Cors {
    /// Origins already checked (tests).
    pub fn new<S: Into<String>>(origins: impl IntoIterator<Item = S>) -> Self {
        Self {
            allowed_origins: origins
                .into_iter()
                .map(Into::into)
                .filter(|o: &String| !o.is_empty())
                .collect(),
        }
    }

    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins, as the template's `CorsAllowedOrigins`
    /// takes them. Unset or empty: no CORS.
    pub fn from_env() -> Result<Self, String> {
        Self::parse(&std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_default())
    }

    /// Each origin `https://host[:port]`; `http://` only for loopback (a dashboard in
    /// development), since a page served over http can be rewritten by anyone on its path and
    /// would then call the API with the merchant's token.
    pub fn parse(list: &str) -> Result<Self, String> {
        if list.is_empty() {
            return Ok(Self::default());
        }
        let origins: Vec<&str> = list.split(',').collect();
        if let Some(bad) = origins.iter().find(|origin| !is_allowed_origin(origin)) {
            return Err(format!(
                "CORS_ALLOWED_ORIGINS: {bad:?} is not an origin this API accepts: https://host[:port], or http:// for localhost, 127.0.0.1 or [::1] only, comma-separated without spaces"
            ));
        }
        Ok(Self::new(origins))
    }

    /// The methods of the management routes: the template's `allowMethods`.
    pub fn allow_methods() -> Vec<&'static str> {
        let mut methods: Vec<&'static str> = Vec::new();
        for route in ROUTES.iter().filter(|r| r.guard == Guard::Jwt) {
            if !methods.contains(&route.method) {
                methods.push(route.method);
            }
        }
        methods
    }

    fn allows<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        origin.filter(|o| self.allowed_origins.iter().any(|allowed| allowed == o))
    }

    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`, when CORS is on.
    pub fn is_preflight(&self, method: &Method, headers: &HeaderMap) -> bool {
        !self.allowed_origins.is_empty()
            && method == Method::OPTIONS
            && headers.contains_key("origin")
            && headers.contains_key("access-control-request-method")
    }

    /// The preflight answer's headers (the status is 204): none for an origin not allowed, so
    /// that the browser refuses the call.
    pub fn preflight_headers(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        let Some(origin) = self.allows(origin) else {
            return;
        };
        insert(headers, "access-control-allow-origin", origin);
        insert(
            headers,
            "access-control-allow-methods",
            &Self::allow_methods().join(","),
        );
        insert(
            headers,
            "access-control-allow-headers",
            &ALLOW_HEADERS.join(","),
        );
        insert(
            headers,
            "access-control-max-age",
            &MAX_AGE_SECONDS.to_string(),
        );
    }

    /// Headers for the answer to a request from an allowed origin (any route, any status).
    pub fn response_headers(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        let Some(origin) = self.allows(origin) else {
            return;
        };
        insert(headers, "access-control-allow-origin", origin);
        insert(
            headers,
            "access-control-expose-headers",
            &EXPOSE_HEADERS.join(","),
        );
    }
}

fn is_allowed_origin(origin: &str) -> bool {
    let (host, loopback_only) = if let Some(rest) = origin.strip_prefix("https://") {
        (rest, false)
    } else if let Some(rest) = origin.strip_prefix("http://") {
        (rest, true)
    } else {
        return false;
    };
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = if loopback_only {
        matches!(name, "localhost" | "127.0.0.1" | "[::1]")
    } else {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    port_ok && name_ok
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}
