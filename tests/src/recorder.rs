//! A client that records every AWS action it takes, as IAM authorises it, for the permission
//! tests to hold each function's role to what its code does: each item of a transaction as its
//! own action, a `BatchGetItem` as one request over all its keys; for each, the partitions it
//! touches (`dynamodb:LeadingKeys`), the attributes it names (`dynamodb:Attributes`), and what it
//! asks back (`dynamodb:Select`, `dynamodb:ReturnValues`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;

/// What a read selects when it names no attributes: every one ("the Select parameter always has
/// a value (ALL_ATTRIBUTES, unless otherwise specified)", DynamoDB developer guide, "Using IAM
/// policy conditions for fine-grained access control").
pub const ALL_ATTRIBUTES: &str = "ALL_ATTRIBUTES";
/// What a read that names its attributes (a projection) selects.
pub const SPECIFIC_ATTRIBUTES: &str = "SPECIFIC_ATTRIBUTES";

/// One DynamoDB action as IAM authorises it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub action: String,
    /// `dynamodb:LeadingKeys`: the partitions of the items one authorisation covers, each as the
    /// pattern it falls under (`MERCHANT#*`, `KEYHASH#*`; `?` without a partition key). A
    /// transaction item has one; a `BatchGetItem` has all its keys'. For `events:PutEvents`, the
    /// bus.
    pub partitions: BTreeSet<String>,
    /// `dynamodb:Attributes`: every top-level attribute the request names (the key, the item put,
    /// the update, condition, key condition, filter and projection expressions).
    pub attributes: BTreeSet<String>,
    /// `dynamodb:Select` of a read: [`SPECIFIC_ATTRIBUTES`] with a projection, else the request's
    /// `Select`, else [`ALL_ATTRIBUTES`].
    pub select: Option<String>,
    /// `dynamodb:ReturnValues` of a write as sent (in a transaction, its
    /// `ReturnValuesOnConditionCheckFailure`), if it sets one.
    pub return_values: Option<String>,
}

impl Seen {
    /// Whether it reads nothing but the attributes it names, and asks nothing back: what a grant
    /// narrowed by `dynamodb:Attributes` requires with `dynamodb:Select` (`SPECIFIC_ATTRIBUTES`)
    /// or `dynamodb:ReturnValues` (`NONE`), each `StringEqualsIfExists`.
    pub fn reads_only_what_it_names(&self) -> bool {
        self.select
            .as_deref()
            .is_none_or(|s| s == SPECIFIC_ATTRIBUTES)
            && self.return_values.as_deref().is_none_or(|r| r == "NONE")
    }
}

/// Everything a client was seen to do.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<BTreeSet<Seen>>>);

impl Recorder {
    pub fn seen(&self) -> BTreeSet<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub fn actions(&self) -> BTreeSet<String> {
        self.seen().into_iter().map(|seen| seen.action).collect()
    }

    fn insert(&self, seen: Seen) {
        self.0.lock().unwrap().insert(seen);
    }

    /// An action on the items of `keys`, naming their key attributes and `named`.
    fn record(
        &self,
        action: &str,
        keys: &[&HashMap<String, AttributeValue>],
        named: BTreeSet<String>,
        select: Option<String>,
        return_values: Option<&str>,
    ) {
        let mut attributes = named;
        for key in keys {
            attributes.extend(key.keys().cloned());
        }
        self.insert(Seen {
            action: format!("dynamodb:{action}"),
            partitions: keys.iter().map(|key| partition(key.get("PK"))).collect(),
            attributes,
            select,
            return_values: return_values.map(str::to_owned),
        });
    }

    /// A put: the item's attributes are what it writes.
    fn record_put(
        &self,
        item: &HashMap<String, AttributeValue>,
        condition: Option<&str>,
        names: Option<&HashMap<String, String>>,
        return_values: Option<&str>,
    ) {
        let named = attribute_names([condition, None, None], names);
        self.record("PutItem", &[item], named, None, return_values);
    }
}

/// The pattern of `dynamodb:LeadingKeys` a partition key falls under: its prefix up to the first
/// `#`, then `*`.
fn partition(pk: Option<&AttributeValue>) -> String {
    match pk {
        Some(AttributeValue::S(pk)) => pk
            .split_once('#')
            .map_or(pk.clone(), |(prefix, _)| format!("{prefix}#*")),
        _ => "?".into(),
    }
}

/// What a read selects: see [`Seen::select`].
fn selected(projection: Option<&str>, select: Option<&str>) -> Option<String> {
    Some(match (projection, select) {
        (Some(_), _) => SPECIFIC_ATTRIBUTES.to_owned(),
        (None, Some(select)) => select.to_owned(),
        (None, None) => ALL_ATTRIBUTES.to_owned(),
    })
}

