use serde_json::json;

use super::*;

fn event(n: usize) -> AuditEvent {
    AuditEvent {
        actor: "admin".into(),
        action: "key.update".into(),
        target: format!("key/k{n}"),
        details: json!({"n": n}),
    }
}

fn chain(length: usize) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = Vec::new();
    for n in 0..length {
        let head = entries.last().map(AuditEntry::head);
        let time = format!("2026-11-23T19:00:{n:02}.000Z");
        entries.push(AuditEntry::next(head.as_ref(), &event(n), time));
    }
    entries
}

/// The reference hashes were computed from the module documentation's recipe with
/// Python's hashlib and json (see README, "Audit log").
#[test]
fn hashes_as_documented() {
    let first = AuditEntry::next(
        None,
        &AuditEvent {
            actor: "admin".into(),
            action: "key.create".into(),
            target: "key/k1".into(),
            details: json!({"scopes": {"team": "ä", "models": ["gpt-4o"]}, "n": 3, "expires": null}),
        },
        "2026-11-23T19:00:00.000Z".into(),
    );
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS);
    assert_eq!(
        first.hash,
        "e04d0f2b480721c7bfaa008b8ada79f7e9f6916464d1b6afccadc6a5ddae1822"
    );
    let second = AuditEntry::next(
        Some(&first.head()),
        &AuditEvent {
            actor: "cli".into(),
            action: "key.revoke".into(),
            target: "key/k1".into(),
            details: json!({}),
        },
        "2026-11-23T19:00:01.250Z".into(),
    );
    assert_eq!(
        (second.seq, second.prev_hash.as_str()),
        (2, first.hash.as_str())
    );
    assert_eq!(
        second.hash,
        "a858c34ef3a6a609913027ac8d36441e2ce69f40aaef8f9d768d1535e1d91ce1"
    );
}

#[test]
fn canonical_json_sorts_keys_at_every_depth() {
    let value: Value =
        serde_json::from_str(r#"{"b": [ {"z": 1, "a": "x\n"} ], "a": 1.5}"#).unwrap();
    assert_eq!(
        canonical_json(&value),
        r#"{"a":1.5,"b":[{"a":"x\n","z":1}]}"#
    );
}

#[test]
fn an_untouched_log_verifies() {
    let entries = chain(5);
    assert_eq!(
        verify(&entries),
        Ok(Verified {
            entries: 5,
            head: Some(entries[4].head())
        })
    );
    assert_eq!(
        verify(&[]),
        Ok(Verified {
            entries: 0,
            head: None
        })
    );
}

#[test]
fn an_edited_entry_is_named() {
    let mut entries = chain(5);
    entries[2].details = json!({"n": 99});
    assert_eq!(verify(&entries), Err(ChainError::Modified { seq: 3 }));
    let mut entries = chain(5);
    entries[4].actor = "someone else".into();
    assert_eq!(verify(&entries), Err(ChainError::Modified { seq: 5 }));
}

#[test]
fn a_deleted_entry_is_named() {
    let mut entries = chain(5);
    entries.remove(2);
    assert_eq!(
        verify(&entries),
        Err(ChainError::Missing {
            expected: 3,
            after: 2,
            found: 4
        })
    );
    let mut entries = chain(5);
    entries.remove(0);
    assert_eq!(
        verify(&entries),
        Err(ChainError::Missing {
            expected: 1,
            after: 0,
            found: 2
        })
    );
}

/// Swapping two rows' numbers (the stored order then follows the numbers).
#[test]
fn swapped_entries_are_named() {
    let mut entries = chain(5);
    entries[1].seq = 3;
    entries[2].seq = 2;
    entries.swap(1, 2);
    assert_eq!(
        verify(&entries),
        Err(ChainError::Moved {
            seq: 2,
            written_as: 3
        })
    );
}

/// An entry forged with a correct hash and link, the later ones renumbered to make room.
#[test]
fn an_inserted_entry_is_found() {
    let mut entries = chain(5);
    let forged = AuditEntry::next(
        Some(&entries[1].head()),
        &event(42),
        "2026-11-23T19:00:01.500Z".into(),
    );
    for entry in &mut entries[2..] {
        entry.seq += 1;
    }
    entries.insert(2, forged);
    assert_eq!(
        verify(&entries),
        Err(ChainError::Inserted {
            seq: 4,
            written_as: 3
        })
    );
}

/// An edit whose author recomputed the entry's own hash breaks the next entry's link.
#[test]
fn a_rewritten_entry_breaks_the_next_link() {
    let mut entries = chain(5);
    let head = entries[0].head();
    entries[1] = AuditEntry::next(Some(&head), &event(77), entries[1].time.clone());
    assert_eq!(
        verify(&entries),
        Err(ChainError::Unlinked {
            seq: 3,
            previous: 2
        })
    );
}

#[test]
fn a_repeated_entry_is_named() {
    let mut entries = chain(3);
    entries.push(entries[1].clone());
    assert_eq!(
        verify(&entries),
        Err(ChainError::OutOfOrder {
            seq: 2,
            previous: 3
        })
    );
}

#[test]
fn an_anchor_catches_what_the_chain_cannot() {
    let entries = chain(5);
    let anchor: Head = entries[3].head().to_string().parse().unwrap();
    assert_eq!(check_anchor(&entries, &anchor), Ok(()));
    // The newest entries cut off: what is left verifies on its own.
    assert!(verify(&entries[..3]).is_ok());
    assert_eq!(
        check_anchor(&entries[..3], &anchor),
        Err(ChainError::CutShort { anchor: 4, last: 3 })
    );
    // Everything rewritten with recomputed hashes: verifies on its own too.
    let mut rewritten: Vec<AuditEntry> = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        let head = rewritten.last().map(AuditEntry::head);
        let event = AuditEvent {
            actor: "intruder".into(),
            ..event(n)
        };
        rewritten.push(AuditEntry::next(head.as_ref(), &event, entry.time.clone()));
    }
    assert!(verify(&rewritten).is_ok());
    assert_eq!(
        check_anchor(&rewritten, &anchor),
        Err(ChainError::Rewritten { anchor: 4 })
    );
}

#[test]
fn an_anchor_is_seq_colon_hash() {
    let hash = "ab".repeat(32);
    assert_eq!(
        format!("7:{hash}").parse(),
        Ok(Head {
            seq: 7,
            hash: hash.clone()
        })
    );
    for bad in [
        String::new(),
        hash.clone(),
        format!("0:{hash}"),
        format!("x:{hash}"),
        format!("7:{}", hash.to_uppercase()),
        format!("7:{}", &hash[1..]),
    ] {
        assert_eq!(bad.parse::<Head>(), Err(AnchorError), "{bad}");
    }
}
