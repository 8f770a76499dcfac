//! Least privilege, written down once.

/// What each function's code calls, and so all its role may do: the transformed template must
/// grant exactly this (`tests/tests/deployment/safety.rs`), and what the functions are seen to do
/// against the local endpoint must be in it (`tests/tests/permissions.rs`). `TransactWriteItems`
/// is authorised per item (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`).
pub const PERMISSIONS: &[(&str, &[&str])] = &[
    (
        "create-application",
        &["dynamodb:PutItem", "dynamodb:UpdateItem"],
    ),
    ("list-applications", &["dynamodb:GetItem", "dynamodb:Query"]),
    ("get-application", &["dynamodb:GetItem", "dynamodb:Query"]),
    (
        "set-application-status",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:UpdateItem",
        ],
    ),
    (
        "create-api-key",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "secretsmanager:GetSecretValue",
        ],
    ),
    (
        "revoke-api-key",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ],
    ),
    (
        "roll-api-key",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "secretsmanager:GetSecretValue",
        ],
    ),
    (
        "authorizer",
        &[
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "secretsmanager:GetSecretValue",
        ],
    ),
    ("payments-echo", &[]),
];

/// A DynamoDB grant narrowed by IAM conditions: `actions` only on items whose partition key
/// matches one of `partitions` (`dynamodb:LeadingKeys`), and, when `attributes` is given, naming
/// no attribute but those (`dynamodb:Attributes`, with `dynamodb:ReturnValues` NONE so that
/// nothing else is read back either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Narrowed {
    pub function: &'static str,
    pub actions: &'static [&'static str],
    pub partitions: &'static [&'static str],
    pub attributes: Option<&'static [&'static str]>,
}

/// Every narrowed grant, one per policy statement. A function listed here has no DynamoDB
/// statement but these; one that is not has no condition on its DynamoDB statement. Functions that
/// never touch key lookup records stay in merchant partitions; the authorizer reads lookup records
/// only, and may write nothing but a key's last use.
pub const NARROWED: &[Narrowed] = &[
    Narrowed {
        function: "create-application",
        actions: &["dynamodb:PutItem", "dynamodb:UpdateItem"],
        partitions: &["MERCHANT#*"],
        attributes: None,
    },
    Narrowed {
        function: "list-applications",
        actions: &["dynamodb:GetItem", "dynamodb:Query"],
        partitions: &["MERCHANT#*"],
        attributes: None,
    },
    Narrowed {
        function: "get-application",
        actions: &["dynamodb:GetItem", "dynamodb:Query"],
        partitions: &["MERCHANT#*"],
        attributes: None,
    },
    Narrowed {
        function: "authorizer",
        actions: &["dynamodb:GetItem"],
        partitions: &["KEYHASH#*"],
        attributes: None,
    },
    // The last-use write: the lookup record and the key item, `lastUsedAt` only (`PK` and `SK`
    // are named by every request, and IAM requires the key attributes in the list).
    Narrowed {
        function: "authorizer",
        actions: &["dynamodb:UpdateItem"],
        partitions: &["KEYHASH#*", "MERCHANT#*"],
        attributes: Some(&["PK", "SK", "lastUsedAt"]),
    },
];

/// The narrowed grants of `function`.
pub fn narrowed(function: &str) -> Vec<&'static Narrowed> {
    NARROWED.iter().filter(|n| n.function == function).collect()
}
