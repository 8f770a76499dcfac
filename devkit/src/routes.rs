//! The API's routes: one list that the local gateway serves, that `cargo lambda watch`'s router
//! metadata and the SAM template must match (tests check both), and that names the function
//! binary behind each route. Also the scope rule of the management routes, which the local
//! gateway enforces and the template's `AuthorizationScopes` are checked against, and each
//! function's budget, which the template's timeouts are checked against.

use appkeys::lambda::sdk::Budget;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// API Gateway's JWT authorizer; the function reads the merchant from the claims.
    Jwt,
    /// The API-key Lambda authorizer (`functions/authorizer`).
    ApiKey,
    /// No gateway authorizer: the function authenticates the caller by a signature over the
    /// body (GitHub's secret-scanning reports).
    Signature,
    /// No authorizer and no caller: static files anyone may load (the console's page and
    /// assets), which sign in in the browser and then call the API like any client.
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// An HTTP method, or `ANY`.
    pub method: &'static str,
    /// An API Gateway route path: `{name}` matches one segment, `{name+}` the rest.
    pub path: &'static str,
    /// The function binary (and package) under `functions/`.
    pub function: &'static str,
    pub guard: Guard,
}

/// What a management route does with the merchant's data, for the scope it requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `GET`: the read scope or the write scope.
    Read,
    /// Every other method: the write scope.
    Write,
}

impl Route {
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn access(&self) -> Access {
        if self.method == "GET" {
            Access::Read
        } else {
            Access::Write
        }
    }

    /// The OAuth scopes of which a token must carry at least one to call this route (API
    /// Gateway's `AuthorizationScopes` semantics); empty when it needs none.
    pub fn required_scopes<'a>(&self, scopes: &'a Scopes) -> Vec<&'a str> {
        match self.guard {
            Guard::Jwt => scopes.required(self.access()),
            Guard::ApiKey | Guard::Signature | Guard::Public => Vec::new(),
        }
    }

    /// The path parameters when `method` and `path` match this route.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(&'static str, String)>> {
        if self.method != "ANY" && self.method != method {
            return None;
        }
        let mut parameters = Vec::new();
        let mut actual = path.trim_start_matches('/').split('/');
        for expected in self.path.trim_start_matches('/').split('/') {
            if let Some(name) = expected
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix("+}"))
            {
                let rest: Vec<&str> = actual.by_ref().collect();
                if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                    return None;
                }
                parameters.push((name, rest.join("/")));
                return Some(parameters);
            }
            let segment = actual.next()?;
            match expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if !segment.is_empty() => parameters.push((name, segment.to_owned())),
                Some(_) => return None,
                None if expected == segment => {}
                None => return None,
            }
        }
        actual.next().is_none().then_some(parameters)
    }
}

pub const AUTHORIZER_FUNCTION: &str = "authorizer";

/// The budget a function binary runs with: the authorizer's, or the management one.
pub fn budget_of(function: &str) -> Budget {
    if function == AUTHORIZER_FUNCTION {
        Budget::AUTHORIZER
    } else {
        Budget::MANAGEMENT
    }
}

/// The function the table's stream invokes (no route): it publishes the audit events.
pub const EVENT_PUBLISHER_FUNCTION: &str = "event-publisher";

/// The scope names the management routes require (`JWT_READ_SCOPE`, `JWT_WRITE_SCOPE`; the
/// template's `JwtReadScope`, `JwtWriteScope`). An empty name turns its requirement off; an empty
/// write scope turns both off, since a token that may change applications may also read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    pub read: String,
    pub write: String,
}

impl Default for Scopes {
    fn default() -> Self {
        Self {
            read: "applications:read".into(),
            write: "applications:write".into(),
        }
    }
}

impl Scopes {
    /// `JWT_READ_SCOPE` and `JWT_WRITE_SCOPE`: unset takes the default, set but empty turns the
    /// requirement off.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let defaults = Self::default();
        Self {
            read: lookup("JWT_READ_SCOPE").map_or(defaults.read, |v| v.trim().to_owned()),
            write: lookup("JWT_WRITE_SCOPE").map_or(defaults.write, |v| v.trim().to_owned()),
        }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn required(&self, access: Access) -> Vec<&str> {
        match access {
            _ if self.write.is_empty() => Vec::new(),
            Access::Write => vec![self.write.as_str()],
            Access::Read if self.read.is_empty() => Vec::new(),
            Access::Read => vec![self.read.as_str(), self.write.as_str()],
        }
    }

    /// Whether a token carrying `granted` may call a route that requires one of `required`.
    pub fn allow(required: &[&str], granted: &[&str]) -> bool {
        required.is_empty() || required.iter().any(|scope| granted.contains(scope))
    }
}

pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/v1/applications",
        function: "create-application",
        guard: Guard::Jwt,
    },
    Route {
        method: "GET",
        path: "/api/v1/applications",
        function: "list-applications",
        guard: Guard::Jwt,
    },
    Route {
        method: "GET",
        path: "/api/v1/applications/{id}",
        function: "get-application",
        guard: Guard::Jwt,
    },
    Route {
        method: "GET",
        path: "/api/v1/applications/{id}/events",
        function: "list-events",
        guard: Guard::Jwt,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/applications/{id}/status",
        function: "set-application-status",
        guard: Guard::Jwt,
    },
    Route {
        method: "POST",
        path: "/api/v1/applications/{id}/api-keys",
        function: "create-api-key",
        guard: Guard::Jwt,
    },
    Route {
        method: "DELETE",
        path: "/api/v1/applications/{id}/api-keys/{keyId}",
        function: "revoke-api-key",
        guard: Guard::Jwt,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/applications/{id}/api-keys/{keyId}",
        function: "update-api-key",
        guard: Guard::Jwt,
    },
    Route {
        method: "POST",
        path: "/api/v1/applications/{id}/api-keys/{keyId}/roll",
        function: "roll-api-key",
        guard: Guard::Jwt,
    },
    Route {
        method: "POST",
        path: "/api/v1/secret-scanning/reports",
        function: "report-leaked-keys",
        guard: Guard::Signature,
    },
    Route {
        method: "ANY",
        path: "/api/v1/payments/{proxy+}",
        function: "payments-echo",
        guard: Guard::ApiKey,
    },
    Route {
        method: "GET",
        path: "/console",
        function: "console",
        guard: Guard::Public,
    },
    Route {
        method: "GET",
        path: "/console/{proxy+}",
        function: "console",
        guard: Guard::Public,
    },
];

/// The route API Gateway would pick for a request, with its path parameters.
pub fn find(method: &str, path: &str) -> Option<(&'static Route, Vec<(&'static str, String)>)> {
    ROUTES
        .iter()
        .find_map(|route| route.matches(method, path).map(|params| (route, params)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_like_api_gateway() {
        let (route, params) = find("PATCH", "/api/v1/applications/abc/status").unwrap();
        assert_eq!(route.function, "set-application-status");
        assert_eq!(params, vec![("id", "abc".to_owned())]);
        let (route, params) = find("DELETE", "/api/v1/applications/a/api-keys/k").unwrap();
        assert_eq!(route.function, "revoke-api-key");
        assert_eq!(
            params,
            vec![("id", "a".to_owned()), ("keyId", "k".to_owned())]
        );
        let (route, params) = find("PUT", "/api/v1/payments/charges/ch_1").unwrap();
        assert_eq!(route.function, "payments-echo");
        assert_eq!(params, vec![("proxy", "charges/ch_1".to_owned())]);
        assert!(find("GET", "/api/v1/payments/").is_none());
        assert!(find("GET", "/api/v1/payments").is_none());
        assert!(find("PUT", "/api/v1/applications").is_none());
        assert!(find("PATCH", "/api/v1/applications//status").is_none());
        let (route, params) = find("GET", "/api/v1/applications/x").unwrap();
        assert_eq!(route.function, "get-application");
        assert_eq!(params, vec![("id", "x".to_owned())]);
        let (route, _) = find("POST", "/api/v1/applications/a/api-keys/k/roll").unwrap();
        assert_eq!(route.function, "roll-api-key");
        assert!(find("PUT", "/api/v1/applications/x").is_none());
        assert!(find("GET", "/api/v1/applications/extra/segments/here").is_none());
        assert_eq!(
            find("GET", "/api/v1/applications").unwrap().0.route_key(),
            "GET /api/v1/applications"
        );
    }

    #[test]
    fn reading_takes_the_read_or_write_scope_changing_takes_the_write_scope() {
        let scopes = Scopes::default();
        let list = find("GET", "/api/v1/applications").unwrap().0;
        let create = find("POST", "/api/v1/applications").unwrap().0;
        let pay = find("POST", "/api/v1/payments/charges").unwrap().0;
        assert_eq!(
            list.required_scopes(&scopes),
            ["applications:read", "applications:write"]
        );
        assert_eq!(create.required_scopes(&scopes), ["applications:write"]);
        assert!(pay.required_scopes(&scopes).is_empty());
        for route in ROUTES.iter().filter(|r| r.guard == Guard::Jwt) {
            let read_only = Scopes::allow(&route.required_scopes(&scopes), &["applications:read"]);
            assert_eq!(read_only, route.method == "GET", "{}", route.route_key());
            assert!(Scopes::allow(
                &route.required_scopes(&scopes),
                &["openid", "applications:write"]
            ));
            assert!(!Scopes::allow(&route.required_scopes(&scopes), &[]));
        }
    }

    #[test]
    fn an_empty_scope_name_turns_its_requirement_off() {
        let vars = |read: Option<&str>, write: Option<&str>| {
            Scopes::from_lookup(move |name| match name {
                "JWT_READ_SCOPE" => read.map(str::to_owned),
                "JWT_WRITE_SCOPE" => write.map(str::to_owned),
                _ => None,
            })
        };
        assert_eq!(vars(None, None), Scopes::default());
        let no_read = vars(Some(""), None);
        assert!(no_read.required(Access::Read).is_empty());
        assert_eq!(no_read.required(Access::Write), ["applications:write"]);
        let no_write = vars(None, Some(" "));
        assert!(no_write.required(Access::Read).is_empty());
        assert!(no_write.required(Access::Write).is_empty());
        let custom = vars(Some("r"), Some("w"));
        assert_eq!(custom.required(Access::Read), ["r", "w"]);
    }
}
