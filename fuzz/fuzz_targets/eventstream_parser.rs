//! `tollgate_core::eventstream::EventStreamParser` (Bedrock's binary stream framing) on
//! arbitrary bytes cut at fuzzer-chosen points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::eventstream::EventStreamParser;
use tollgate_core::framing::Framing;
use tollgate_fuzz::seeds::{write_from_env, Target};

fuzz_target!(
    init: write_from_env(Target::FrameParser(Framing::EventStream)),
    |data: &[u8]| tollgate_fuzz::push_parser::fuzz::<EventStreamParser>(data)
);
