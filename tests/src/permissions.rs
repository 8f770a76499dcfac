//! Least privilege, written down once.

/// What each function's code calls, and so all its role may do: the transformed template must
/// grant exactly this (`tests/api/deployment/safety.rs`), and what the functions are seen to do
/// against the local endpoint must be in it (`tests/api/permissions.rs`). `TransactWriteItems`
/// is authorised per item (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`).
///
/// Every writer puts an audit event in its transaction (`PutItem`); the POSTs also put the
/// `Idempotency-Key`'s record in it, record a kept refusal alone (`PutItem`), and read the record
/// back when a retry finds it (`GetItem`).
pub const PERMISSIONS: &[(&str, &[&str])] = &[
    (
        "create-application",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    ),
    ("list-applications", &["dynamodb:GetItem", "dynamodb:Query"]),
    ("get-application", &["dynamodb:GetItem", "dynamodb:Query"]),
    ("list-events", &["dynamodb:GetItem", "dynamodb:Query"]),
    (
        "set-application-status",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
        ],
    ),
    (
        "create-api-key",
        &[
            "dynamodb:GetItem",
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
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        ],
    ),
    (
        "update-api-key",
        &[
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
        ],
    ),
    (
        "roll-api-key",
        &[
            "dynamodb:GetItem",
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
    // The reported tokens' lookup records in batches, then the revocation of each active key by
    // the transaction `revoke-api-key` runs; the pepper hashes the tokens.
    (
        "report-leaked-keys",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "secretsmanager:GetSecretValue",
        ],
    ),
    ("payments-echo", &[]),
    ("console", &[]),
    // Its code puts events on the bus; Lambda's event source mapping reads the table's stream and
    // sends failed batches to the dead-letter queue with the function's role. Each on its one
    // resource: `EVENT_PUBLISHER_GRANTS`.
    (
        "event-publisher",
        &[
            "events:PutEvents",
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            "sqs:SendMessage",
        ],
    ),
];

/// What a grant of the event publisher is on: the one event bus of the stack, the table's stream,
/// the dead-letter queue its event source mapping sends failed batches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PublisherResource {
    EventBus,
    TableStream,
    DeadLetterQueue,
}

/// The event publisher's grants, statement by statement: the actions, and the one resource they
/// are on.
pub const EVENT_PUBLISHER_GRANTS: &[(&[&str], PublisherResource)] = &[
    (&["events:PutEvents"], PublisherResource::EventBus),
    (
        &[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ],
        PublisherResource::TableStream,
    ),
    (&["sqs:SendMessage"], PublisherResource::DeadLetterQueue),
];

/// A DynamoDB grant narrowed by IAM conditions: `actions` only on items whose partition key
/// matches one of `partitions` (`dynamodb:LeadingKeys`), and, when `attributes` is given, naming
/// no attribute but those (`dynamodb:Attributes`), reading nothing else (`dynamodb:Select`
/// `SPECIFIC_ATTRIBUTES` on a read, `dynamodb:ReturnValues` `NONE` on a write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Narrowed {
    pub function: &'static str,
    pub actions: &'static [&'static str],
    pub partitions: &'static [&'static str],
    pub attributes: Option<&'static [&'static str]>,
}

