//! Tool calls to a legacy HTTP+SSE server waiting for their result.
//!
//! The legacy transport answers a `tools/call` POST with `202 Accepted`; the result comes
//! later, on the session's event stream, which another request (and maybe another Envoy
//! worker) carries. So the call's step cannot end with its POST: the POST leaves the
//! call here (its step's draft and its price's holds, an [`OpenCall`]) before the request goes on (the result may come down the
//! stream before the 202 does), and the stream's filter takes it out and ships the step
//! when the matching result passes, with the result's `isError` and the real latency.
//!
//! Taking a call out is the right to ship its step, so each call ships once: when its
//! result passes, when its POST fails, or, ended as cut off, when the session's stream
//! closes or the call waited longer than [`PENDING_TTL_MS`]. The store is bounded: a
//! session holds at most [`MAX_PENDING_PER_SESSION`] calls (beyond that the POST ships its
//! own step, recording only the 202), and a session's entry is emptied when its stream
//! ends. Envoy's shared data cannot delete a key, so an emptied entry (its key, no value)
//! stays behind per legacy session.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ratelimit::store::compare_and_swap;
use crate::ratelimit::SharedStore;

use super::legacy::Diversions;
use super::response::Answered;
use super::step::{CallEnd, Finished, OpenCall};

/// Calls one session may have waiting; a client that sends more at once is unusual.
pub const MAX_PENDING_PER_SESSION: usize = 64;
/// How long a call waits for its result before its step ships as cut off.
pub const PENDING_TTL_MS: u64 = 15 * 60 * 1000;

/// One session's waiting calls, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Waiting {
    calls: Vec<WaitingCall>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WaitingCall {
    /// The request's JSON-RPC id, which its result carries.
    id: Value,
    call: OpenCall,
}

impl Waiting {
    fn decode(bytes: Option<&[u8]>) -> Waiting {
        bytes
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    /// Takes out the calls that waited too long, ended as cut off.
    fn expire(&mut self, now_unix_ms: u64) -> Vec<(OpenCall, CallEnd)> {
        let (expired, kept): (Vec<_>, _) =
            std::mem::take(&mut self.calls).into_iter().partition(|c| {
                now_unix_ms.saturating_sub(c.call.draft.started_unix_ms) > PENDING_TTL_MS
            });
        self.calls = kept;
        expired.into_iter().map(|c| (c.call, CUT_OFF_END)).collect()
    }

    fn take(&mut self, id: &Value) -> Option<OpenCall> {
        let at = self.calls.iter().position(|c| &c.id == id)?;
        Some(self.calls.remove(at).call)
    }

    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// How a call ends without its result.
const CUT_OFF_END: CallEnd = CallEnd {
    status: 0,
    refused: None,
    jsonrpc_error: false,
    is_error: false,
    cut_off: true,
};

/// One legacy server's waiting calls, in the store every worker shares.
pub struct PendingCalls<'a> {
    pub store: &'a dyn SharedStore,
    pub server: &'a str,
}

/// The same server's calls in the same store as its diverted refusals.
impl<'a> From<&Diversions<'a>> for PendingCalls<'a> {
    fn from(diversions: &Diversions<'a>) -> Self {
        PendingCalls {
            store: diversions.store,
            server: diversions.server,
        }
    }
}

impl PendingCalls<'_> {
    fn key(&self, session: &str) -> String {
        format!("tollgate.mcp.pending.{}.{session}", self.server)
    }

    /// Changes `session`'s entry with `change` (which returns `None` to leave it as it
    /// was); `None` when the store kept refusing the write.
    fn update<R>(
        &self,
        session: &str,
        mut change: impl FnMut(&mut Waiting) -> Option<R>,
    ) -> Option<Option<R>> {
        let mut result = None;
        let written = compare_and_swap(self.store, &self.key(session), |stored| {
            let mut waiting = Waiting::decode(stored);
            result = change(&mut waiting);
            result.as_ref().map(|_| waiting.encode()).ok_or(())
        });
        match written {
            Ok(_) => Some(result),
            Err(_) => None,
        }
    }

    /// Creates `session`'s entry when its stream starts, before any call: Envoy's shared
    /// data lets two workers both "create" an absent key, and one write would be lost.
    pub fn open(&self, session: &str) {
        if self.store.get(&self.key(session)).is_none() {
            let _ = self
                .store
                .set(&self.key(session), &Waiting::default().encode(), None);
        }
    }

    /// Ends calls taken out of the store (after the update: settling a price is not
    /// something to repeat when a compare-and-swap retries).
    fn finish(&self, ended: Vec<(OpenCall, CallEnd)>, now_unix_ms: u64) -> Finished {
        let mut finished = Finished::default();
        for (call, end) in ended {
            call.finish(end, self.store, now_unix_ms, &mut finished);
        }
        finished
    }

    /// Leaves the call `id` to `session`'s stream, which then ends it (its step and its
    /// price's holds); returns the calls that waited too long, ended as cut off. `None` when
    /// the session already waits for [`MAX_PENDING_PER_SESSION`] calls or the store refused:
    /// the POST ends the call then.
    pub fn wait_for(
        &self,
        session: &str,
        id: &Value,
        call: &OpenCall,
        now_unix_ms: u64,
    ) -> Option<Finished> {
        let updated = self.update(session, |waiting| {
            let expired = waiting.expire(now_unix_ms);
            (waiting.calls.len() < MAX_PENDING_PER_SESSION).then(|| {
                waiting.calls.push(WaitingCall {
                    id: id.clone(),
                    call: call.clone(),
                });
                expired
            })
        });
        let expired = updated.flatten()?;
        Some(self.finish(expired, now_unix_ms))
    }

    /// The tool named by the call `id` waiting on `session`: a legacy stream's answers do
    /// not say which call they answer, and a result is checked against its tool's schema.
    pub fn tool_of(&self, session: &str, id: &Value) -> Option<String> {
        let (stored, _) = self.store.get(&self.key(session))?;
        let waiting = Waiting::decode(Some(&stored));
        let waiting_call = waiting.calls.into_iter().find(|c| &c.id == id)?;
        Some(waiting_call.call.draft.invocation.tool)
    }

    /// The call `id` taken back (its POST failed, so no result will come); `None` when it
    /// is not waiting (its result already passed).
    pub fn take(&self, session: &str, id: &Value) -> Option<OpenCall> {
        self.update(session, |waiting| waiting.take(id)).flatten()
    }

    /// Ends the calls `answers` answer on `session`'s stream (whose HTTP status is
    /// `status`) as their results say, with the calls that waited too long, as cut off.
    pub fn answered(
        &self,
        session: &str,
        answers: &[Answered],
        status: u16,
        now_unix_ms: u64,
    ) -> Finished {
        if answers.is_empty() {
            return Finished::default();
        }
        let updated = self.update(session, |waiting| {
            let mut ended = waiting.expire(now_unix_ms);
            for answer in answers {
                if let Some(call) = waiting.take(&answer.id) {
                    ended.push((call, answer.end(status)));
                }
            }
            (!ended.is_empty()).then_some(ended)
        });
        self.finish(updated.flatten().unwrap_or_default(), now_unix_ms)
    }

    /// Ends every call still waiting on `session` as cut off: its stream closed, so no
    /// result can come.
    pub fn close(&self, session: &str, now_unix_ms: u64) -> Finished {
        let updated = self.update(session, |waiting| {
            let calls = std::mem::take(&mut waiting.calls);
            Some(calls.into_iter().map(|c| (c.call, CUT_OFF_END)).collect())
        });
        self.finish(updated.flatten().unwrap_or_default(), now_unix_ms)
    }
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod tests;
