//! The SSM-compatible face (docs/ssm-api.md): the Patch Manager part of the AWS Systems
//! Manager API in the awsJson1.1 protocol, so `aws ssm --endpoint-url .../ssm`, boto3 and the
//! Terraform AWS provider talk to Patchwarden unchanged.
//!
//! `POST /ssm` (or `/ssm/`) with `X-Amz-Target: AmazonSSM.<Operation>`, a JSON body (empty
//! means `{}`), signed with SigV4 by an access key of `patchwarden server access-key create`.
//! This module translates wire formats, identifiers and errors only: every rule and every
//! write is the service layer's (`crate::service`), shared with the native API.

mod baselines;
mod compliance;
mod nodes;
pub(crate) mod sigv4;
mod windows;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pw_api::server::error::ErrorCode;
use pw_api::server::tokens::Role;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use sigv4::{SigError, SignedRequest};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ssm", post(handle))
        .route("/ssm/", post(handle))
}

/// An SSM error: AWS's error name (the `__type`) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SsmError {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl SsmError {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> SsmError {
        SsmError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn validation(message: impl Into<String>) -> SsmError {
        SsmError::new("ValidationException", message)
    }

    pub(crate) fn does_not_exist(message: impl Into<String>) -> SsmError {
        SsmError::new("DoesNotExistException", message)
    }
}

/// How an error of the service layer reads to an SSM client.
impl From<ApiError> for SsmError {
    fn from(error: ApiError) -> SsmError {
        let kind = match (error.code, error.conflict, error.missing) {
            (_, _, true) | (ErrorCode::NotFound, _, _) => "DoesNotExistException",
            (ErrorCode::Conflict, Some(pw_store::ConflictKind::AlreadyExists), _) => {
                "AlreadyExistsException"
            }
            (ErrorCode::Conflict, _, _) => "ResourceInUseException",
            (ErrorCode::BadRequest | ErrorCode::PayloadTooLarge, _, _) => "ValidationException",
            (ErrorCode::Forbidden, _, _) => "AccessDeniedException",
            (ErrorCode::Unauthenticated, _, _) => "UnrecognizedClientException",
            (ErrorCode::TooManyRequests, _, _) => "ThrottlingException",
            _ => {
                if let Some(detail) = &error.detail {
                    tracing::error!(error = %detail, "ssm operation failed");
                }
                return SsmError::new("InternalServerError", error.message);
            }
        };
        SsmError::new(kind, error.message)
    }
}

impl From<pw_store::StoreError> for SsmError {
    fn from(error: pw_store::StoreError) -> SsmError {
        SsmError::from(ApiError::from(error))
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) access_key_id: String,
    pub(crate) role: Role,
    /// The region of the request's SigV4 scope (used in ARNs).
    pub(crate) region: String,
}

impl Principal {
    pub(crate) fn actor(&self) -> String {
        format!("access-key:{}", self.access_key_id)
    }
}