/// Every DynamoDB grant on the table's items, one per policy statement, of every function: each
/// on one kind of partition (the keys of one `BatchGetItem` must all fit one statement), and each
/// that reaches key lookup records naming its attributes. Functions that never touch lookup
/// records stay in merchant partitions; the authorizer reads lookup records only, and may write
/// nothing but a key's last use; the writers may touch on a lookup record only what their
/// change of it names.
pub const NARROWED: &[Narrowed] = &[
    Narrowed {
        function: "create-application",
        actions: &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        partitions: MERCHANTS,
        attributes: None,
    },
    Narrowed {
        function: "list-applications",
        actions: &["dynamodb:GetItem", "dynamodb:Query"],
        partitions: MERCHANTS,
        attributes: None,
    },
    Narrowed {
        function: "get-application",
        actions: &["dynamodb:GetItem", "dynamodb:Query"],
        partitions: MERCHANTS,
        attributes: None,
    },
    // The application, then its events: both in the merchant's partition.
    Narrowed {
        function: "list-events",
        actions: &["dynamodb:GetItem", "dynamodb:Query"],
        partitions: MERCHANTS,
        attributes: None,
    },
    Narrowed {
        function: "set-application-status",
        actions: &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
        ],
        partitions: MERCHANTS,
        attributes: None,
    },
    // The application's `isEnabled`, copied onto each working key's lookup record.
    Narrowed {
        function: "set-application-status",
        actions: &["dynamodb:UpdateItem"],
        partitions: LOOKUPS,
        attributes: Some(&["PK", "SK", "applicationEnabled"]),
    },
    Narrowed {
        function: "create-api-key",
        actions: &[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ],
        partitions: MERCHANTS,
        attributes: None,
    },
    Narrowed {
        function: "create-api-key",
        actions: &["dynamodb:PutItem"],
        partitions: LOOKUPS,
        attributes: Some(LOOKUP_PUT),
    },
    Narrowed {
        function: "revoke-api-key",
        actions: &[
            "dynamodb:BatchGetItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        ],
        partitions: MERCHANTS,
        attributes: None,
    },
    Narrowed {
        function: "revoke-api-key",
        actions: &["dynamodb:UpdateItem"],
        partitions: LOOKUPS,
        attributes: Some(LOOKUP_REVOCATION),
    },
    Narrowed {
        function: "update-api-key",
        actions: &[
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
        ],
        partitions: MERCHANTS,
        attributes: None,
    },
    Narrowed {
        function: "update-api-key",
        actions: &["dynamodb:UpdateItem"],
        partitions: LOOKUPS,
        attributes: Some(LOOKUP_PERMISSIONS),
    },
    Narrowed {
        function: "roll-api-key",
        actions: &[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        ],
        partitions: MERCHANTS,
        attributes: None,
    },
    // The new key's lookup record put, the old one's ended (or revoked, for a window of 0).
    Narrowed {
        function: "roll-api-key",
        actions: &["dynamodb:PutItem"],
        partitions: LOOKUPS,
        attributes: Some(LOOKUP_PUT),
    },
    Narrowed {
        function: "roll-api-key",
        actions: &["dynamodb:UpdateItem"],
        partitions: LOOKUPS,
        attributes: Some(&["PK", "SK", "keyStatus", "expiresAt", "ttl"]),
    },
    Narrowed {
        function: "authorizer",
        actions: &["dynamodb:GetItem"],
        partitions: LOOKUPS,
        attributes: Some(LOOKUP_READS),
    },
    // The last-use write: the lookup record and the key item, `lastUsedAt` only (`PK` and `SK`
    // are named by every request, and IAM requires the key attributes in the list).
    Narrowed {
        function: "authorizer",
        actions: &["dynamodb:UpdateItem"],
        partitions: &["KEYHASH#*", "MERCHANT#*"],
        attributes: Some(&["PK", "SK", "lastUsedAt"]),
    },
    // The report function runs unauthenticated input, so each of its grants is as narrow as IAM
    // allows. It reads lookup records (BatchGetItem), then per active key what a revocation
    // reads of the key and its keyring, and nothing else of a merchant's partition (not the
    // sealed full keys of idempotency records, say); its revocation writes the
    // key, the keyring and the audit event, those attributes only, and trims the history; on a
    // lookup record it may mark the key revoked and nothing else, so that it can never write a
    // lookup record that verifies (one needs the merchant, application and key ids).
    Narrowed {
        function: "report-leaked-keys",
        actions: &["dynamodb:BatchGetItem"],
        partitions: LOOKUPS,
        attributes: Some(LOOKUP_READS),
    },
    Narrowed {
        function: "report-leaked-keys",
        actions: &["dynamodb:BatchGetItem"],
        partitions: MERCHANTS,
        attributes: Some(REPORT_REVOCATION_READS),
    },
    Narrowed {
        function: "report-leaked-keys",
        actions: &["dynamodb:UpdateItem", "dynamodb:PutItem"],
        partitions: MERCHANTS,
        attributes: Some(REPORT_REVOCATION_WRITES),
    },
    // The trim deletes by key alone, returning nothing: no other item of the partition can be
    // read back through it.
    Narrowed {
        function: "report-leaked-keys",
        actions: &["dynamodb:DeleteItem"],
        partitions: MERCHANTS,
        attributes: Some(&["PK", "SK"]),
    },
    Narrowed {
        function: "report-leaked-keys",
        actions: &["dynamodb:UpdateItem"],
        partitions: LOOKUPS,
        attributes: Some(LOOKUP_REVOCATION),
    },
];

