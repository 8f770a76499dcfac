//! Query strings, strictly: a parameter given twice, unknown, or malformed is a 400 naming it
//! (every problem at once), so a typo never silently does nothing.

use lambda_http::{Request, RequestExt};

use crate::domain::limits::{EVENTS_LIMIT_MAX, PAGE_LIMIT_MAX};
use crate::domain::page::{EventsRequest, PageRequest};
use crate::domain::{EventId, FieldError, Refusal};

fn strict(
    request: &Request,
    mut take: impl FnMut(&str, &str) -> Result<(), FieldError>,
) -> Result<(), Refusal> {
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    if let Some(params) = request.query_string_parameters_ref() {
        for (name, value) in params.iter() {
            if seen.contains(&name) {
                errors.push(FieldError::new(name, "must be given at most once"));
                continue;
            }
            seen.push(name);
            if let Err(error) = take(name, value) {
                errors.push(error);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Validation(errors))
    }
}

fn unknown(name: &str) -> FieldError {
    FieldError::new(name, "is not a known query parameter")
}

/// For the routes that take no query parameter.
pub fn none(request: &Request) -> Result<(), Refusal> {
    strict(request, |name, _| Err(unknown(name)))
}

/// `page`, `limit` and `include` of a page of applications.
pub fn page(request: &Request) -> Result<PageRequest, Refusal> {
    let mut page = PageRequest::default();
    strict(request, |name, value| {
        match name {
            // Any page the type holds: one past the end is 200 and empty, and costs no more
            // than the last page (the store stops at the count).
            "page" => match value.parse::<u32>() {
                Ok(number) if number >= 1 => page.page = number,
                _ => {
                    return Err(FieldError::new(
                        "page",
                        format!("must be a whole number from 1 to {}", u32::MAX),
                    ))
                }
            },
            "limit" => match value.parse::<u32>() {
                Ok(number) if (1..=PAGE_LIMIT_MAX).contains(&number) => page.limit = number,
                _ => {
                    return Err(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {PAGE_LIMIT_MAX}"),
                    ))
                }
            },
            "include" if value == "apiKeys" => page.include_api_keys = true,
            "include" => return Err(FieldError::new("include", "may only be `apiKeys`")),
            other => return Err(unknown(other)),
        }
        Ok(())
    })?;
    Ok(page)
}

/// `limit` and `startingAfter` of a page of events.
pub fn events(request: &Request) -> Result<EventsRequest, Refusal> {
    let mut page = EventsRequest::default();
    strict(request, |name, value| {
        match name {
            "limit" => match value.parse::<u32>() {
                Ok(number) if (1..=EVENTS_LIMIT_MAX).contains(&number) => page.limit = number,
                _ => {
                    return Err(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {EVENTS_LIMIT_MAX}"),
                    ))
                }
            },
            "startingAfter" => match EventId::parse(value) {
                Some(id) => page.starting_after = Some(id),
                None => {
                    return Err(FieldError::new(
                        "startingAfter",
                        "must be the id of an event from a previous page",
                    ))
                }
            },
            other => return Err(unknown(other)),
        }
        Ok(())
    })?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::query_map::QueryMap;

    #[test]
    fn any_page_the_type_holds_is_valid() {
        let page_of = |value: &str| {
            let query: QueryMap =
                std::collections::HashMap::from([("page".to_owned(), value.to_owned())]).into();
            page(&Request::default().with_query_string_parameters(query))
        };
        assert_eq!(page_of("1").unwrap().page, 1);
        assert_eq!(page_of("1000001").unwrap().page, 1_000_001);
        assert_eq!(page_of(&u32::MAX.to_string()).unwrap().page, u32::MAX);
        for bad in ["0", "-1", "4294967296", "1.5", "two", ""] {
            let Refusal::Validation(errors) = page_of(bad).unwrap_err() else {
                panic!("{bad}")
            };
            assert_eq!(errors[0].field, "page", "{bad}");
            assert!(
                errors[0].message.contains("4294967295"),
                "{bad}: {errors:?}"
            );
        }
    }
}
