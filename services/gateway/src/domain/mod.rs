//! The gateway's rules, free of I/O: how long a composed view may take, which sections it has
//! and how a section's outcome is reported, and the sales figures derived from orders.

pub mod deadline;
pub mod sales;
pub mod sections;
