//! `tollgate_core::sse::SseParser` on arbitrary bytes cut at fuzzer-chosen points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::framing::Framing;
use tollgate_core::sse::SseParser;
use tollgate_fuzz::seeds::{write_from_env, Target};

fuzz_target!(
    init: write_from_env(Target::FrameParser(Framing::Sse)),
    |data: &[u8]| tollgate_fuzz::push_parser::fuzz::<SseParser>(data)
);
