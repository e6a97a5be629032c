//! The partner-channel domain rules, free of I/O.

pub mod performance;
pub mod rules;
pub mod scorecard;
