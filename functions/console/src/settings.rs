//! The console's settings, checked at start: a bad value stops the function rather than serving a
//! page that cannot sign in, or a policy that lets the page talk to an origin it should not.

use appkeys::domain::permissions::PaymentResources;
use appkeys::lambda::config::ConfigError;

/// What the page needs to sign in and to offer permissions, and the origins it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The OAuth client the console signs in as (`CONSOLE_CLIENT_ID`).
    pub client_id: String,
    /// The JWT issuer (`JWT_ISSUER`), whose discovery document names the endpoints.
    pub issuer: String,
    /// `openid` and the management scopes (`JWT_READ_SCOPE`, `JWT_WRITE_SCOPE`).
    pub scopes: String,
    pub payment_resources: PaymentResources,
    /// Origins besides the issuer's the page may call: an identity provider whose token
    /// endpoint lives elsewhere (Cognito's hosted domain), from `CONSOLE_AUTH_ORIGINS`.
    pub auth_origins: Vec<String>,
}

fn refused(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: problem.into(),
    }
}

impl Settings {
    /// `None` when `CONSOLE_CLIENT_ID` is unset or empty: the console is not served.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(client_id) = lookup("CONSOLE_CLIENT_ID").filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        let client_id = client_id.trim().to_owned();
        if client_id.len() > 256 || !client_id.chars().all(|c| c.is_ascii_graphic()) {
            return Err(refused(
                "CONSOLE_CLIENT_ID",
                "1 to 256 printable ASCII characters without spaces",
            ));
        }
        let issuer = lookup("JWT_ISSUER")
            .map(|v| v.trim().to_owned())
            .ok_or(ConfigError::Missing { name: "JWT_ISSUER" })?;
        origin_of(&issuer)
            .ok_or_else(|| refused("JWT_ISSUER", "an https URL (http only for a loopback host)"))?;
        let scope = |name: &str, default: &str| {
            lookup(name).map_or(default.to_owned(), |v| v.trim().to_owned())
        };
        let mut scopes = vec!["openid".to_owned()];
        for name in [
            scope("JWT_READ_SCOPE", "applications:read"),
            scope("JWT_WRITE_SCOPE", "applications:write"),
        ] {
            if !name.is_empty() {
                scopes.push(name);
            }
        }
        let payment_resources = match lookup("PAYMENT_RESOURCES") {
            Some(list) => {
                PaymentResources::parse(&list).map_err(|why| refused("PAYMENT_RESOURCES", why))?
            }
            None => PaymentResources::default(),
        };
        let auth_origins = lookup("CONSOLE_AUTH_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                origin_of(o).filter(|origin| origin == o).ok_or_else(|| {
                    refused(
                        "CONSOLE_AUTH_ORIGINS",
                        format!("{o:?} is not an origin such as https://auth.example.com"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self {
            client_id,
            issuer,
            scopes: scopes.join(" "),
            payment_resources,
            auth_origins,
        }))
    }

    /// `connect-src` allows the API (`'self'`), the issuer (its discovery document and,
    /// usually, its token endpoint) and the extra origins; nothing else may be loaded or called.
    pub fn content_security_policy(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(origin_of(&self.issuer));
        connect.extend(self.auth_origins.iter().cloned());
        connect.dedup();
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            connect.join(" ")
        )
    }
}

/// `scheme://host[:port]` of an https URL, or an http URL to a loopback host; `None` for
/// anything else, or for a URL with user information or characters a header may not carry.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty()
        || authority.contains('@')
        || !authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return None;
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            if !port.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            host
        }
        _ => authority,
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => Some(format!("https://{authority}")),
        "http" if loopback => Some(format!("http://{authority}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<Settings>, ConfigError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn without_a_client_id_there_is_no_console() {
        assert!(settings(&[]).unwrap().is_none());
        assert!(settings(&[("CONSOLE_CLIENT_ID", " ")]).unwrap().is_none());
    }

    #[test]
    fn the_policy_lets_the_page_call_the_api_and_the_identity_provider_only() {
        let s = settings(&[
            ("CONSOLE_CLIENT_ID", "console"),
            (
                "JWT_ISSUER",
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X",
            ),
            ("CONSOLE_AUTH_ORIGINS", "https://auth.example.com"),
            ("JWT_READ_SCOPE", ""),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.scopes, "openid applications:write");
        assert_eq!(
            s.content_security_policy(),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self' https://cognito-idp.us-east-1.amazonaws.com https://auth.example.com; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        );
    }

    #[test]
    fn bad_values_stop_the_start() {
        for vars in [
            vec![("CONSOLE_CLIENT_ID", "console")],
            vec![
                ("CONSOLE_CLIENT_ID", "con sole"),
                ("JWT_ISSUER", "https://a.example"),
            ],
            vec![
                ("CONSOLE_CLIENT_ID", "c"),
                ("JWT_ISSUER", "http://auth.example.com"),
            ],
            vec![
                ("CONSOLE_CLIENT_ID", "c"),
                ("JWT_ISSUER", "https://u@a.example"),
            ],
            vec![
                ("CONSOLE_CLIENT_ID", "c"),
                ("JWT_ISSUER", "https://a.example"),
                ("CONSOLE_AUTH_ORIGINS", "https://b.example/path"),
            ],
            vec![
                ("CONSOLE_CLIENT_ID", "c"),
                ("JWT_ISSUER", "https://a.example"),
                ("CONSOLE_AUTH_ORIGINS", "https://b.example; script-src *"),
            ],
            vec![
                ("CONSOLE_CLIENT_ID", "c"),
                ("JWT_ISSUER", "https://a.example"),
                ("PAYMENT_RESOURCES", "Charges"),
            ],
        ] {
            assert!(settings(&vars).is_err(), "{vars:?}");
        }
        assert!(settings(&[
            ("CONSOLE_CLIENT_ID", "c"),
            ("JWT_ISSUER", "http://127.0.0.1:3000/issuer")
        ])
        .unwrap()
        .is_some());
    }
}
