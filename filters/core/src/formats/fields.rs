//! Reading client JSON with errors that name the offending field.
//!
//! Client requests are walked as `serde_json::Value` rather than deserialised into structs:
//! serde's own messages quote the offending value, and request content must never be echoed
//! back in errors or logs. These helpers report the field path and the expected type only.
//! JSON `null` counts as absent, because OpenAI clients send explicit nulls freely.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::GatewayError;

/// A client request that cannot be decoded or cannot be expressed for the target provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("the request body is not valid JSON")]
    InvalidJson,
    #[error("the request body must be a JSON object")]
    NotAnObject,
    #[error("'{path}' is required")]
    Missing { path: String },
    #[error("'{path}' must be {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("'{path}' {reason}")]
    Unsupported { path: String, reason: &'static str },
}

impl FieldError {
    pub fn unsupported(path: impl Into<String>, reason: &'static str) -> FieldError {
        FieldError::Unsupported {
            path: path.into(),
            reason,
        }
    }

    fn path(&self) -> Option<&str> {
        match self {
            FieldError::Missing { path }
            | FieldError::WrongType { path, .. }
            | FieldError::Unsupported { path, .. } => Some(path),
            FieldError::InvalidJson | FieldError::NotAnObject => None,
        }
    }
}

impl From<FieldError> for GatewayError {
    fn from(err: FieldError) -> GatewayError {
        let param = err.path().map(str::to_owned);
        let gateway = GatewayError::invalid_request(err.to_string());
        match param {
            Some(param) => gateway.with_param(param),
            None => gateway,
        }
    }
}

/// Parses a request body that must be a JSON object.
pub fn parse_object(body: &[u8]) -> Result<Value, FieldError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| FieldError::InvalidJson)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(FieldError::NotAnObject)
    }
}

