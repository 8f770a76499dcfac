//! The black-box tests: one binary, one module per concern (zero2prod's layout), against the
//! local endpoint `scripts/test` starts (see `api_tests` for the harness). A plain `cargo test`
//! without one stops at once, saying how to run them.

mod architecture;
mod audit;
mod authorizer;
mod bad_input;
mod concurrency;
mod console;
mod deadlines;
mod deployment;
mod docs;
mod edge;
mod events;
mod gateway;
mod guide;
mod history;
mod idempotency;
mod interleavings;
mod leak_reports;
mod lifecycle;
mod lost_responses;
mod management;
mod no_secret_in_logs;
mod openapi;
mod pepper_and_logs;
mod permissions;
mod real_aws_opt_in;
mod restricted_keys;
mod routes_and_events;
mod signing_keys;
