//! Pages: of applications (numbered, with totals) and of events (a cursor).

use serde::Serialize;

use super::ids::EventId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
    pub include_api_keys: bool,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            limit: super::limits::PAGE_LIMIT_DEFAULT,
            include_api_keys: false,
        }
    }
}

impl PageRequest {
    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total_items: u64,
    pub total_pages: u64,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, request: PageRequest, total_items: u64) -> Self {
        let total_pages = total_items.div_ceil(u64::from(request.limit));
        Self {
            items,
            page: request.page,
            limit: request.limit,
            total_items,
            total_pages,
            has_previous_page: request.page > 1,
            has_next_page: u64::from(request.page) < total_pages,
        }
    }
}

/// A page of an application's events: `limit` of them, newest first, after `starting_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsRequest {
    pub limit: u32,
    pub starting_after: Option<EventId>,
}

impl Default for EventsRequest {
    fn default() -> Self {
        Self {
            limit: super::limits::EVENTS_LIMIT_DEFAULT,
            starting_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_arithmetic() {
        let req = |page, limit| PageRequest {
            page,
            limit,
            include_api_keys: false,
        };
        let p = Page::<()>::new(vec![], req(1, 10), 0);
        assert_eq!(
            (p.total_pages, p.has_previous_page, p.has_next_page),
            (0, false, false)
        );
        let p = Page::<()>::new(vec![], req(2, 10), 21);
        assert_eq!(
            (p.total_pages, p.has_previous_page, p.has_next_page),
            (3, true, true)
        );
        let p = Page::<()>::new(vec![], req(3, 10), 21);
        assert_eq!((p.total_pages, p.has_next_page), (3, false));
        let p = Page::<()>::new(vec![], req(9, 10), 21);
        assert_eq!((p.has_previous_page, p.has_next_page), (true, false));
        assert_eq!(req(3, 10).offset(), 20);
    }
}
