//! What a request says about itself, beyond its body: who is calling (the merchant, only from the
//! claims API Gateway's JWT authorizer verified), from where (for the audit trail), which
//! resource its path names, and its deadline.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::domain::audit::Origin;
use crate::domain::error::Missing;
use crate::domain::{ApplicationId, Deadline, KeyId, MerchantId, Refusal};
use crate::store::Caller;

/// A management request once its merchant is known.
pub struct Call<'a> {
    pub request: &'a Request,
    pub merchant: MerchantId,
    pub origin: Origin,
    pub deadline: Deadline,
}

impl<'a> Call<'a> {
    /// 401 unless the verified claims name a merchant in `claim`.
    pub fn new(request: &'a Request, claim: &str, deadline: Deadline) -> Result<Self, Refusal> {
        Ok(Self {
            request,
            merchant: merchant(request, claim)?,
            origin: origin(request),
            deadline,
        })
    }

    /// What the store's writes need of this request.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            merchant: &self.merchant,
            origin: &self.origin,
            deadline: self.deadline,
        }
    }

    pub fn application_id(&self) -> Result<ApplicationId, Refusal> {
        application_id(self.request)
    }

    pub fn key_id(&self) -> Result<KeyId, Refusal> {
        key_id(self.request)
    }
}

/// The API Gateway request id (also in the gateway's access log), else the Lambda one.
pub fn request_id(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() {
        if let Some(id) = &context.request_id {
            return id.clone();
        }
    }
    request
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default()
}

/// The merchant from the claims that API Gateway's JWT authorizer verified. Never from the path,
/// query or body: a request without the claim is refused.
pub fn merchant(request: &Request, claim: &str) -> Result<MerchantId, Refusal> {
    claims(request)
        .and_then(|claims| claims.get(claim))
        .and_then(|value| MerchantId::from_claim(value))
        .ok_or(Refusal::Unauthorized)
}

fn claims(request: &Request) -> Option<&std::collections::HashMap<String, String>> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
}

/// Where a change comes from, for its audit event: the token's `sub`, the request id, and the
/// caller's address and user agent as API Gateway saw them. Never the token itself.
pub fn origin(request: &Request) -> Origin {
    let http = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => Some(&context.http),
        _ => None,
    };
    Origin {
        sub: sub(request).unwrap_or_default().to_owned(),
        request_id: request_id(request),
        source_ip: http.and_then(|http| http.source_ip.clone()),
        user_agent: http.and_then(|http| http.user_agent.clone()),
        report: None,
    }
}

/// The token's `sub`: who, within the merchant, is calling.
pub fn sub(request: &Request) -> Option<&str> {
    claims(request)
        .and_then(|claims| claims.get("sub"))
        .map(String::as_str)
}

fn path_parameter<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
}

/// A path id that is not a canonical UUID cannot name anything: 404, like an unknown id.
pub fn application_id(request: &Request) -> Result<ApplicationId, Refusal> {
    path_parameter(request, "id")
        .and_then(ApplicationId::parse)
        .ok_or(Refusal::NotFound(Missing::Application))
}

pub fn key_id(request: &Request) -> Result<KeyId, Refusal> {
    path_parameter(request, "keyId")
        .and_then(KeyId::parse)
        .ok_or(Refusal::NotFound(Missing::Key))
}

/// The route API Gateway matched (`POST /api/v1/applications`), and the path's parameters.
pub fn route(request: &Request) -> (String, Vec<(&str, &str)>) {
    let route = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.route_key.clone().unwrap_or_default()
        }
        _ => String::new(),
    };
    let parameters = request
        .path_parameters_ref()
        .map(|params| params.iter().collect())
        .unwrap_or_default();
    (route, parameters)
}