fn respond(status: StatusCode, request_id: &str, body: &Value, error: Option<&str>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    if let Some(kind) = error
        && let Ok(value) = HeaderValue::from_str(kind)
    {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

fn error_response(request_id: &str, error: &SsmError) -> Response {
    let status = if error.kind == "InternalServerError" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = serde_json::json!({"__type": error.kind, "Message": error.message});
    respond(status, request_id, &body, Some(error.kind))
}

/// The role an operation needs: reads need read-only, deletes of baselines and windows
/// admin (as in the native API), everything else operator.
fn required_role(operation: &str) -> Role {
    if operation.starts_with("Get")
        || operation.starts_with("Describe")
        || operation.starts_with("List")
    {
        Role::ReadOnly
    } else if operation == "DeletePatchBaseline" || operation == "DeleteMaintenanceWindow" {
        Role::Admin
    } else {
        Role::Operator
    }
}

async fn authenticate(
    state: &AppState,
    client: Option<crate::guard::ClientAddr>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Principal, SsmError> {
    let Some(header) = headers.get(header::AUTHORIZATION) else {
        return Err(SsmError::new(
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
        ));
    };
    let header = header.to_str().map_err(|_| {
        SsmError::new(
            "IncompleteSignatureException",
            "the Authorization header is not text",
        )
    })?;
    let auth = sigv4::parse_authorization(header).map_err(sig_error)?;
    let request = SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    sigv4::check_scope_and_time(&auth, &request, state.now()).map_err(sig_error)?;
    sigv4::check_payload(&request).map_err(sig_error)?;
    let unrecognized = || {
        SsmError::new(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    };
    let Some(server_key) = state.settings().access_key_secret.as_deref() else {
        return Err(unrecognized());
    };
    state.auth_allowed(client)?;
    let Some(key) = state
        .store()
        .access_key(&auth.access_key_id)
        .await?
        .filter(|key| key.revoked_at.is_none())
    else {
        state.auth_failed(client);
        return Err(unrecognized());
    };
    let secret = sigv4::derive_secret(server_key, &key.id);
    let expected = sigv4::signature(&auth, &request, &secret);
    if !sigv4::signature_matches(&auth, &expected) {
        state.auth_failed(client);
        return Err(SsmError::new(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.",
        ));
    }
    let role = Role::parse(&key.role).ok_or_else(|| {
        SsmError::new(
            "InternalServerError",
            format!("access key `{}` has an unknown role", key.id),
        )
    })?;
    Ok(Principal {
        access_key_id: key.id,
        role,
        region: auth.region,
    })
}

fn sig_error(error: SigError) -> SsmError {
    match error {
        SigError::Incomplete(message) => SsmError::new("IncompleteSignatureException", message),
        SigError::Invalid(message) => SsmError::new("InvalidSignatureException", message),
    }
}

/// `POST /ssm`: one SSM operation.
async fn handle(
    State(state): State<AppState>,
    axum::Extension(crate::RequestId(request_id)): axum::Extension<crate::RequestId>,
    crate::guard::Client(client): crate::guard::Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error_response(
                &request_id,
                &SsmError::validation(format!("the request body cannot be read: {rejection}")),
            );
        }
    };
    match handle_inner(&state, client, &method, &uri, &headers, &body).await {
        Ok(value) => respond(StatusCode::OK, &request_id, &value, None),
        Err(error) => error_response(&request_id, &error),
    }
}

async fn handle_inner(
    state: &AppState,
    client: Option<crate::guard::ClientAddr>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, SsmError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(operation) = target.strip_prefix("AmazonSSM.") else {
        return Err(SsmError::new(
            "UnknownOperationException",
            format!("`{target}` is not an AmazonSSM operation"),
        ));
    };
    if ![
        baselines::OPERATIONS,
        windows::OPERATIONS,
        nodes::OPERATIONS,
        compliance::OPERATIONS,
    ]
    .iter()
    .any(|ops| ops.contains(&operation))
    {
        return Err(SsmError::new(
            "UnknownOperationException",
            format!(
                "{operation} is not supported by Patchwarden (docs/ssm-api.md lists the operations)"
            ),
        ));
    }
    let principal = authenticate(state, client, method, uri, headers, body).await?;
    if principal.role < required_role(operation) {
        return Err(SsmError::new(
            "AccessDeniedException",
            format!(
                "access key {} (role {}) may not call {operation}",
                principal.access_key_id,
                principal.role.as_str()
            ),
        ));
    }
    let input: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(SsmError::new(
                    "SerializationException",
                    "the body must be a JSON object",
                ));
            }
            Err(error) => {
                return Err(SsmError::new(
                    "SerializationException",
                    format!("the body is not JSON: {error}"),
                ));
            }
        }
    };
    let input = Input(input);
    if windows::OPERATIONS.contains(&operation) {
        windows::dispatch(state, &principal, operation, &input).await
    } else if compliance::OPERATIONS.contains(&operation) {
        compliance::dispatch(state, operation, &input).await
    } else if nodes::OPERATIONS.contains(&operation) {
        nodes::dispatch(state, &principal, operation, &input).await
    } else {
        baselines::dispatch(state, &principal, operation, &input).await
    }
}

