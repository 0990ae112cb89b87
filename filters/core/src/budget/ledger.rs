//! One budget's ledger as this Envoy process keeps it in shared data, and the pure
//! operations on it. The time is an argument, so period resets are tested with any clock.
//!
//! What a budget has spent, as this process sees it, is
//! `others + local + reserved`:
//! - `others`: what the control plane counted this period from every *other* Envoy
//!   process (and earlier lives of this one), polled on a tick;
//! - `local`: the actual cost of every answer this process settled this period;
//! - `reserved`: the estimates of the requests still in flight.
//!
//! The control plane leaves this process's own records out of `others` (records carry
//! the process's instance id), so nothing is counted twice however late a record ships.

use super::period::Period;

/// Bytes of an encoded [`Ledger`].
const ENCODED_LEN: usize = 32;

/// A budget's state in one Envoy process, amounts in nano-dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Start of the period the amounts belong to (Unix ms; 0 for a budget without period).
    pub period_start_ms: u64,
    pub others: u64,
    pub local: u64,
    pub reserved: u64,
}

/// What to do to a ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Admit a request estimated to cost this much: refused when it does not fit.
    Reserve(u64),
    /// A request ended: its reservation (made in the period starting at `period_start_ms`)
    /// is released and its actual cost spent.
    Settle(Reservation),
    /// The control plane's count of the other processes' spending in a period.
    Rebase { period_start_ms: u64, others: u64 },
}

/// An admitted request's hold on one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub estimate: u64,
    pub period_start_ms: u64,
    /// What the request actually cost (0 when it failed before spending anything).
    pub actual: u64,
}

/// Why a reservation did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    /// Spent and reserved before this request.
    pub spent: u64,
    pub limit: u64,
    /// When the budget starts afresh (Unix ms); `None` for a budget without period.
    pub resets_at_ms: Option<u64>,
}

impl Ledger {
    /// Spent, settled or held, in this period.
    pub fn spent(&self) -> u64 {
        self.others
            .saturating_add(self.local)
            .saturating_add(self.reserved)
    }

    /// The ledger at `now_ms`: a new period starts empty. Reservations of the old period are
    /// dropped with it; their actual cost lands in the new period when they settle, where
    /// the control plane counts their records too. A clock behind the stored period (a
    /// stepped clock) keeps the stored period.
    fn rolled(self, period: Period, now_ms: u64) -> Ledger {
        let start = period.start(now_ms);
        if start > self.period_start_ms {
            Ledger {
                period_start_ms: start,
                ..Ledger::default()
            }
        } else {
            self
        }
    }

    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        for (i, word) in [self.period_start_ms, self.others, self.local, self.reserved]
            .iter()
            .enumerate()
        {
            out[i * 8..(i + 1) * 8].copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// `None` for anything [`Ledger::encode`] did not write.
    pub fn decode(bytes: &[u8]) -> Option<Ledger> {
        let bytes: &[u8; ENCODED_LEN] = bytes.try_into().ok()?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..(i + 1) * 8]);
            u64::from_le_bytes(w)
        };
        Some(Ledger {
            period_start_ms: word(0),
            others: word(1),
            local: word(2),
            reserved: word(3),
        })
    }
}

/// Applies `op` at `now_ms` to a stored ledger (`None`: never used) of a budget with
/// `limit` and `period`. Returns the ledger to store, or why the reservation is refused.
pub fn apply(
    stored: Option<Ledger>,
    limit: u64,
    period: Period,
    now_ms: u64,
    op: Op,
) -> Result<Ledger, Exhausted> {
    let mut ledger = stored.unwrap_or_default().rolled(period, now_ms);
    match op {
        Op::Reserve(estimate) => {
            // Admitted only if the whole estimate fits: an admitted request that spends no
            // more than its estimate can never take the budget over its limit.
            if ledger.spent().saturating_add(estimate) > limit {
                return Err(Exhausted {
                    spent: ledger.spent(),
                    limit,
                    resets_at_ms: period.next_start(now_ms),
                });
            }
            ledger.reserved = ledger.reserved.saturating_add(estimate);
        }
        Op::Settle(reservation) => {
            if reservation.period_start_ms == ledger.period_start_ms {
                ledger.reserved = ledger.reserved.saturating_sub(reservation.estimate);
            }
            ledger.local = ledger.local.saturating_add(reservation.actual);
        }
        Op::Rebase {
            period_start_ms,
            others,
        } => {
            // A count for another period (the control plane's clock on the other side of a
            // boundary) says nothing about this one.
            if period_start_ms == ledger.period_start_ms {
                ledger.others = others;
            }
        }
    }
    Ok(ledger)
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
