//! `tollgate_core::translate::translate_request`, every client × provider pair.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_fuzz::seeds::{write_from_env, Target};

fuzz_target!(
    init: write_from_env(Target::RequestTranslator),
    |data: &[u8]| tollgate_fuzz::request::fuzz(data)
);
