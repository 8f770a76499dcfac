//! `GET /console` and `GET /console/{proxy+}`: the merchant console (`console/`), a page that
//! uses only the public API. The page, its settings (`/console/config.json`) and its assets
//! (`/console/assets/<content hash>/…`, built in by `build.rs`), each with the headers the
//! contract lists: a strict Content-Security-Policy, `nosniff`, no referrer; the page and its
//! settings revalidated on every load, the assets cached for a year (a change of any asset
//! changes the hash in their URL). Without `CONSOLE_CLIENT_ID` every path is 404.

use appkeys::domain::error::Missing;
use appkeys::domain::{Error, Refusal};
use appkeys::http::error::response as problem;
use lambda_http::http::header::{self, HeaderValue};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

mod settings;

pub use settings::Settings;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

const PAGE_PATH: &str = "/console";
const ASSETS_PREFIX: &str = "/console/assets/";
const SETTINGS_PATH: &str = "/console/config.json";
const REVALIDATE: &str = "no-cache";
const FOR_A_YEAR: &str = "public, max-age=31536000, immutable";

/// What one instance serves, made once at start.
pub struct Console {
    /// `None`: the console is not configured, and answers 404.
    served: Option<Served>,
}

struct Served {
    page: String,
    settings: String,
    policy: HeaderValue,
}

impl Console {
    pub fn new(settings: Option<Settings>) -> Self {
        let served = settings.map(|settings| Served {
            page: PAGE.replace("__ASSETS__", ASSETS_HASH),
            settings: json!({
                "clientId": settings.client_id,
                "issuer": settings.issuer,
                "scopes": settings.scopes,
                "paymentResources": settings.payment_resources.names(),
            })
            .to_string(),
            policy: HeaderValue::from_str(&settings.content_security_policy())
                .expect("origins are checked to be header-safe"),
        });
        Self { served }
    }

    /// From `CONSOLE_CLIENT_ID` (empty or unset: not served), `JWT_ISSUER`, `JWT_READ_SCOPE`,
    /// `JWT_WRITE_SCOPE`, `PAYMENT_RESOURCES` and `CONSOLE_AUTH_ORIGINS`.
    pub fn from_env() -> Result<Self, appkeys::lambda::config::ConfigError> {
        Ok(Self::new(Settings::from_lookup(|name| {
            std::env::var(name).ok()
        })?))
    }
}

/// The console's paths, resolved to what is served there.
pub async fn handler(
    console: &Console,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let path = request.uri().path();
    let found = console.served.as_ref().and_then(|served| {
        let (body, kind, cache): (Body, &str, &str) = match path {
            PAGE_PATH | "/console/" => (
                Body::Text(served.page.clone()),
                "text/html; charset=utf-8",
                REVALIDATE,
            ),
            SETTINGS_PATH => (
                Body::Text(served.settings.clone()),
                "application/json",
                REVALIDATE,
            ),
            _ => {
                let name = path
                    .strip_prefix(ASSETS_PREFIX)?
                    .strip_prefix(ASSETS_HASH)?
                    .strip_prefix('/')?;
                let (_, bytes) = ASSETS.iter().find(|(asset, _)| *asset == name)?;
                let kind = content_type(name)?;
                let body = if kind.starts_with("image/png") {
                    Body::Binary(bytes.to_vec())
                } else {
                    Body::Text(String::from_utf8(bytes.to_vec()).ok()?)
                };
                (body, kind, FOR_A_YEAR)
            }
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        Some((response, served))
    });
    let mut response = match found {
        Some((response, served)) => {
            let mut response = response;
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, served.policy.clone());
            response
        }
        None => {
            let mut response = problem(
                &Error::from(Refusal::NotFound(Missing::Page)),
                request
                    .lambda_context_ref()
                    .map_or("", |c| c.request_id.as_str()),
            );
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
                ),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// The assets' types, by extension; anything else is not served.
fn content_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1;
    Some(match extension {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        _ => return None,
    })
}

impl Default for Console {
    /// Not configured: every path is 404.
    fn default() -> Self {
        Self::new(None)
    }
}
