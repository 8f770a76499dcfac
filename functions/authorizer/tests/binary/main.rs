//! The real authorizer: its hot path's allocations, what its binary reports to Lambda, how it
//! refuses to start, and what it logs at the most detailed level.

mod allocations;
mod error_types;
mod startup;
mod trace_logs;
