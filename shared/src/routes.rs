//! The API's routes: one list that the local gateway serves, that `cargo lambda watch`'s router
//! metadata and the SAM template must match (a test checks both), and that names the function
//! binary behind each route.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// API Gateway's JWT authorizer; the function reads the merchant from the claims.
    Jwt,
    /// The API-key Lambda authorizer (`functions/authorizer`).
    ApiKey,
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

impl Route {
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
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
        method: "ANY",
        path: "/api/v1/payments/{proxy+}",
        function: "payments-echo",
        guard: Guard::ApiKey,
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
        assert!(find("GET", "/api/v1/applications/x").is_none());
        assert!(find("GET", "/api/v1/applications/extra/segments/here").is_none());
        assert_eq!(
            find("GET", "/api/v1/applications").unwrap().0.route_key(),
            "GET /api/v1/applications"
        );
    }
}
