//! Restricted keys (the contract's "Restricted keys"): a key limited to some resources of the
//! payment API, each for reading or for writing, as Stripe's restricted keys are.
//!
//! - The resources a deployment knows are configuration ([`PaymentResources`],
//!   `PAYMENT_RESOURCES`).
//! - A key's [`Permissions`]: unrestricted, or 1 to 50 distinct `<resource>:read|write`, kept
//!   sorted and stored as one space-separated string on the key and its lookup record.
//! - [`allows`]: the authorizer's decision for a call, over the stored string, without
//!   allocating: a `GET` or `HEAD` needs read or write on the call's resource, any other method
//!   write. The resource is the first segment after `/api/v1/payments/`, and only of a path every
//!   segment of which is plain ([`resource_of`]).

use serde::{Serialize, Serializer};

use super::error::FieldError;

/// Where the payment API's routes start; a call's resource is the segment after it.
pub const PAYMENTS_PREFIX: &str = "/api/v1/payments/";
/// At most this many permissions per key.
pub const PERMISSIONS_MAX: usize = 50;
/// What `PAYMENT_RESOURCES` holds by default.
pub const DEFAULT_RESOURCES: &str = "charges,refunds,customers";
/// A resource's name, as the template's parameter checks it too.
pub const RESOURCE_NAME_PATTERN: &str = "^[a-z][a-z0-9_-]{0,39}$";

/// `[a-z][a-z0-9_-]{0,39}`.
pub fn is_resource_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=40).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The payment API's resources that permissions may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentResources(Vec<String>);

impl Default for PaymentResources {
    fn default() -> Self {
        Self::parse(DEFAULT_RESOURCES).expect("the default list is valid")
    }
}

impl PaymentResources {
    /// Comma-separated names, each [`is_resource_name`]; duplicates refused.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut names: Vec<String> = Vec::new();
        for name in list.split(',').map(str::trim) {
            if !is_resource_name(name) {
                return Err(format!(
                    "{name:?} is not a resource name ({RESOURCE_NAME_PATTERN}); give comma-separated names such as {DEFAULT_RESOURCES}"
                ));
            }
            if names.iter().any(|known| known == name) {
                return Err(format!("{name:?} is listed twice"));
            }
            names.push(name.to_owned());
        }
        names.sort();
        Ok(Self(names))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|known| known == name)
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// What a permission allows on its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

/// A key's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permissions {
    /// Every payment route, as keys were before restricted keys.
    Unrestricted,
    /// Sorted, distinct `<resource>:<read|write>`.
    Restricted(Vec<String>),
}

impl Permissions {
    /// A request's list: 1 to 50 distinct `<resource>:read|write` of known resources, in any
    /// order. A problem names the element (`permissions[i]`).
    pub fn parse(items: &[&str], resources: &PaymentResources) -> Result<Self, FieldError> {
        if items.is_empty() || items.len() > PERMISSIONS_MAX {
            return Err(FieldError::new(
                "permissions",
                format!("must list 1 to {PERMISSIONS_MAX} permissions, or be null for an unrestricted key"),
            ));
        }
        let mut granted: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let field = format!("permissions[{index}]");
            let Some((resource, access)) = item.split_once(':') else {
                return Err(FieldError::new(
                    field,
                    "must be <resource>:read or <resource>:write",
                ));
            };
            if !resources.contains(resource) {
                return Err(FieldError::new(
                    field,
                    format!(
                        "names no resource of the payment API (known: {})",
                        resources.names().join(", ")
                    ),
                ));
            }
            if !matches!(access, "read" | "write") {
                return Err(FieldError::new(field, "must end in :read or :write"));
            }
            if granted.iter().any(|seen| seen == item) {
                return Err(FieldError::new(field, "is listed twice"));
            }
            granted.push((*item).to_owned());
        }
        granted.sort();
        Ok(Self::Restricted(granted))
    }

    /// As stored: `None` for an unrestricted key, else the permissions joined by single spaces.
    pub fn stored(&self) -> Option<String> {
        match self {
            Self::Unrestricted => None,
            Self::Restricted(granted) => Some(granted.join(" ")),
        }
    }

    /// From the stored form (which was validated when written).
    pub fn from_stored(stored: Option<&str>) -> Self {
        match stored {
            None => Self::Unrestricted,
            Some(joined) => Self::Restricted(joined.split(' ').map(str::to_owned).collect()),
        }
    }
}

/// The key's views: the sorted array, or `null`.
impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Unrestricted => serializer.serialize_none(),
            Self::Restricted(granted) => granted.serialize(serializer),
        }
    }
}

/// The authorizer's context member: the stored form, or `*` for an unrestricted key.
pub fn context_value(stored: Option<&str>) -> &str {
    stored.unwrap_or("*")
}

/// Whether a key with the `stored` permissions may make a call with `method` on `raw_path` (the
/// path as the client sent it, before any decoding). An unrestricted key may make any call.
pub fn allows(
    stored: Option<&str>,
    resources: &PaymentResources,
    method: &str,
    raw_path: &str,
) -> bool {
    let Some(granted) = stored else {
        return true;
    };
    let Some(resource) = resource_of(raw_path, resources) else {
        return false;
    };
    let reading = matches!(method, "GET" | "HEAD");
    granted.split(' ').any(|permission| {
        permission.split_once(':').is_some_and(|(on, access)| {
            on == resource && (access == "write" || (reading && access == "read"))
        })
    })
}

