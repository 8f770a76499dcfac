//! A client that records every AWS action it takes, as IAM authorises it: each item of a
//! transaction as its own action, the partition it touches (`dynamodb:LeadingKeys`), and the
//! attributes it names (`dynamodb:Attributes`), for the permission tests to hold each function's
//! role to what its code does.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;

/// One DynamoDB action as IAM authorises it: the action, the partition prefix of the item
/// (`dynamodb:LeadingKeys`), and, for an update, a put or a batch read, every attribute it names
/// (`dynamodb:Attributes`: the key, the item put, the update, condition and projection
/// expressions; a read without a projection reads [`ALL_ATTRIBUTES`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub action: String,
    pub partition: String,
    pub attributes: Option<BTreeSet<String>>,
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

    fn record(&self, action: &str, key: Option<&HashMap<String, AttributeValue>>) {
        self.record_naming(action, key, None);
    }

    fn record_naming(
        &self,
        action: &str,
        key: Option<&HashMap<String, AttributeValue>>,
        attributes: Option<BTreeSet<String>>,
    ) {
        let partition = match key.and_then(|key| key.get("PK")) {
            Some(AttributeValue::S(pk)) => pk
                .split_once('#')
                .map_or(pk.clone(), |(prefix, _)| format!("{prefix}#*")),
            _ => "?".into(),
        };
        self.0.lock().unwrap().insert(Seen {
            action: format!("dynamodb:{action}"),
            partition,
            attributes,
        });
    }

    /// A put, with the attributes it writes and its condition names.
    fn record_put(
        &self,
        item: &HashMap<String, AttributeValue>,
        condition: Option<&str>,
        names: Option<&HashMap<String, String>>,
    ) {
        let mut attributes: BTreeSet<String> = item.keys().cloned().collect();
        attributes.extend(attribute_names([condition, None], names));
        self.record_naming("PutItem", Some(item), Some(attributes));
    }

    /// An update, with the attributes it names.
    fn record_update(
        &self,
        key: &HashMap<String, AttributeValue>,
        expressions: [Option<&str>; 2],
        names: Option<&HashMap<String, String>>,
    ) {
        let mut attributes: BTreeSet<String> = key.keys().cloned().collect();
        attributes.extend(attribute_names(expressions, names));
        self.record_naming("UpdateItem", Some(key), Some(attributes));
    }
}

/// What a read without a projection names: every attribute, which no attribute list allows.
const ALL_ATTRIBUTES: &str = "(all attributes)";

/// The top-level attributes that DynamoDB expressions name: their identifiers, with `#name`
/// placeholders resolved, leaving out `:values`, keywords and functions.
fn attribute_names(
    expressions: [Option<&str>; 2],
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
            batch_get_item::BatchGetItemInput, get_item::GetItemInput, put_item::PutItemInput,
            query::QueryInput, transact_write_items::TransactWriteItemsInput,
            update_item::UpdateItemInput,
        };
        let input = context.input();
        if let Some(get) = input.downcast_ref::<GetItemInput>() {
            self.record("GetItem", get.key());
        } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
            self.record_put(
                put.item().unwrap_or(&HashMap::new()),
                put.condition_expression(),
                put.expression_attribute_names(),
            );
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            let pk = query
                .expression_attribute_values()
                .and_then(|v| v.get(":pk"))
                .cloned();
            let key = pk.map(|pk| std::collections::HashMap::from([("PK".to_owned(), pk)]));
            self.record("Query", key.as_ref());
        } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            for wanted in batch
                .request_items()
                .into_iter()
                .flat_map(|items| items.values())
            {
                let read = match wanted.projection_expression() {
                    Some(projection) => attribute_names(
                        [Some(projection), None],
                        wanted.expression_attribute_names(),
                    ),
                    None => BTreeSet::from([ALL_ATTRIBUTES.to_owned()]),
                };
                for key in wanted.keys() {
                    let mut named: BTreeSet<String> = key.keys().cloned().collect();
                    named.extend(read.iter().cloned());
                    self.record_naming("BatchGetItem", Some(key), Some(named));
                }
            }
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            self.record_update(
                update.key().unwrap_or(&HashMap::new()),
                [update.update_expression(), update.condition_expression()],
                update.expression_attribute_names(),
            );
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in transaction.transact_items() {
                if let Some(put) = item.put() {
                    self.record_put(
                        put.item(),
                        put.condition_expression(),
                        put.expression_attribute_names(),
                    );
                } else if let Some(update) = item.update() {
                    self.record_update(
                        update.key(),
                        [
                            Some(update.update_expression()),
                            update.condition_expression(),
                        ],
                        update.expression_attribute_names(),
                    );
                } else if let Some(delete) = item.delete() {
                    let mut named: BTreeSet<String> = delete.key().keys().cloned().collect();
                    named.extend(attribute_names(
                        [delete.condition_expression(), None],
                        delete.expression_attribute_names(),
                    ));
                    self.record_naming("DeleteItem", Some(delete.key()), Some(named));
                } else if let Some(check) = item.condition_check() {
                    self.record("ConditionCheckItem", Some(check.key()));
                }
            }
        } else {
            let put_events =
                input.downcast_ref::<aws_sdk_eventbridge::operation::put_events::PutEventsInput>();
            match put_events {
                // The bus each entry goes to stands in for the partition.
                Some(put) => {
                    for entry in put.entries() {
                        self.0.lock().unwrap().insert(Seen {
                            action: "events:PutEvents".into(),
                            partition: entry.event_bus_name().unwrap_or("default").to_owned(),
                            attributes: None,
                        });
                    }
                }
                None => self.record("(unrecorded operation)", None),
            }
        }
        Ok(())
    }
}
