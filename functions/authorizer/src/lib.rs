//! The payment-route authorizer: API Gateway HTTP API, payload format 2.0, simple response.
//! Result caching must stay off: a cached allow would outlive a revocation.

use appkeys::authorize::{Decision, KeyVerifier, PaymentCall};
use appkeys::domain::key_format::loggable_prefix;
use appkeys::domain::origin_lock;
use appkeys::domain::permissions;
use appkeys::lambda::FunctionError;
use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub type Request = ApiGatewayV2CustomAuthorizerV2Request;
pub type Response = ApiGatewayV2CustomAuthorizerSimpleResponse<Value>;

/// Allows only an active key of an enabled application. When DynamoDB cannot answer, returns an
/// error (API Gateway answers 500): it fails closed, never open. The error reaches Lambda with a
/// stable `errorType` (`DynamoDbRequestFailed`, …), and its log line carries the same word as
/// `reason`, so the dashboard counts errors by type beside the allow/deny reasons.
pub async fn handler(
    verifier: &KeyVerifier,
    event: LambdaEvent<Request>,
) -> Result<Response, FunctionError> {
    let header = |name: &str| {
        event
            .payload
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let authorization = header("authorization");
    let key_prefix = authorization
        .and_then(|h| h.split_once(' '))
        .and_then(|(_, token)| loggable_prefix(token));
    let call = PaymentCall {
        authorization,
        origin_secret: header(origin_lock::HEADER),
        method: event.payload.request_context.http.method.as_str(),
        raw_path: event.payload.raw_path.as_deref().unwrap_or_default(),
    };
    let decision = match verifier.verify(&call).await {
        Ok(decision) => decision,
        Err(err) => {
            let failure = FunctionError::from(err);
            tracing::error!(
                key_prefix,
                decision = "error",
                reason = failure.error_type,
                error = %failure.message,
                "authorization could not be decided"
            );
            return Err(failure);
        }
    };
    let mut response = Response::default();
    match decision {
        Decision::Allow(lookup) => {
            tracing::info!(key_prefix, decision = "allow", reason = "active_key", key_id = %lookup.key_id, "authorized");
            response.is_authorized = true;
            response.context = json!({
                "merchantId": lookup.merchant_id,
                "applicationId": lookup.application_id,
                "keyId": lookup.key_id,
                "permissions": permissions::context_value(lookup.permissions.as_deref()),
            });
        }
        Decision::Deny(reason) => {
            tracing::info!(
                key_prefix,
                decision = "deny",
                reason = reason.as_str(),
                "authorized"
            );
            response.is_authorized = false;
            response.context = json!({});
        }
    }
    Ok(response)
}
