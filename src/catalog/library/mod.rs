//! The micro-lesson library's tables: uploads now; lessons, jobs and
//! reviews will follow.

pub mod uploads;
