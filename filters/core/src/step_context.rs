//! What the gateway filter tells the provider filter about a step: its trace context and
//! payload capture mode, settled once per client request (the key and the route decide
//! the mode) and read by every upstream attempt.

use serde::{Deserialize, Serialize};

use crate::capture::PayloadCapture;
use crate::trace_context::TraceContext;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepContext {
    pub trace: TraceContext,
    pub capture: PayloadCapture,
}

impl StepContext {
    /// Compact JSON, for filter state; [`StepContext::decode`] reads it back.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for anything [`StepContext::encode`] did not write.
    pub fn decode(value: &str) -> Option<StepContext> {
        serde_json::from_str(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_encoding() {
        let trace = TraceContext::from_headers(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("k=v"),
            [1; 16],
        );
        let context = StepContext {
            trace,
            capture: PayloadCapture::None,
        };
        assert_eq!(StepContext::decode(&context.encode()), Some(context));
        assert_eq!(StepContext::decode("nope"), None);
    }
}
