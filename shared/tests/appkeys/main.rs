//! The shared crate's tests that need no local endpoint: the store against stubbed DynamoDB
//! answers (conflicts, throttling, page cuts), properties over generated input, and the size of
//! a page of applications.

mod conflicts;
mod permissions;
mod properties;
mod response_size;
