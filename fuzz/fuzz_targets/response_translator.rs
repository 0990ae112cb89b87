//! `tollgate_core::translate::ResponseTranslator`, every provider × client pair, streaming or
//! not, any status, the body cut at fuzzer-chosen points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_fuzz::seeds::{write_from_env, Target};

fuzz_target!(
    init: write_from_env(Target::ResponseTranslator),
    |data: &[u8]| tollgate_fuzz::response::fuzz(data)
);
