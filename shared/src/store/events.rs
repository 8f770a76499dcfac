//! An application's audit events, newest first, a cursor page at a time.

use super::items::codec::string_value;
use super::items::{application, audit_event, merchant_pk, PK, SK};
use super::retry::Attempts;
use super::Store;
use crate::domain::audit::EventPage;
use crate::domain::error::Missing;
use crate::domain::page::EventsRequest;
use crate::domain::{ApplicationId, Deadline, Error, MerchantId, Refusal};

impl Store {
    /// Two requests: the application (not found if it is not the merchant's), then one query of
    /// its events, after the event `starting_after` (an id from a previous page).
    pub async fn list_events(
        &self,
        merchant: &MerchantId,
        id: ApplicationId,
        request: EventsRequest,
        deadline: Deadline,
    ) -> Result<EventPage, Error> {
        let pk = merchant_pk(merchant);
        let attempts = Attempts::until(deadline);
        self.get_consistent(&pk, &application::sk(id), &attempts)
            .await?
            .ok_or(Refusal::NotFound(Missing::Application))?;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("{PK} = :pk AND {SK} BETWEEN :first AND :past_last"))
            .expression_attribute_values(":pk", string_value(&pk))
            .expression_attribute_values(":first", string_value(audit_event::first_sk(id)))
            .expression_attribute_values(":past_last", string_value(audit_event::past_last_sk(id)))
            .scan_index_forward(false)
            .consistent_read(true);
        if let Some(after) = request.starting_after {
            query = query
                .exclusive_start_key(PK, string_value(&pk))
                .exclusive_start_key(SK, string_value(audit_event::sk(id, after)));
        }
        let limit = request.limit as usize;
        let mut items = self.query_all(query, Some(limit + 1), &attempts).await?;
        // Past its retention an event is gone, however late DynamoDB deletes it. Every event is
        // kept as long, so newest first, the first one gone is followed by older ones only: the
        // page ends there, and `hasMore` counts only events still kept.
        let now = self.clock.now();
        let kept = items
            .iter()
            .take_while(|item| !audit_event::is_forgotten(item, now))
            .count();
        let has_more = kept > limit;
        items.truncate(kept.min(limit));
        let items = items
            .iter()
            .map(audit_event::from_item)
            .collect::<Result<_, _>>()?;
        Ok(EventPage { items, has_more })
    }
}
