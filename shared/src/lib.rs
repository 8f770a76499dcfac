//! Everything the Lambda functions share, in layers that point one way (docs/architecture.md):
//!
//! ```text
//! authorize, secret_scanning      the payment-route decision; leaked-key reports
//!        http                      request parsing, responses, the error map, the idempotent POST
//!        lambda                    start-up, configuration, telemetry, SDK set-up, deadlines
//!        store                     DynamoDB: one module per item, operations as transactions
//!        pepper                    the keyed hash of keys, and sealing
//!        domain                    values and rules; no I/O
//! ```
//!
//! A layer uses those below it and none above; an architecture test holds it. The function
//! binaries (`functions/*`) only wire these together.

pub mod authorize;
pub mod domain;
pub mod http;
pub mod lambda;
pub mod pepper;
pub mod secret_scanning;
pub mod store;
