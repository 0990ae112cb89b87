//! Who, inside a client, spent the tokens: the agent, its run and the step that made the
//! call, plus free-form metadata that reports group by (the `x-tollgate-*` attribution
//! headers, see [`crate::headers`]).
//!
//! Clients choose these values, so they are bounded: ids are short printable strings and
//! metadata is a flat JSON object of string values (like Portkey's `x-portkey-metadata`)
//! with a cap on keys, key and value length and total size. Anything else is a typed
//! [`AttributionError`], which the gateway answers with a 400 in the client's format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::GatewayError;
use crate::headers;

/// Longest agent, run or parent step id, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest metadata header, in bytes.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Most metadata keys.
pub const MAX_METADATA_KEYS: usize = 32;
/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY_BYTES: usize = 64;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE_BYTES: usize = 512;

/// The attribution of one request. Absent headers (or empty ones) leave their field unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_step_id: Option<String>,
    /// Sorted by key, so equal metadata serialises identically.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// Why an attribution header was refused. Every variant names its header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    #[error("{header} is longer than {MAX_ID_BYTES} bytes")]
    IdTooLong { header: &'static str },
    #[error("{header} may contain printable ASCII characters only")]
    IdNotPrintable { header: &'static str },
    #[error("{} is longer than {MAX_METADATA_BYTES} bytes", headers::METADATA)]
    MetadataTooLarge,
    #[error("{} must be a JSON object of string values", headers::METADATA)]
    MetadataNotObject,
    #[error("{} value of '{key}' must be a string", headers::METADATA)]
    MetadataValueNotString { key: String },
    #[error("{} has more than {MAX_METADATA_KEYS} keys", headers::METADATA)]
    MetadataTooManyKeys,
    #[error(
        "{} keys must be 1 to {MAX_METADATA_KEY_BYTES} bytes long",
        headers::METADATA
    )]
    MetadataKeyLength,
    #[error(
        "{} value of '{key}' is longer than {MAX_METADATA_VALUE_BYTES} bytes",
        headers::METADATA
    )]
    MetadataValueTooLong { key: String },
}

impl AttributionError {
    /// The header at fault.
    pub fn header(&self) -> &'static str {
        match self {
            AttributionError::IdTooLong { header }
            | AttributionError::IdNotPrintable { header } => header,
            _ => headers::METADATA,
        }
    }
}

impl From<AttributionError> for GatewayError {
    fn from(e: AttributionError) -> Self {
        GatewayError::invalid_request(e.to_string()).with_param(e.header())
    }
}

impl Attribution {
    /// Reads and validates the attribution headers; `header` looks one up by its
    /// (lower-case) name.
    pub fn from_headers<'a>(
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Attribution, AttributionError> {
        let id = |name: &'static str| parse_id(name, header(name));
        Ok(Attribution {
            agent_id: id(headers::AGENT_ID)?,
            run_id: id(headers::RUN_ID)?,
            parent_step_id: id(headers::PARENT_STEP_ID)?,
            metadata: parse_metadata(header(headers::METADATA))?,
        })
    }

    /// True when the request carried no attribution at all.
    pub fn is_empty(&self) -> bool {
        *self == Attribution::default()
    }

    /// Compact JSON, for handing the attribution from the gateway filter to the provider
    /// filter; [`Attribution::decode`] reads it back.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for anything [`Attribution::encode`] did not write.
    pub fn decode(value: &str) -> Option<Attribution> {
        serde_json::from_str(value).ok()
    }
}

fn parse_id(header: &'static str, value: Option<&str>) -> Result<Option<String>, AttributionError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_ID_BYTES {
        return Err(AttributionError::IdTooLong { header });
    }
    if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(AttributionError::IdNotPrintable { header });
    }
    Ok(Some(value.to_owned()))
}

fn parse_metadata(value: Option<&str>) -> Result<BTreeMap<String, String>, AttributionError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    if value.len() > MAX_METADATA_BYTES {
        return Err(AttributionError::MetadataTooLarge);
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(value) else {
        return Err(AttributionError::MetadataNotObject);
    };
    if object.len() > MAX_METADATA_KEYS {
        return Err(AttributionError::MetadataTooManyKeys);
    }
    object
        .into_iter()
        .map(|(key, value)| {
            if key.is_empty() || key.len() > MAX_METADATA_KEY_BYTES {
                return Err(AttributionError::MetadataKeyLength);
            }
            let Value::String(value) = value else {
                return Err(AttributionError::MetadataValueNotString { key });
            };
            if value.len() > MAX_METADATA_VALUE_BYTES {
                return Err(AttributionError::MetadataValueTooLong { key });
            }
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
#[path = "attribution_tests.rs"]
mod tests;