/// Path of the `index`th element of the array at `path`.
pub fn item_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// A JSON object being read, with the path that leads to it.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// Reads `value` (found at `path`; empty for the body itself) as an object.
    pub fn new(value: &'a Value, path: impl Into<String>) -> Result<Fields<'a>, FieldError> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            _ if path.is_empty() => Err(FieldError::NotAnObject),
            _ => Err(wrong_type(&path, "an object")),
        }
    }

    /// Reads the object-valued field `key`, if present.
    pub fn object(&self, key: &str) -> Result<Option<Fields<'a>>, FieldError> {
        self.get(key)
            .map(|value| Fields::new(value, self.path(key)))
            .transpose()
    }

    /// Iterates an array field's elements, each with its path.
    pub fn items(
        &self,
        key: &str,
    ) -> Result<impl Iterator<Item = (String, &'a Value)>, FieldError> {
        let path = self.path(key);
        let items = self.array(key)?.map(|v| v.as_slice()).unwrap_or_default();
        Ok(items
            .iter()
            .enumerate()
            .map(move |(i, v)| (item_path(&path, i), v)))
    }

    /// An array field's elements, each an object read by `decode`; empty when absent.
    pub fn objects<T>(
        &self,
        key: &str,
        mut decode: impl FnMut(&Fields<'a>) -> Result<T, FieldError>,
    ) -> Result<Vec<T>, FieldError> {
        self.items(key)?
            .map(|(path, value)| decode(&Fields::new(value, path)?))
            .collect()
    }

    /// [`Fields::objects`] of an array the request must have.
    pub fn required_objects<T>(
        &self,
        key: &str,
        decode: impl FnMut(&Fields<'a>) -> Result<T, FieldError>,
    ) -> Result<Vec<T>, FieldError> {
        if !self.has(key) {
            return Err(self.missing(key));
        }
        self.objects(key, decode)
    }

    /// An array field of strings (stop sequences); empty when absent.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, FieldError> {
        self.items(key)?
            .map(|(path, value)| {
                let text = value
                    .as_str()
                    .ok_or_else(|| wrong_type(&path, "a string"))?;
                Ok(text.to_owned())
            })
            .collect()
    }

    /// Path of a field of this object.
    pub fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw value of a field; `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, FieldError> {
        self.typed(key, "a string", Value::as_str)
    }

    pub fn required_str(&self, key: &str) -> Result<&'a str, FieldError> {
        self.str(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn u64(&self, key: &str) -> Result<Option<u64>, FieldError> {
        self.typed(key, "a non-negative integer", Value::as_u64)
    }

    pub fn i64(&self, key: &str) -> Result<Option<i64>, FieldError> {
        self.typed(key, "an integer", Value::as_i64)
    }

    pub fn f64(&self, key: &str) -> Result<Option<f64>, FieldError> {
        self.typed(key, "a number", Value::as_f64)
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, FieldError> {
        self.typed(key, "a boolean", Value::as_bool)
    }

    pub fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, FieldError> {
        self.typed(key, "an array", Value::as_array)
    }

    pub fn required_array(&self, key: &str) -> Result<&'a Vec<Value>, FieldError> {
        self.array(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn missing(&self, key: &str) -> FieldError {
        FieldError::Missing {
            path: self.path(key),
        }
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => read(value)
                .map(Some)
                .ok_or_else(|| wrong_type(&self.path(key), expected)),
        }
    }
}

pub fn wrong_type(path: &str, expected: &'static str) -> FieldError {
    FieldError::WrongType {
        path: path.to_owned(),
        expected,
    }
}

/// Reads a string field that may also be an array of strings (OpenAI `stop`).
pub fn string_or_strings(fields: &Fields, key: &str) -> Result<Vec<String>, FieldError> {
    match fields.get(key) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong_type(&fields.path(key), "a string or an array of strings")),
        Some(_) => Err(wrong_type(
            &fields.path(key),
            "a string or an array of strings",
        )),
    }
}

/// Tool arguments as an `input` object (Anthropic, Bedrock): empty text is `{}`; text that
/// is not a JSON object is passed on as a string rather than replaced by an invented object.
pub fn arguments_to_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => Value::String(arguments.to_owned()),
    }
}

/// Deserialises a provider token count leniently: integers, integral floats and `null` are
/// accepted, anything else counts as unknown rather than failing the whole event.
pub fn lenient_count<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<Value>::deserialize(de)?;
    Ok(value.and_then(|v| {
        v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_path_but_not_the_value() {
        let body = json!({"messages": [{"content": "secret text"}]});
        let root = Fields::new(&body, "").unwrap();
        let (path, first) = root.items("messages").unwrap().next().unwrap();
        let message = Fields::new(first, path).unwrap();
        let err = message.u64("content").unwrap_err();
        assert_eq!(
            err.to_string(),
            "'messages[0].content' must be a non-negative integer"
        );
        let gateway: GatewayError = err.into();
        assert_eq!(gateway.param.as_deref(), Some("messages[0].content"));
        assert!(!gateway.message.contains("secret"));
        assert_eq!(
            message.required_str("role").unwrap_err().to_string(),
            "'messages[0].role' is required"
        );
    }

    #[test]
    fn null_is_absent() {
        let body = json!({"temperature": null});
        let root = Fields::new(&body, "").unwrap();
        assert_eq!(root.f64("temperature").unwrap(), None);
    }

    #[test]
    fn stop_accepts_string_or_array() {
        let body = json!({"a": "x", "b": ["y", "z"], "c": [1]});
        let root = Fields::new(&body, "").unwrap();
        assert_eq!(string_or_strings(&root, "a").unwrap(), vec!["x"]);
        assert_eq!(string_or_strings(&root, "b").unwrap(), vec!["y", "z"]);
        assert!(string_or_strings(&root, "c").is_err());
    }

    #[test]
    fn body_must_be_an_object() {
        assert_eq!(parse_object(b"[1]"), Err(FieldError::NotAnObject));
        assert_eq!(parse_object(b"{"), Err(FieldError::InvalidJson));
    }

    #[test]
    fn lenient_counts() {
        #[derive(Deserialize)]
        struct C {
            #[serde(default, deserialize_with = "lenient_count")]
            n: Option<u64>,
        }
        let read = |s: &str| serde_json::from_str::<C>(s).unwrap().n;
        assert_eq!(read(r#"{"n":5}"#), Some(5));
        assert_eq!(read(r#"{"n":5.0}"#), Some(5));
        assert_eq!(read(r#"{"n":-1}"#), None);
        assert_eq!(read(r#"{"n":"5"}"#), None);
        assert_eq!(read(r#"{"n":null}"#), None);
        assert_eq!(read(r#"{}"#), None);
    }
}