/// The call's resource: the first segment after [`PAYMENTS_PREFIX`], exactly a known name, and
/// only when no segment of the path could mean something else to the payment API: none empty
/// (bar a trailing slash), none `.` or `..`, none with a backslash or an encoded slash,
/// backslash or dot. A backend that decodes or normalises the path therefore sees the same
/// first segment the decision saw.
pub fn resource_of<'a>(raw_path: &'a str, resources: &PaymentResources) -> Option<&'a str> {
    let rest = raw_path.strip_prefix(PAYMENTS_PREFIX)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    for segment in rest.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || is_disguised(segment) {
            return None;
        }
    }
    let first = rest.split('/').next()?;
    (is_resource_name(first) && resources.contains(first)).then_some(first)
}

/// A backslash, or a percent-encoded slash, backslash or dot.
fn is_disguised(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.contains(&b'\\')
        || bytes.windows(3).any(|w| {
            w[0] == b'%'
                && matches!(
                    (w[1], w[2].to_ascii_uppercase()),
                    (b'2', b'F') | (b'5', b'C') | (b'2', b'E')
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources() -> PaymentResources {
        PaymentResources::default()
    }

    #[test]
    fn resources_are_names_given_once() {
        assert_eq!(resources().names(), ["charges", "customers", "refunds"]);
        assert!(PaymentResources::parse("payouts,balance_transactions,x-1").is_ok());
        for bad in [
            "",
            "charges,",
            "Charges",
            "1charges",
            "charges,charges",
            "a b",
            &"a".repeat(41),
        ] {
            assert!(PaymentResources::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_list_is_sorted_distinct_and_known() {
        let parsed = Permissions::parse(&["refunds:write", "charges:read"], &resources()).unwrap();
        assert_eq!(
            parsed.stored().as_deref(),
            Some("charges:read refunds:write")
        );
        assert_eq!(Permissions::from_stored(parsed.stored().as_deref()), parsed);
        let field = |items: &[&str]| Permissions::parse(items, &resources()).unwrap_err().field;
        assert_eq!(field(&[]), "permissions");
        assert_eq!(field(&["charges:read", "payouts:read"]), "permissions[1]");
        assert_eq!(field(&["charges:admin"]), "permissions[0]");
        assert_eq!(field(&["charges"]), "permissions[0]");
        assert_eq!(field(&["charges:read", "charges:read"]), "permissions[1]");
        assert_eq!(field(&["charges:Read"]), "permissions[0]");
        let many: Vec<String> = (0..51).map(|i| format!("charges:read{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(field(&many), "permissions");
        assert_eq!(Permissions::Unrestricted.stored(), None);
    }

    #[test]
    fn reading_needs_read_or_write_and_everything_else_write() {
        let r = resources();
        let read = Some("charges:read");
        let write = Some("charges:write");
        assert!(allows(read, &r, "GET", "/api/v1/payments/charges/ch_1"));
        assert!(allows(read, &r, "HEAD", "/api/v1/payments/charges"));
        assert!(!allows(read, &r, "POST", "/api/v1/payments/charges"));
        assert!(!allows(read, &r, "DELETE", "/api/v1/payments/charges/ch_1"));
        assert!(allows(
            write,
            &r,
            "POST",
            "/api/v1/payments/charges/ch_1/capture"
        ));
        assert!(allows(write, &r, "GET", "/api/v1/payments/charges"));
        assert!(!allows(write, &r, "POST", "/api/v1/payments/refunds"));
        assert!(allows(None, &r, "POST", "/api/v1/payments/anything/..//x"));
        assert_eq!(context_value(None), "*");
        assert_eq!(context_value(read), "charges:read");
    }

    #[test]
    fn a_path_that_could_mean_another_resource_has_none() {
        let r = resources();
        for tricky in [
            "/api/v1/payments/refunds%2F..%2Fcharges",
            "/api/v1/payments/refunds/..%2fcharges",
            "/api/v1/payments/refunds/../charges",
            "/api/v1/payments/./charges",
            "/api/v1/payments/refunds/x/%2E%2E/%2e%2e/charges",
            "/api/v1/payments//charges",
            "/api/v1/payments/refunds//charges",
            "/api/v1/payments/CHARGES",
            "/api/v1/payments/charge",
            "/api/v1/payments/chargesx",
            "/api/v1/payments/charges?x=1",
            "/api/v1/payments/",
            "/api/v1/payments",
            "/api/v1/payments/%63harges",
            "/api/v1/payments/refunds\\..\\charges",
            "/API/v1/payments/charges",
            "/prod/api/v1/payments/charges",
        ] {
            assert_eq!(resource_of(tricky, &r), None, "{tricky}");
            for key in [
                "charges:write",
                "refunds:write",
                "charges:write refunds:write",
            ] {
                assert!(!allows(Some(key), &r, "POST", tricky), "{key} on {tricky}");
            }
        }
        assert_eq!(
            resource_of("/api/v1/payments/charges/", &r),
            Some("charges")
        );
        assert_eq!(resource_of("/api/v1/payments/charges", &r), Some("charges"));
        assert_eq!(resource_of("/api/v1/payments/refunds/../charges", &r), None);
    }
}
