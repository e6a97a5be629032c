//! The customers domain rules, free of I/O.

pub mod analysis;
pub mod contribution;
pub mod duplicates;
pub mod graph;
pub mod import;
pub mod lifecycle;
pub mod party;
pub mod pyramid;
pub mod relationship;
