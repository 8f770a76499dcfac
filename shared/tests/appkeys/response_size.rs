//! A list page must fit in one Lambda response (6 MB). The bounded history keeps ordinary pages
//! far below it; a page of 100 applications each with many keys with long descriptions in
//! four-byte characters could still pass it, and is then a 400 that says which `limit` fits,
//! not the gateway's bare 5xx.

use appkeys::domain::{
    ApiKeySummary, Application, ApplicationId, Description, KeyId, KeyStatus, Page, PageRequest,
    Timestamp,
};
use appkeys::http::error;
use appkeys::http::response::{page as page_response, MAX_RESPONSE_BODY_BYTES};

fn page(applications: usize, keys_each: usize, description: &str) -> Page<Application> {
    let key = ApiKeySummary {
        id: KeyId::parse("01890a5d-ac96-774b-bcce-b302099a8058").unwrap(),
        key_prefix: "ks_live_abcd".into(),
        description: Description::from_stored(description.to_owned()),
        status: KeyStatus::Revoked,
        created_at: Timestamp::from_epoch_seconds(1_700_000_000),
        expires_at: None,
        revoked_at: Some(Timestamp::from_epoch_seconds(1_700_000_100)),
        last_used_at: None,
        permissions: appkeys::domain::permissions::Permissions::Unrestricted,
    };
    let application = Application {
        id: ApplicationId::parse("01890a5d-ac96-774b-bcce-b302099a8057").unwrap(),
        name: "Prod".into(),
        description: None,
        is_enabled: true,
        created_at: Timestamp::from_epoch_seconds(1_700_000_000),
        api_keys: Some(vec![key; keys_each]),
    };
    let request = PageRequest {
        page: 1,
        limit: applications as u32,
        include_api_keys: true,
    };
    Page::new(
        vec![application; applications],
        request,
        applications as u64,
    )
}

#[test]
fn an_ordinary_page_with_long_histories_fits() {
    // 100 applications, each with 10 active and 100 stopped keys with everyday descriptions.
    let response = page_response(&page(
        100,
        110,
        "rotated on 2026-11-28 by the deploy pipeline",
    ))
    .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn a_page_too_large_for_one_response_is_a_400_naming_the_limit_that_fits() {
    let huge = page(100, 148, &"𝄞".repeat(200));
    let size = serde_json::to_string(&huge).unwrap().len();
    assert!(size > MAX_RESPONSE_BODY_BYTES, "{size}");
    let response = error::response(&page_response(&huge).unwrap_err().into(), "req-1");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(body["type"], "/errors/validation_failed");
    assert_eq!(body["errors"][0]["field"], "limit");
    let message = body["errors"][0]["message"].as_str().unwrap();
    let fits: usize = message
        .rsplit("at most ")
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(fits < 100);
    assert_eq!(
        page_response(&page(fits, 148, &"𝄞".repeat(200)))
            .unwrap()
            .status(),
        200
    );
}

/// What must fit is the body as API Gateway's envelope carries it: a JSON string, in which every
/// quote of the body is escaped again (a page of quotes is about twice its size there).
#[test]
fn the_size_that_counts_is_the_body_escaped_inside_the_envelope() {
    let quotes = page(100, 80, &"\"".repeat(200));
    let raw = serde_json::to_string(&quotes).unwrap();
    let enveloped = serde_json::to_string(&raw).unwrap().len();
    assert!(
        raw.len() <= MAX_RESPONSE_BODY_BYTES && enveloped > MAX_RESPONSE_BODY_BYTES,
        "{} / {enveloped}",
        raw.len()
    );
    let refusal = page_response(&quotes).unwrap_err();
    assert_eq!(error::response(&refusal.into(), "req-1").status(), 400);
}
