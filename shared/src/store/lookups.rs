//! Lookup records as read: the authorizer's one strongly consistent `GetItem`, a leaked-key
//! report's batch of them, and recording a key's last use.

use std::collections::HashMap;
use std::time::Duration;

use super::failure::sdk_error;
use super::items::{key, lookup_record};
use super::reads::attributes_projection;
use super::retry::Attempts;
use super::transaction::{self, Outcome, Transaction};
use super::Store;
use crate::domain::key::KeyLookup;
use crate::domain::key_format::KeyHash;
use crate::domain::{Deadline, Failure, Timestamp};

/// How long recording a last use may take: bounded like the authorizer's own read, though nobody
/// waits for it.
const LAST_USE_WRITE_TIME: Duration = Duration::from_millis(1500);

impl Store {
    /// What a decision reads of a lookup record: every attribute of it but its `ttl`, named, so
    /// that the roles that read lookup records are granted just these (`dynamodb:Attributes`
    /// with `dynamodb:Select`: a read without a projection would select all attributes).
    pub const LOOKUP_READS: &'static [&'static str] = &[
        lookup_record::MERCHANT_ID,
        lookup_record::APPLICATION_ID,
        lookup_record::KEY_ID,
        lookup_record::KEY_STATUS,
        lookup_record::EXPIRES_AT,
        lookup_record::APPLICATION_ENABLED,
        lookup_record::LAST_USED_AT,
        lookup_record::PERMISSIONS,
    ];

    /// The projection of the authorizer's read: [`Self::LOOKUP_READS`], not the key.
    pub fn lookup_projection() -> (String, HashMap<String, String>) {
        attributes_projection(Self::LOOKUP_READS)
    }

    /// The authorizer's only read: one strongly consistent GetItem of [`Self::LOOKUP_READS`]
    /// (not the key, which it knows), bounded by the SDK's own timeouts (the authorizer's are
    /// tight).
    pub async fn find_key_lookup(&self, hash: &KeyHash) -> Result<Option<KeyLookup>, Failure> {
        let [(pk_name, pk), (sk_name, sk)] = lookup_record::key(hash);
        let (expression, names) = Self::lookup_projection();
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(pk_name, pk)
            .key(sk_name, sk)
            .projection_expression(expression)
            .set_expression_attribute_names(Some(names))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        output
            .item
            .as_ref()
            .map(lookup_record::from_item)
            .transpose()
    }

    /// The lookup records of many keys (a leaked-key report's), aligned with `hashes`: `None`
    /// for a key that is not ours. Strongly consistent, in `BatchGetItem`s of 100 distinct keys,
    /// not one request per key, of [`Self::LOOKUP_READS`].
    pub async fn find_key_lookups(
        &self,
        hashes: &[KeyHash],
        deadline: Deadline,
    ) -> Result<Vec<Option<KeyLookup>>, Failure> {
        let pks: Vec<String> = hashes.iter().map(lookup_record::pk).collect();
        let mut distinct: Vec<(&str, &str)> = pks
            .iter()
            .map(|pk| (pk.as_str(), lookup_record::SK_VALUE))
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let found = self
            .get_consistent_keys(
                &distinct,
                Some(Self::LOOKUP_READS),
                &mut Attempts::until(deadline),
            )
            .await?;
        pks.into_iter()
            .map(|pk| {
                found
                    .get(&(pk, lookup_record::SK_VALUE.to_owned()))
                    .map(lookup_record::from_item)
                    .transpose()
            })
            .collect()
    }

    /// Records `now` as the key's last use, on its lookup record and its key item, in one
    /// transaction conditioned on the lookup's last use being older than the accuracy window, so
    /// that however many instances allow calls with the key, one write lands per window. A lost
    /// race means another call recorded it; `Ok(false)` when nothing was written.
    pub async fn record_last_use(
        &self,
        hash: &KeyHash,
        lookup: &KeyLookup,
        now: Timestamp,
    ) -> Result<bool, Failure> {
        let mut transaction = Transaction::new();
        transaction.update(lookup_record::record_last_use_if_stale(
            &self.table,
            hash,
            now,
        ))?;
        transaction.update(key::record_last_use(
            &self.table,
            &lookup.merchant_id,
            lookup.application_id,
            lookup.key_id,
            now,
        ))?;
        let mut attempts = Attempts::until(Deadline::after(LAST_USE_WRITE_TIME));
        match transaction::run(&self.client, &transaction, &mut attempts).await {
            Ok(Outcome::Committed) => Ok(true),
            // Another call recorded it, or is recording it: nothing to do.
            Ok(Outcome::Cancelled(_)) | Err(Failure::Contention) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::items::TTL;

    #[test]
    fn a_decision_reads_every_attribute_of_a_lookup_record_but_its_ttl() {
        let mut every: Vec<&str> = lookup_record::ATTRIBUTES
            .iter()
            .copied()
            .filter(|name| *name != TTL)
            .collect();
        let mut read = Store::LOOKUP_READS.to_vec();
        every.sort_unstable();
        read.sort_unstable();
        assert_eq!(read, every);
    }
}
