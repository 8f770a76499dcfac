//! Reads: single items and small sets of items of one partition, strongly consistent, and
//! queries followed past DynamoDB's 1 MB pages.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::failure::{build_error, sdk_error};
use super::items::codec::{get_string, string_value, Item};
use super::items::{PK, SK};
use super::retry::{Attempts, Retry};
use super::Store;
use crate::domain::Failure;

/// `BatchGetItem` takes at most 100 keys.
pub const BATCH_GET_MAX: usize = 100;

/// A projection of `PK`, `SK` and `only`, every name a placeholder (some are reserved words):
/// the expression and its attribute names. A read that names its attributes is what a role
/// narrowed by `dynamodb:Attributes` may send; without a projection it reads every attribute.
pub(super) fn projection(only: &[&str]) -> (String, HashMap<String, String>) {
    let (mut expression, mut names) = attributes_projection(only);
    names.insert("#pk".to_owned(), PK.to_owned());
    names.insert("#sk".to_owned(), SK.to_owned());
    expression.insert_str(0, "#pk, #sk, ");
    (expression, names)
}

/// A projection of `only`, without the key: for a read of one item whose key the caller knows.
/// The smaller the answer, the less there is to send, sign and parse.
pub fn attributes_projection(only: &[&str]) -> (String, HashMap<String, String>) {
    debug_assert!(
        !only.is_empty(),
        "a projection names at least one attribute"
    );
    let mut names = HashMap::with_capacity(only.len() + 2);
    let mut expression = String::new();
    for (i, name) in only.iter().enumerate() {
        let placeholder = format!("#a{i}");
        if i > 0 {
            expression.push_str(", ");
        }
        expression.push_str(&placeholder);
        names.insert(placeholder, (*name).to_owned());
    }
    (expression, names)
}

impl Store {
    /// One item, read strongly consistently.
    pub(super) async fn get_consistent(
        &self,
        pk: &str,
        sk: &str,
        attempts: &Attempts,
    ) -> Result<Option<Item>, Failure> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, string_value(pk))
            .key(SK, string_value(sk))
            .consistent_read(true)
            .send();
        Ok(attempts.bounded(read).await?.map_err(sdk_error)?.item)
    }

    /// A few items of one partition in one `BatchGetItem`, strongly consistent, by sort key.
    /// Unlike a transactional read, this never fails for a conflict with a concurrent
    /// transaction; the writers condition their transactions on what they read, so no snapshot
    /// is needed.
    pub(super) async fn get_consistent_many(
        &self,
        pk: &str,
        sort_keys: &[&str],
        only: Option<&[&str]>,
        attempts: &mut Attempts,
    ) -> Result<HashMap<String, Item>, Failure> {
        let keys: Vec<(&str, &str)> = sort_keys.iter().map(|sk| (pk, *sk)).collect();
        let found = self.get_consistent_keys(&keys, only, attempts).await?;
        Ok(found
            .into_iter()
            .map(|((_, sk), item)| (sk, item))
            .collect())
    }

    /// Items of any partitions, strongly consistent, by `(PK, SK)`: `BatchGetItem`s of at most
    /// [`BATCH_GET_MAX`] keys, one after the other; keys DynamoDB leaves unprocessed (under
    /// load) are asked again after a backoff. The keys must be distinct (DynamoDB refuses a batch
    /// with duplicates). With `only`, just those attributes are read (`PK` and `SK` always), so
    /// that a role narrowed with `dynamodb:Attributes` may read them.
    pub(super) async fn get_consistent_keys(
        &self,
        keys: &[(&str, &str)],
        only: Option<&[&str]>,
        attempts: &mut Attempts,
    ) -> Result<HashMap<(String, String), Item>, Failure> {
        let mut found = HashMap::with_capacity(keys.len());
        for batch in keys.chunks(BATCH_GET_MAX) {
            let mut wanted = KeysAndAttributes::builder().consistent_read(true);
            if let Some(only) = only {
                let (expression, names) = projection(only);
                wanted = wanted
                    .projection_expression(expression)
                    .set_expression_attribute_names(Some(names));
            }
            for (pk, sk) in batch {
                wanted = wanted.keys(Item::from([
                    (PK.to_owned(), string_value(*pk)),
                    (SK.to_owned(), string_value(*sk)),
                ]));
            }
            let mut wanted = wanted.build().map_err(build_error)?;
            loop {
                let read = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted)
                    .send();
                let output = attempts.bounded(read).await?.map_err(sdk_error)?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    let key = (
                        get_string(&item, PK)?.to_owned(),
                        get_string(&item, SK)?.to_owned(),
                    );
                    found.insert(key, item);
                }
                match output
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.table))
                {
                    Some(left) if !left.keys().is_empty() => {
                        wanted = left;
                        attempts.wait(Retry::Unprocessed).await?;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// Follows `LastEvaluatedKey` until the query is exhausted or `enough` items have come.
    pub(super) async fn query_all(
        &self,
        query: QueryFluentBuilder,
        enough: Option<usize>,
        attempts: &Attempts,
    ) -> Result<Vec<Item>, Failure> {
        let mut items = Vec::new();
        // A query may begin after a cursor of its own (an events page's `startingAfter`).
        let mut start_key = query.get_exclusive_start_key().clone();
        loop {
            let mut page_query = query.clone().set_exclusive_start_key(start_key);
            if let Some(enough) = enough {
                let missing = enough.saturating_sub(items.len());
                page_query = page_query.limit(i32::try_from(missing).unwrap_or(i32::MAX));
            }
            let page = attempts
                .bounded(page_query.send())
                .await?
                .map_err(sdk_error)?;
            items.extend(page.items.unwrap_or_default());
            start_key = page.last_evaluated_key;
            if start_key.is_none() || enough.is_some_and(|enough| items.len() >= enough) {
                return Ok(items);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_projection_names_each_attribute_by_a_placeholder() {
        let (expression, names) = attributes_projection(&["a", "b"]);
        assert_eq!(expression, "#a0, #a1");
        assert_eq!((names["#a0"].as_str(), names.len()), ("a", 2));
        let (expression, names) = projection(&["a"]);
        assert_eq!(expression, "#pk, #sk, #a0");
        assert_eq!((names["#pk"].as_str(), names["#sk"].as_str()), (PK, SK));
        assert_eq!(names.len(), 3);
    }
}
