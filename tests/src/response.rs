//! What a function answered, with the checks every answer goes through, and plain HTTP to a
//! spawned gateway or the local endpoint.

use lambda_http::Body;
use serde_json::Value;

use crate::openapi;

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: String,
    pub json: Value,
}

impl TestResponse {
    /// A string field of the JSON body, e.g. a created resource's `id` or `fullKey`.
    pub fn text(&self, field: &str) -> String {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{field}` in {}", self.body))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json error with the given status and stable code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            self.json["type"],
            format!("/errors/{code}"),
            "body: {}",
            self.body
        );
        assert_eq!(self.json["status"], status);
        assert!(self.json["title"].is_string());
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

impl From<lambda_http::Response<Body>> for TestResponse {
    fn from(response: lambda_http::Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.body() {
            Body::Empty => String::new(),
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            json,
        }
    }
}

pub(crate) async fn http_get_json(url: &str) -> Value {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let response = client
        .get(url.parse().expect("a valid URL"))
        .await
        .expect("the local endpoint answers");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("JSON")
}

/// A plain HTTP/1.1 request to a spawned gateway.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> TestResponse {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .unwrap();
    let response = client.request(request).await.expect("the gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    let response = TestResponse {
        status,
        headers,
        body,
        json,
    };
    let path = url
        .parse::<hyper::Uri>()
        .expect("a valid URL")
        .path()
        .to_owned();
    if let Some((route, _)) = devkit::routes::find(method, &path) {
        openapi::assert_documented(method, route.path, &response);
    }
    response
}
