//! `tollgate_core::embeddings::translate_response`: every provider format's embeddings
//! answer, any status, for an OpenAI client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_fuzz::seeds::{write_from_env, Target};

fuzz_target!(
    init: write_from_env(Target::EmbeddingsResponse),
    |data: &[u8]| tollgate_fuzz::embeddings::fuzz(data)
);
