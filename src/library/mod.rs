//! The micro-lesson library (微课资源库): uploads now; jobs, review and
//! search will follow. Domain code only: HTTP lives in `http`, rows in
//! `catalog::library`, bytes in `storage`.

pub mod uploads;
