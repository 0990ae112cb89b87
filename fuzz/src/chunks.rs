//! Cutting a body into the chunks a target feeds, as two input bytes choose.

/// Cuts `body` the way `choice` asks. `0` keeps it whole. Any other value picks a maximum
/// chunk length (a power of two from 1 to 2048, from the low bits, so byte-by-byte feeding is
/// among the choices) and seeds a small generator of lengths up to it. Empty chunks occur
/// too: Envoy hands those over as well.
pub fn chunks(body: &[u8], choice: u16) -> Vec<&[u8]> {
    if choice == 0 {
        return vec![body];
    }
    let max = 1usize << (choice % 12);
    let mut state = u32::from(choice).wrapping_mul(0x9E37_79B9) | 1;
    let mut rest = body;
    let mut out = Vec::new();
    while !rest.is_empty() {
        // xorshift32: never reaches zero from a non-zero state.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state as usize % (max + 1)).min(rest.len());
        let (head, tail) = rest.split_at(len);
        out.push(head);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_body_in_order() {
        let body: Vec<u8> = (0..=255).collect();
        for choice in [0, 1, 2, 11, 12, 0x1234, u16::MAX] {
            let pieces = chunks(&body, choice);
            assert_eq!(pieces.concat(), body, "choice {choice}");
            let max = if choice == 0 {
                body.len()
            } else {
                1 << (choice % 12)
            };
            assert!(pieces.iter().all(|p| p.len() <= max), "choice {choice}");
        }
        assert!(chunks(&body, 12).iter().all(|p| p.len() <= 1));
    }

    #[test]
    fn empty_body_gives_no_chunk_unless_whole() {
        assert!(chunks(&[], 5).is_empty());
        assert_eq!(chunks(&[], 0), vec![&[] as &[u8]]);
    }
}
