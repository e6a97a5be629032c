//! The sales domain rules, free of I/O.

pub mod alerts;
pub mod import;
pub mod pricing;
pub mod reports;
pub mod rules;
pub mod territory;
