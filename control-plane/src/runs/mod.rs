//! Agent runs from the stored step records: one run as a timeline tree ([`timeline`]),
//! runs listed with per-agent cost and latency percentiles ([`list`]), and both for the
//! terminal ([`render`]). Records are grouped by their `run_id` (the client's run id, or
//! the trace id when it sent none).

pub mod list;
pub mod render;
pub mod timeline;
