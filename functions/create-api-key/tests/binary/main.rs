//! The real create-api-key binary: how it refuses to start, and what it logs at the most detailed
//! level.

mod startup;
mod trace_logs;
