//! An `Idempotency-Key`'s record as the HTTP edge's idempotent POST needs it: read (to replay),
//! and written alone for a refusal, which wrote nothing else. (A success writes its record in its
//! own transaction: see [`super::Recorder`].)

use super::failure::{build_error, sdk_error};
use super::items::idempotency_record::{self, Claim, Recorded, StoredResponse};
use super::items::merchant_pk;
use super::retry::Attempts;
use super::{Store, Written};
use crate::domain::{Deadline, Failure, MerchantId};

impl Store {
    /// The live record of `claim`'s key, if there is one (an expired one is free again).
    pub async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        claim: &Claim,
        deadline: Deadline,
    ) -> Result<Option<Recorded>, Failure> {
        let item = self
            .get_consistent(
                &merchant_pk(merchant),
                &claim.sort_key,
                &Attempts::until(deadline),
            )
            .await?;
        let Some(item) = item else { return Ok(None) };
        let recorded = idempotency_record::from_item(&item)?;
        Ok((recorded.expires_at > claim.now).then_some(recorded))
    }

    /// Keeps a refusal under `claim`'s key, alone: the change it refused wrote nothing. If a
    /// live record holds the key, nothing is written.
    pub async fn record_refusal(
        &self,
        merchant: &MerchantId,
        claim: &Claim,
        response: &StoredResponse,
        deadline: Deadline,
    ) -> Result<Written<()>, Failure> {
        let put = idempotency_record::put_if_free(&self.table, merchant, claim, response)
            .build()
            .map_err(build_error)?;
        let sent = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send();
        match Attempts::until(deadline).bounded(sent).await? {
            Ok(_) => Ok(Written::Fresh(())),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Written::KeyHeld)
            }
            Err(err) => Err(sdk_error(err)),
        }
    }
}
