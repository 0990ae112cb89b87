//! What the gateway filter tells the provider filter about a routed request, in one
//! internal header.
//!
//! Every header access from wasm is a host call (and a copy through the VM's allocator), so
//! the gateway packs the client format, operation, key id and team into one value instead
//! of one header each; the provider filter reads and removes it with two calls.

use crate::formats::path::encode_component;
use crate::formats::WireFormat;
use crate::gateway::Operation;

/// The request's context, as the provider filter needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteContext {
    pub client_format: WireFormat,
    pub operation: Operation,
    pub key_id: String,
    pub team: Option<String>,
}

impl RouteContext {
    /// `format;operation;key-id[;team]`, each field percent-encoded so no value can break the
    /// framing.
    pub fn encode(&self) -> String {
        let mut out = format!(
            "{};{};{}",
            self.client_format.as_str(),
            self.operation.as_str(),
            encode_component(&self.key_id)
        );
        if let Some(team) = &self.team {
            out.push(';');
            out.push_str(&encode_component(team));
        }
        out
    }

    /// `None` for anything the gateway filter did not write.
    pub fn decode(value: &str) -> Option<RouteContext> {
        let mut fields = value.split(';');
        let client_format = WireFormat::parse(fields.next()?)?;
        let operation = Operation::parse(fields.next()?)?;
        let key_id = decode_component(fields.next()?)?;
        let team = match fields.next() {
            Some(team) => Some(decode_component(team)?),
            None => None,
        };
        if fields.next().is_some() {
            return None;
        }
        Some(RouteContext {
            client_format,
            operation,
            key_id,
            team,
        })
    }
}

/// Reverses [`encode_component`]; `None` on malformed escapes or invalid UTF-8.
fn decode_component(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(team: Option<&str>) -> RouteContext {
        RouteContext {
            client_format: WireFormat::Anthropic,
            operation: Operation::Chat,
            key_id: "agent;1 é%".into(),
            team: team.map(str::to_owned),
        }
    }

    #[test]
    fn round_trips_awkward_values() {
        for team in [None, Some("platform;ops"), Some("")] {
            let c = context(team);
            assert_eq!(RouteContext::decode(&c.encode()), Some(c));
        }
    }

    #[test]
    fn encoding_is_compact_and_safe() {
        let encoded = context(Some("t")).encode();
        assert_eq!(encoded, "anthropic;chat;agent%3B1%20%C3%A9%25;t");
    }

    #[test]
    fn refuses_foreign_values() {
        for bad in [
            "",
            "openai",
            "openai;chat",
            "smtp;chat;k",
            "openai;dance;k",
            "openai;chat;k;t;x",
            "openai;chat;%zz",
        ] {
            assert_eq!(RouteContext::decode(bad), None, "{bad}");
        }
    }
}