/// The top-level attributes that DynamoDB expressions name: their identifiers, with `#name`
/// placeholders resolved, leaving out `:values`, keywords and functions.
fn attribute_names(
    expressions: [Option<&str>; 3],
    names: Option<&HashMap<String, String>>,
) -> BTreeSet<String> {
    const WORDS: &[&str] = &[
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "attribute_exists",
        "attribute_not_exists",
        "attribute_type",
        "begins_with",
        "contains",
        "size",
        "if_not_exists",
        "list_append",
    ];
    let mut found = BTreeSet::new();
    for expression in expressions.into_iter().flatten() {
        let mut chars = expression.chars().peekable();
        while let Some(c) = chars.next() {
            if !(c == '#' || c == ':' || c.is_ascii_alphabetic() || c == '_') {
                continue;
            }
            let mut token = String::from(c);
            while let Some(&next) = chars.peek() {
                if next.is_ascii_alphanumeric() || next == '_' {
                    token.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            if token.starts_with(':') {
                continue;
            }
            if token.starts_with('#') {
                let name = names
                    .and_then(|names| names.get(&token))
                    .unwrap_or_else(|| panic!("{token} is not defined in {expression}"));
                found.insert(name.clone());
            } else if !WORDS.iter().any(|word| word.eq_ignore_ascii_case(&token)) {
                found.insert(token);
            }
        }
    }
    found
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemInput, delete_item::DeleteItemInput,
            get_item::GetItemInput, put_item::PutItemInput, query::QueryInput,
            transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
        };
        let input = context.input();
        let none = HashMap::new();
        if let Some(get) = input.downcast_ref::<GetItemInput>() {
            let projection = get.projection_expression();
            self.record(
                "GetItem",
                &[get.key().unwrap_or(&none)],
                attribute_names([projection, None, None], get.expression_attribute_names()),
                selected(projection, None),
                None,
            );
        } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
            self.record_put(
                put.item().unwrap_or(&none),
                put.condition_expression(),
                put.expression_attribute_names(),
                put.return_values().map(|r| r.as_str()),
            );
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            self.record(
                "UpdateItem",
                &[update.key().unwrap_or(&none)],
                attribute_names(
                    [
                        update.update_expression(),
                        update.condition_expression(),
                        None,
                    ],
                    update.expression_attribute_names(),
                ),
                None,
                update.return_values().map(|r| r.as_str()),
            );
        } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
            self.record(
                "DeleteItem",
                &[delete.key().unwrap_or(&none)],
                attribute_names(
                    [delete.condition_expression(), None, None],
                    delete.expression_attribute_names(),
                ),
                None,
                delete.return_values().map(|r| r.as_str()),
            );
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            // The partition is the key condition's `:pk`.
            let key = query
                .expression_attribute_values()
                .and_then(|v| v.get(":pk"))
                .map(|pk| HashMap::from([("PK".to_owned(), pk.clone())]))
                .unwrap_or_default();
            let projection = query.projection_expression();
            self.record(
                "Query",
                &[&key],
                attribute_names(
                    [
                        query.key_condition_expression(),
                        query.filter_expression(),
                        projection,
                    ],
                    query.expression_attribute_names(),
                ),
                selected(projection, query.select().map(|s| s.as_str())),
                None,
            );
        } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            // One authorisation per table: all the keys asked of it at once.
            for wanted in batch
                .request_items()
                .into_iter()
                .flat_map(|items| items.values())
            {
                let projection = wanted.projection_expression();
                let keys: Vec<&HashMap<String, AttributeValue>> = wanted.keys().iter().collect();
                self.record(
                    "BatchGetItem",
                    &keys,
                    attribute_names(
                        [projection, None, None],
                        wanted.expression_attribute_names(),
                    ),
                    selected(projection, None),
                    None,
                );
            }
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            // Each item authorised as its own action.
            for item in transaction.transact_items() {
                if let Some(put) = item.put() {
                    self.record_put(
                        put.item(),
                        put.condition_expression(),
                        put.expression_attribute_names(),
                        put.return_values_on_condition_check_failure()
                            .map(|r| r.as_str()),
                    );
                } else if let Some(update) = item.update() {
                    self.record(
                        "UpdateItem",
                        &[update.key()],
                        attribute_names(
                            [
                                Some(update.update_expression()),
                                update.condition_expression(),
                                None,
                            ],
                            update.expression_attribute_names(),
                        ),
                        None,
                        update
                            .return_values_on_condition_check_failure()
                            .map(|r| r.as_str()),
                    );
                } else if let Some(delete) = item.delete() {
                    self.record(
                        "DeleteItem",
                        &[delete.key()],
                        attribute_names(
                            [delete.condition_expression(), None, None],
                            delete.expression_attribute_names(),
                        ),
                        None,
                        delete
                            .return_values_on_condition_check_failure()
                            .map(|r| r.as_str()),
                    );
                } else if let Some(check) = item.condition_check() {
                    self.record(
                        "ConditionCheckItem",
                        &[check.key()],
                        attribute_names(
                            [Some(check.condition_expression()), None, None],
                            check.expression_attribute_names(),
                        ),
                        None,
                        check
                            .return_values_on_condition_check_failure()
                            .map(|r| r.as_str()),
                    );
                }
            }
        } else {
            let put_events =
                input.downcast_ref::<aws_sdk_eventbridge::operation::put_events::PutEventsInput>();
            match put_events {
                // The bus each entry goes to stands in for the partition.
                Some(put) => {
                    for entry in put.entries() {
                        self.insert(Seen {
                            action: "events:PutEvents".into(),
                            partitions: BTreeSet::from([entry
                                .event_bus_name()
                                .unwrap_or("default")
                                .to_owned()]),
                            attributes: BTreeSet::new(),
                            select: None,
                            return_values: None,
                        });
                    }
                }
                None => self.record("(unrecorded operation)", &[], BTreeSet::new(), None, None),
            }
        }
        Ok(())
    }
}
