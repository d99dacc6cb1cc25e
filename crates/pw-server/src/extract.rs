//! Request extractors whose failures are API errors naming the field: JSON bodies
//! (through `serde_path_to_error`) and query parameters.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// A JSON body. A syntax or type error is a `bad_request` naming the field path.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

/// Parses JSON text into `T`, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    // JSON Schema counts `1.0` as an integer, and so does the OpenAPI document; serde does
    // not. Only a body that failed is read again, with integral numbers made integers.
    let result = serde_path_to_error::deserialize::<_, T>(&mut deserializer)
        .or_else(|error| with_integers(bytes).ok_or(error));
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path.is_empty() || path == "." {
                Err(ApiError::bad_request(format!("invalid JSON body: {inner}")))
            } else {
                Err(ApiError::field(path, inner))
            }
        }
    }
}

/// `bytes` as `T` once every integral float is an integer; `None` when that changes nothing
/// or does not help.
fn with_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut value = serde_json::from_slice::<serde_json::Value>(bytes).ok()?;
    if !integral_floats_to_integers(&mut value) {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// Turns every number with no fractional part written as a float (`1.0`) into an integer;
/// answers whether it changed any.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            #[expect(
                clippy::cast_possible_truncation,
                reason = "checked: integral and within i64"
            )]
            let integer = float as i64;
            if float.fract() == 0.0 && float.abs() < 9.0e18 {
                *value = serde_json::Value::from(integer);
                true
            } else {
                false
            }
        }
        // `|`, not `||`: every item is visited.
        serde_json::Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            integral_floats_to_integers(item) | changed
        }),
        serde_json::Value::Object(map) => map.values_mut().fold(false, |changed, item| {
            integral_floats_to_integers(item) | changed
        }),
        _ => false,
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status().as_u16() == 413 {
                    ApiError::new(
                        pw_api::server::error::ErrorCode::PayloadTooLarge,
                        rejection.body_text(),
                    )
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        // Every body of this API is an object; serde would also read a struct from an array
        // (`[null, null]`), which no client means.
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid JSON body: expected an object (`{...}`)",
                ));
            }
            None => return Err(ApiError::bad_request("empty body: expected a JSON object")),
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// The request body as text (baselines: TOML or JSON).
#[derive(Debug)]
pub(crate) struct TextBody(pub(crate) String);

impl FromRequest<AppState> for TextBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status().as_u16() == 413 {
                    ApiError::new(
                        pw_api::server::error::ErrorCode::PayloadTooLarge,
                        rejection.body_text(),
                    )
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        String::from_utf8(bytes.to_vec())
            .map(TextBody)
            .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))
    }
}

/// Query parameters in order, repeated keys kept.
#[derive(Debug, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

/// The query parameters of each operation of the OpenAPI document, by method and path
/// template. The document declares an operation's parameters, and a parameter it does not
/// declare is refused: a handler cannot read one the document lacks.
static QUERY_NAMES: LazyLock<HashMap<String, HashMap<String, Vec<String>>>> = LazyLock::new(|| {
    let mut names = HashMap::new();
    let document: serde_json::Value =
        serde_json::from_str(crate::meta::OPENAPI).unwrap_or_default();
    let Some(paths) = document.get("paths").and_then(serde_json::Value::as_object) else {
        return names;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            let declared = operation
                .get("parameters")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| p.get("in").and_then(serde_json::Value::as_str) == Some("query"))
                .filter_map(|p| p.get("name").and_then(serde_json::Value::as_str))
                .map(ToOwned::to_owned)
                .collect();
            names
                .entry(path.clone())
                .or_insert_with(HashMap::new)
                .insert(method.to_ascii_uppercase(), declared);
        }
    }
    names
});

/// Refuses a query parameter the operation's entry in the OpenAPI document does not declare
/// (a typo such as `patchgroup=` would otherwise be ignored, and the answer look right).
fn check_declared(parts: &Parts, pairs: &[(String, String)]) -> Result<(), ApiError> {
    if pairs.is_empty() {
        return Ok(());
    }
    let Some(matched) = parts.extensions.get::<MatchedPath>() else {
        return Ok(());
    };
    let Some(declared) = QUERY_NAMES
        .get(matched.as_str())
        .and_then(|methods| methods.get(parts.method.as_str()))
    else {
        return Ok(());
    };
    match pairs.iter().find(|(name, _)| !declared.contains(name)) {
        None => Ok(()),
        Some((name, _)) if declared.is_empty() => Err(ApiError::field(
            name.clone(),
            "is not a parameter: this operation takes none",
        )),
        Some((name, _)) => Err(ApiError::field(
            name.clone(),
            format!(
                "is not a parameter of this operation (it takes {})",
                declared.join(", ")
            ),
        )),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs = serde_urlencoded_pairs(query)?;
        check_declared(parts, &pairs)?;
        Ok(Params(pairs))
    }
}

pub(crate) fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode(key)?, decode(value)?));
    }
    Ok(pairs)
}

fn decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("query: bad percent-encoding in `{text}`"))
                    })?;
                out.push(hex);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::bad_request(format!("query: `{text}` is not UTF-8")))
}

/// `text` as an integer written the way the OpenAPI document's `integer` reads: an optional
/// `-` and ASCII digits, nothing else (`+5`, ` 5` and `5.0` are not integers).
pub(crate) fn strict_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Params {
    /// The last value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, comma-separated values split.
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(ToOwned::to_owned)
            })
            .collect()
    }

    /// An integer parameter within `range`, or `default`.
    pub(crate) fn int(
        &self,
        key: &str,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => match strict_integer(text) {
                Some(value) if range.contains(&value) => Ok(value),
                _ => Err(ApiError::field(
                    key,
                    format!(
                        "`{text}` is not an integer in {}..={}",
                        range.start(),
                        range.end()
                    ),
                )),
            },
        }
    }

    /// A `true`/`false` parameter; false when absent.
    pub(crate) fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::field(
                key,
                format!("`{other}` is not true or false"),
            )),
        }
    }

    /// A timestamp parameter (RFC 3339).
    pub(crate) fn timestamp(&self, key: &str) -> Result<Option<jiff::Timestamp>, ApiError> {
        self.get(key)
            .map(|text| {
                text.parse::<jiff::Timestamp>().map_err(|_| {
                    ApiError::field(key, format!("`{text}` is not an RFC 3339 timestamp"))
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::serde_urlencoded_pairs;

    #[test]
    fn decodes_repeated_and_escaped_pairs() {
        let pairs = serde_urlencoded_pairs(
            "filter=missing%3AGreaterThan%3A0&filter=failed:Equal:0&tag=Patch+Group%3Dweb",
        )
        .unwrap();
        assert_eq!(
            pairs,
            [
                ("filter".to_owned(), "missing:GreaterThan:0".to_owned()),
                ("filter".to_owned(), "failed:Equal:0".to_owned()),
                ("tag".to_owned(), "Patch Group=web".to_owned()),
            ]
        );
        assert!(serde_urlencoded_pairs("a=%zz").is_err());
    }
}