/// An operation's input members.
pub(crate) struct Input(Map<String, Value>);

impl Input {
    pub(crate) fn get(&self, member: &str) -> Option<&Value> {
        self.0.get(member).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, member: &str) -> bool {
        self.get(member).is_some()
    }

    /// A string member, checked against a length range.
    pub(crate) fn string(
        &self,
        member: &str,
        required: bool,
        len: std::ops::RangeInclusive<usize>,
    ) -> Result<Option<String>, SsmError> {
        let Some(value) = self.get(member) else {
            if required {
                return Err(SsmError::validation(format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    camel(member)
                )));
            }
            return Ok(None);
        };
        let Some(text) = value.as_str() else {
            return Err(SsmError::new(
                "SerializationException",
                format!("{member} must be a string"),
            ));
        };
        let n = text.chars().count();
        if !len.contains(&n) {
            return Err(SsmError::validation(format!(
                "1 validation error detected: Value '{text}' at '{}' failed to satisfy constraint: Member must have length between {} and {}",
                camel(member),
                len.start(),
                len.end()
            )));
        }
        Ok(Some(text.to_owned()))
    }

    pub(crate) fn required(
        &self,
        member: &str,
        len: std::ops::RangeInclusive<usize>,
    ) -> Result<String, SsmError> {
        Ok(self.string(member, true, len)?.unwrap_or_default())
    }

    /// `MaxResults` within `range`, else `default`.
    pub(crate) fn max_results(
        &self,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<usize, SsmError> {
        match self.get("MaxResults") {
            None => Ok(usize::try_from(default).unwrap_or(usize::MAX)),
            Some(value) => {
                let n = value.as_u64().filter(|n| range.contains(n)).ok_or_else(|| {
                    SsmError::validation(format!(
                        "1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy constraint: Member must have value between {} and {}",
                        range.start(),
                        range.end()
                    ))
                })?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }
}

/// `BaselineId` → `baselineId`, as AWS names members in validation messages.
pub(crate) fn camel(member: &str) -> String {
    let mut chars = member.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// The output of a list operation: a page of `items` under `member` after the opaque
/// `NextToken` (an offset), with the next token when more follow.
pub(crate) fn paged(
    items: &[Value],
    input: &Input,
    max: usize,
    member: &str,
) -> Result<Value, SsmError> {
    let start = match input.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => token
            .strip_prefix("pw1-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| SsmError::new("InvalidNextToken", "The NextToken is not valid."))?,
    };
    let end = (start + max).min(items.len());
    let mut out = serde_json::json!({ member: items[start..end].to_vec() });
    if end < items.len() {
        out["NextToken"] = serde_json::json!(format!("pw1-{end}"));
    }
    Ok(out)
}

/// The (key, values) pairs of a filter list member: `[{"Key": .., "Values": [..]}]`, or the
/// member names given (the older instance filters say `key`/`valueSet`).
pub(crate) fn key_values(
    list: Option<&Value>,
    key: &str,
    values: &str,
) -> Vec<(String, Vec<String>)> {
    list.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|f| {
                    (
                        f.get(key).and_then(Value::as_str).unwrap_or("").to_owned(),
                        strings(f.get(values)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The strings of a JSON list member (empty when absent).
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(ToOwned::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Epoch seconds as a JSON number (SSM's `DateTime`).
pub(crate) fn epoch(at: jiff::Timestamp) -> Value {
    let millis = at.as_millisecond();
    serde_json::Number::from_f64(millis as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

/// `ClientToken` of a create: the earlier result when the same token came with the same
/// request; `IdempotentParameterMismatch` when it came with another.
pub(crate) async fn earlier_result(
    state: &AppState,
    operation: &str,
    input: &Input,
) -> Result<Option<String>, SsmError> {
    let Some(token) = input.string("ClientToken", false, 1..=64)? else {
        return Ok(None);
    };
    let hash = request_hash(input);
    match state.store().client_token(operation, &token).await? {
        None => Ok(None),
        Some((recorded, result)) if recorded == hash => Ok(Some(result)),
        Some(_) => Err(SsmError::new(
            "IdempotentParameterMismatch",
            format!("ClientToken {token} was used with different parameters"),
        )),
    }
}

/// Records the result of a create made with a `ClientToken`.
pub(crate) async fn record_result(
    state: &AppState,
    operation: &str,
    input: &Input,
    result: &str,
) -> Result<(), SsmError> {
    let Some(token) = input.string("ClientToken", false, 1..=64)? else {
        return Ok(());
    };
    state
        .store()
        .record_client_token(operation, &token, &request_hash(input), result, state.now())
        .await
        .map_err(SsmError::from)
}

fn request_hash(input: &Input) -> String {
    use sha2::Digest as _;
    let mut members = input.0.clone();
    members.remove("ClientToken");
    let digest = sha2::Sha256::digest(Value::Object(members).to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The members the face keeps for a resource and answers back without using them
/// (`resource_members`): an empty map when none are kept.
pub(crate) async fn kept_members(
    state: &AppState,
    resource_type: &str,
    resource_id: &str,
) -> Result<Map<String, Value>, SsmError> {
    match state
        .store()
        .resource_members(resource_type, resource_id)
        .await?
    {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(SsmError::new(
                "InternalServerError",
                format!("the kept members of {resource_type} {resource_id} are not a JSON object"),
            )),
        },
    }
}

/// Replaces the kept members of a resource (none kept when `members` is empty).
pub(crate) async fn keep_members(
    state: &AppState,
    resource_type: &str,
    resource_id: &str,
    members: &Map<String, Value>,
) -> Result<(), SsmError> {
    let json = (!members.is_empty()).then(|| Value::Object(members.clone()).to_string());
    state
        .store()
        .set_resource_members(resource_type, resource_id, json.as_deref())
        .await?;
    Ok(())
}

/// `members` of the input laid over `old`: a member given replaces, a member given as `null`
/// removes; with `replace`, the members not given are removed too.
pub(crate) fn lay_over(
    old: Map<String, Value>,
    input: &Input,
    members: &[&str],
    replace: bool,
) -> Map<String, Value> {
    let mut out = if replace { Map::new() } else { old };
    for member in members {
        match input.0.get(*member) {
            Some(Value::Null) => {
                out.remove(*member);
            }
            Some(value) => {
                out.insert((*member).to_owned(), value.clone());
            }
            None => {}
        }
    }
    out
}

/// Checks a string at `path` of a kept member against the model's length range.
pub(crate) fn check_string(
    value: Option<&Value>,
    path: &str,
    required: bool,
    len: std::ops::RangeInclusive<usize>,
) -> Result<(), SsmError> {
    match value {
        None | Some(Value::Null) if required => Err(SsmError::validation(format!(
            "1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ))),
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(text)) if len.contains(&text.chars().count()) => Ok(()),
        Some(Value::String(text)) => Err(SsmError::validation(format!(
            "1 validation error detected: Value '{text}' at '{path}' failed to satisfy constraint: Member must have length between {} and {}",
            len.start(),
            len.end()
        ))),
        Some(_) => Err(SsmError::new(
            "SerializationException",
            format!("{path} must be a string"),
        )),
    }
}

/// Checks that a member at `path` is one of `allowed`.
pub(crate) fn check_enum(
    value: Option<&Value>,
    path: &str,
    allowed: &[&str],
) -> Result<(), SsmError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(text)) if allowed.contains(&text.as_str()) => Ok(()),
        Some(other) => Err(SsmError::validation(format!(
            "1 validation error detected: Value {other} at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ))),
    }
}

/// A boolean member: `SerializationException` when it is not one.
pub(crate) fn check_bool(value: Option<&Value>, path: &str) -> Result<Option<bool>, SsmError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(SsmError::new(
            "SerializationException",
            format!("{path} must be a boolean"),
        )),
    }
}