/// Merchant partitions: applications, keys, keyrings, audit events, idempotency records, name
/// reservations, counters.
pub const MERCHANTS: &[&str] = &["MERCHANT#*"];
/// Key lookup records, which the authorizer reads on every payment call.
pub const LOOKUPS: &[&str] = &["KEYHASH#*"];

/// What a decision reads of a lookup record (`Store::LOOKUP_READS`, with the item's key).
pub const LOOKUP_READS: &[&str] = &[
    "PK",
    "SK",
    "merchantId",
    "applicationId",
    "keyId",
    "keyStatus",
    "expiresAt",
    "applicationEnabled",
    "lastUsedAt",
    "permissions",
];

/// What a new key's lookup record is put with: every attribute of a lookup record but its last
/// use (`lookup_record::put_new`).
pub const LOOKUP_PUT: &[&str] = &[
    "PK",
    "SK",
    "merchantId",
    "applicationId",
    "keyId",
    "keyStatus",
    "applicationEnabled",
    "permissions",
    "expiresAt",
    "ttl",
];

/// What a revocation writes of a lookup record (`lookup_record::revoke`): the status, and when
/// DynamoDB may forget it.
pub const LOOKUP_REVOCATION: &[&str] = &["PK", "SK", "keyStatus", "ttl"];

/// What a change of a key's permissions writes of its lookup record
/// (`lookup_record::set_permissions`).
pub const LOOKUP_PERMISSIONS: &[&str] = &["PK", "SK", "permissions"];

/// The narrowed grants of `function`.
pub fn narrowed(function: &str) -> Vec<&'static Narrowed> {
    NARROWED.iter().filter(|n| n.function == function).collect()
}

/// What the report function's revocations read of a merchant's partition: the key and its
/// keyring (`Store::REVOCATION_READS`, with the item's key).
pub const REPORT_REVOCATION_READS: &[&str] = &[
    "PK",
    "SK",
    "keyStatus",
    "expiresAt",
    "keyHash",
    "keyPrefix",
    "description",
    "revocationId",
    "rolledTo",
    "activeKeys",
    "rolledKeys",
    "retiredKeys",
    "version",
];

/// What they write there: the key marked revoked (conditioned on its status and expiry), the
/// keyring rewritten (conditioned on its version), the audit event put.
pub const REPORT_REVOCATION_WRITES: &[&str] = &[
    "PK",
    "SK",
    // The key.
    "keyStatus",
    "expiresAt",
    "revokedAt",
    "revocationId",
    "ttl",
    // The keyring.
    "activeKeys",
    "rolledKeys",
    "retiredKeys",
    "version",
    // The event.
    "type",
    "id",
    "createdAt",
    "applicationId",
    "keyId",
    "keyPrefix",
    "actorSub",
    "merchantId",
    "requestId",
    "sourceIp",
    "userAgent",
    "report",
];
