//! The marketing domain rules and statistics, free of I/O.

pub mod affinity;
pub mod bgnbd;
#[cfg(test)]
mod cdnow;
pub mod gamma_gamma;
pub mod history;
pub mod optimize;
pub mod rfm;
pub mod segment;
pub mod special;
pub mod test_cell;
