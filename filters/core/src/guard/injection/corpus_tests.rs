//! The rule set's measured behaviour on the corpora in `testdata/injection/`: benign tool
//! results (search results, code, JSON API answers, documentation that talks about
//! instructions, security writing about prompt injection) and attacks (each one a tool
//! result carrying an injection, in the styles the rule set is meant to catch). Records
//! are separated by a line holding only `%%`. Run with `--nocapture` to see the misses.
//!
//! The bounds are correctness figures, not timings: a heuristic change that raises the
//! false-positive rate or lowers detection past them fails here.

use std::path::Path;

use super::*;

/// At most this share of benign records may fire (per mille).
const MAX_FALSE_POSITIVES_PER_MILLE: usize = 20;
/// At least this share of attack records must fire (per mille).
const MIN_DETECTION_PER_MILLE: usize = 900;

fn corpus(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/injection")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    let mut records = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("utf-8 corpus");
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        for (i, record) in text.split("\n%%\n").enumerate() {
            let record = record.trim_matches('\n');
            if !record.is_empty() {
                records.push((
                    format!("{}#{}", name.clone().unwrap_or_default(), i + 1),
                    record.to_owned(),
                ));
            }
        }
    }
    records
}

/// Records that fire at the default threshold, as `(id, score)`.
fn firing(records: &[(String, String)]) -> Vec<(String, InjectionScore)> {
    let rules = InjectionRules::new().expect("compiles");
    records
        .iter()
        .map(|(id, text)| (id.clone(), rules.score(text, &[])))
        .filter(|(_, score)| score.total() >= DEFAULT_THRESHOLD)
        .collect()
}

#[test]
fn benign_corpus_false_positive_rate_stays_under_its_bound() {
    let benign = corpus("benign");
    assert!(benign.len() >= 150, "benign corpus has {}", benign.len());
    let fired = firing(&benign);
    for (id, score) in &fired {
        println!("false positive {id}: {score:?}");
    }
    println!("benign: {} of {} fired", fired.len(), benign.len());
    assert!(
        fired.len() * 1000 <= benign.len() * MAX_FALSE_POSITIVES_PER_MILLE,
        "{} of {} benign records fired",
        fired.len(),
        benign.len()
    );
}

#[test]
fn attack_corpus_detection_rate_stays_over_its_bound() {
    let attacks = corpus("attack");
    assert!(attacks.len() >= 50, "attack corpus has {}", attacks.len());
    let fired = firing(&attacks);
    let rules = InjectionRules::new().expect("compiles");
    for (id, text) in &attacks {
        if !fired.iter().any(|(f, _)| f == id) {
            println!("missed {id}: {:?}", rules.score(text, &[]));
        }
    }
    println!("attacks: {} of {} fired", fired.len(), attacks.len());
    assert!(
        fired.len() * 1000 >= attacks.len() * MIN_DETECTION_PER_MILLE,
        "{} of {} attack records fired",
        fired.len(),
        attacks.len()
    );
}
