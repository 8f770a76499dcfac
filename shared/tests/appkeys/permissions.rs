//! The restricted-key decision against models written apart from it:
//! - on plain paths, the contract's table: a `GET` or `HEAD` needs read or write on the path's
//!   resource, any other method write; an unrestricted key may do anything;
//! - on any path, however disguised: whatever the decision allows, a payments backend that decodes
//!   percent-escapes, turns backslashes into slashes, drops empty and `.` segments, resolves `..`
//!   and folds case would route to a resource the key may use for that method.

use std::collections::BTreeSet;

use appkeys::domain::permissions::{allows, PaymentResources, Permissions, PAYMENTS_PREFIX};
use proptest::prelude::*;

const RESOURCES: [&str; 3] = ["charges", "customers", "refunds"];
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get",
];

/// Segments that name a resource, nearly name one, or disguise a path.
const SEGMENTS: &[&str] = &[
    "charges",
    "refunds",
    "customers",
    "charge",
    "CHARGES",
    "Refunds",
    "chargesx",
    "payouts",
    "ch_1",
    "re_2",
    "x",
    ".",
    "..",
    "",
    "%2F",
    "%2f",
    "%2E",
    "%2e%2e",
    "%5C",
    "%5c",
    "\\",
    "..%2Fcharges",
    "refunds%2F..%2Fcharges",
    "%63harges",
    "charges%00",
    "a.b",
    "?x=1",
];

fn granted() -> impl Strategy<Value = Option<BTreeSet<(&'static str, &'static str)>>> {
    let permission = (
        proptest::sample::select(&RESOURCES[..]),
        proptest::sample::select(&["read", "write"][..]),
    );
    prop_oneof![
        1 => Just(None),
        4 => proptest::collection::btree_set(permission, 1..5).prop_map(Some),
    ]
}

fn stored(granted: &Option<BTreeSet<(&str, &str)>>) -> Option<String> {
    let resources = PaymentResources::default();
    granted.as_ref().map(|set| {
        let listed: Vec<String> = set.iter().map(|(r, a)| format!("{r}:{a}")).collect();
        let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
        Permissions::parse(&listed, &resources)
            .unwrap()
            .stored()
            .unwrap()
    })
}

/// The contract's table.
fn table(granted: &Option<BTreeSet<(&str, &str)>>, method: &str, resource: &str) -> bool {
    let Some(set) = granted else {
        return true;
    };
    let reading = method == "GET" || method == "HEAD";
    set.contains(&(resource, "write")) || (reading && set.contains(&(resource, "read")))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The resource a lenient backend would route `path` to.
fn lenient_backend_resource(path: &str) -> Option<String> {
    let rest = path.strip_prefix(PAYMENTS_PREFIX)?;
    let rest = rest.split('?').next().unwrap_or_default();
    let decoded = percent_decode(rest).replace('\\', "/").to_lowercase();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    segments.first().map(|s| (*s).to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn on_plain_paths_the_decision_is_the_contracts_table(
        granted in granted(),
        method in proptest::sample::select(&METHODS[..]),
        resource in proptest::sample::select(&RESOURCES[..]),
        tail in proptest::collection::vec("[a-z0-9_]{1,8}", 0..3),
        trailing in any::<bool>(),
    ) {
        let mut path = format!("{PAYMENTS_PREFIX}{resource}");
        for segment in &tail {
            path.push('/');
            path.push_str(segment);
        }
        if trailing {
            path.push('/');
        }
        let decided = allows(
            stored(&granted).as_deref(),
            &PaymentResources::default(),
            method,
            &path,
        );
        prop_assert_eq!(decided, table(&granted, method, resource), "{} {}", method, path);
    }

    #[test]
    fn whatever_is_allowed_routes_to_a_permitted_resource_in_any_backend(
        granted in granted().prop_filter("restricted", Option::is_some),
        method in proptest::sample::select(&METHODS[..]),
        segments in proptest::collection::vec(proptest::sample::select(SEGMENTS), 1..5),
    ) {
        let path = format!("{PAYMENTS_PREFIX}{}", segments.join("/"));
        let decided = allows(
            stored(&granted).as_deref(),
            &PaymentResources::default(),
            method,
            &path,
        );
        if decided {
            let routed = lenient_backend_resource(&path);
            prop_assert!(
                routed.as_deref().is_some_and(|resource| table(&granted, method, resource)),
                "{} {} allowed, but a backend would route it to {:?}", method, path, routed
            );
        }
    }
}

/// The disguises the issue names, each aimed at `charges` by a key restricted to `refunds`.
#[test]
fn the_named_tricks_are_denied() {
    let resources = PaymentResources::default();
    let key = Some("refunds:read refunds:write");
    for path in [
        "/api/v1/payments/refunds%2F..%2Fcharges",
        "/api/v1/payments/refunds/../charges",
        "/api/v1/payments/./charges",
        "/api/v1/payments//charges",
        "/api/v1/payments/CHARGES",
        "/api/v1/payments/charges/",
        "/api/v1/payments/charges?refunds",
        "/api/v1/payments/",
        "/api/v1/payments/charge",
    ] {
        assert!(!allows(key, &resources, "POST", path), "{path}");
        assert!(
            lenient_backend_resource(path).as_deref() != Some("refunds"),
            "the case aims elsewhere: {path}"
        );
    }
}
