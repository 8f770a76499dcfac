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
        "authorizer",
        &["dynamodb:GetItem", "secretsmanager:GetSecretValue"],
    ),
    ("payments-echo", &[]),
];

/// The partitions a function's DynamoDB calls are limited to (`dynamodb:LeadingKeys`): those that
/// never touch key lookup records stay in merchant partitions, the authorizer in lookup records.
pub const PARTITIONS: &[(&str, &str)] = &[
    ("create-application", "MERCHANT#*"),
    ("list-applications", "MERCHANT#*"),
    ("authorizer", "KEYHASH#*"),
];
