//! Never deployed: what the local gateway, the tests and the benchmark share. No function depends
//! on this crate (an architecture test checks it), so nothing here reaches a Lambda binary.
//!
//! - [`routes`]: the route table the local gateway serves and the template is checked against.
//! - [`guard`]: the check that keeps tests and local tools off real AWS.
//! - [`counter`]: counting a client's DynamoDB requests.
//! - [`schema`]: creating a table with the production schema.
//! - [`clock`]: a clock that moves only when told.
//! - [`runtime_api`]: running a real function binary through a Lambda Runtime API stub.

pub mod clock;
pub mod counter;
pub mod guard;
pub mod routes;
pub mod runtime_api;
pub mod schema;
