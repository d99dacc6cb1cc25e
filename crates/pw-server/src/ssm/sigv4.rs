//! AWS Signature Version 4, verified as the AWS SDKs compute it: the canonical request built
//! from the client's signed headers, the path exactly as sent, the query, and the payload
//! hash; the scope `DATE/REGION/ssm/aws4_request`; HMAC-SHA256 with the key derived from the
//! secret. Any region is accepted (it becomes the request's region); the time must be within
//! [`MAX_SKEW`] of the server's clock.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// How far the request's `X-Amz-Date` may be from the server's clock.
pub(crate) const MAX_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// The service name of the scope.
pub(crate) const SERVICE: &str = "ssm";

type HmacSha256 = Hmac<Sha256>;

/// Why a request is not authenticated; each is one of AWS's error names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigError {
    /// The header or the date cannot be read.
    Incomplete(String),
    /// The scope, the date or the signature is wrong.
    Invalid(String),
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub(crate) access_key_id: String,
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: String,
}

/// Parses the header. `Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
/// Signature=hex`.
pub(crate) fn parse_authorization(header: &str) -> Result<Authorization, SigError> {
    let incomplete = |what: &str| SigError::Incomplete(format!("Authorization header {what}"));
    let rest = header
        .trim()
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| incomplete("must start with AWS4-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some((key, value)) = part.split_once('=') {
            match key.trim() {
                "Credential" => credential = Some(value.trim()),
                "SignedHeaders" => signed = Some(value.trim()),
                "Signature" => signature = Some(value.trim()),
                _ => {}
            }
        }
    }
    let credential = credential.ok_or_else(|| incomplete("has no Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("has no SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("has no Signature"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(incomplete(
            "Credential must be ACCESS_KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    if *terminator != "aws4_request" {
        return Err(SigError::Invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("Signature must be 64 hex digits"));
    }
    Ok(Authorization {
        access_key_id: (*access_key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// A request as received, for verification.
pub(crate) struct SignedRequest<'a> {
    pub(crate) method: &'a str,
    /// The path exactly as sent (percent-encoded as on the wire).
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    /// Every header (name, value) as received.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Checks the scope and the time of `auth` against the request and `now`; returns the
/// request time.
pub(crate) fn check_scope_and_time(
    auth: &Authorization,
    request: &SignedRequest<'_>,
    now: Timestamp,
) -> Result<(), SigError> {
    if auth.service != SERVICE {
        return Err(SigError::Invalid(format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigError::Invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    for (name, _) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-amz-") && !auth.signed_headers.contains(&lower) {
            return Err(SigError::Invalid(format!(
                "Header '{lower}' is present but not signed."
            )));
        }
    }
    let stamp = request
        .header_values("x-amz-date")
        .first()
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| SigError::Incomplete("the X-Amz-Date header is missing".to_owned()))?;
    let at = parse_amz_date(&stamp).ok_or_else(|| {
        SigError::Incomplete(format!("X-Amz-Date `{stamp}` is not YYYYMMDD'T'HHMMSS'Z'"))
    })?;
    if !stamp.starts_with(&auth.date) || auth.date.len() != 8 {
        return Err(SigError::Invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            auth.date,
            stamp.get(..8).unwrap_or(&stamp)
        )));
    }
    let skew = now.duration_since(at).abs();
    if skew > MAX_SKEW {
        return Err(SigError::Invalid(format!(
            "Signature expired: {stamp} is now earlier than {} ({} - 5 min.)",
            format_amz_date(now.checked_sub(MAX_SKEW).unwrap_or(now)),
            format_amz_date(now)
        )));
    }
    Ok(())
}

/// A signed `X-Amz-Content-Sha256` must be the body's hash: `UNSIGNED-PAYLOAD` and the
/// streaming forms are refused, so no request body goes unauthenticated.
pub(crate) fn check_payload(request: &SignedRequest<'_>) -> Result<(), SigError> {
    let Some(claimed) = request
        .header_values("x-amz-content-sha256")
        .first()
        .map(|v| v.trim().to_owned())
    else {
        return Ok(());
    };
    if claimed != hex(&Sha256::digest(request.body)) {
        return Err(SigError::Invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
                .to_owned(),
        ));
    }
    Ok(())
}

/// `20250101T000000Z` → the instant.
pub(crate) fn parse_amz_date(text: &str) -> Option<Timestamp> {
    if !text.is_ascii() {
        return None;
    }
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    iso.parse().ok()
}

pub(crate) fn format_amz_date(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Percent-encodes every byte but the unreserved ones (and `/` when `keep_slash`).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(s);
            (uri_encode(&decode(k), false), uri_encode(&decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hexpair) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hexpair, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical request of SigV4 for `request` signed with `auth`.
pub(crate) fn canonical_request(auth: &Authorization, request: &SignedRequest<'_>) -> String {
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let mut canonical_headers = String::new();
    let mut names = auth.signed_headers.clone();
    names.sort();
    for name in &names {
        let values: Vec<String> = request
            .header_values(name)
            .iter()
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    // Always the hash of the body received: a signed `X-Amz-Content-Sha256` that does not
    // match it is refused by `check_payload`, so the signature always covers the body.
    let payload = hex(&Sha256::digest(request.body));
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        uri_encode(path, true),
        canonical_query(request.query),
        canonical_headers,
        names.join(";"),
        payload
    )
}

/// The signature `secret` makes for `request` under `auth`'s scope.
pub(crate) fn signature(auth: &Authorization, request: &SignedRequest<'_>, secret: &str) -> String {
    let stamp = request
        .header_values("x-amz-date")
        .first()
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request(auth, request).as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Compares the signature in constant time.
pub(crate) fn signature_matches(auth: &Authorization, expected: &str) -> bool {
    let (a, b) = (auth.signature.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret of an access key: derived from the server's key and the key id, so no secret
/// is stored (docs/ssm-api.md).
pub(crate) fn derive_secret(server_key: &[u8], access_key_id: &str) -> String {
    let mac = hmac(
        server_key,
        format!("patchwarden access key {access_key_id}").as_bytes(),
    );
    // 40 characters like AWS's secrets: base64 without padding of 30 bytes.
    base64_40(&mac[..30])
}

fn base64_40(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(40);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example (IAM ListUsers, GET with a query) from the SigV4 documentation
    /// test suite: the canonical request and signature must match exactly.
    #[test]
    fn aws_documentation_example() {
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        )
        .unwrap();
        let request = SignedRequest {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: vec![
                (
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
                ),
                ("Host".to_owned(), "iam.amazonaws.com".to_owned()),
                ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
            ],
            body: b"",
        };
        let expected = "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
            content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\n\
            x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n\
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(canonical_request(&auth, &request), expected);
        let sig = signature(&auth, &request, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(sig, auth.signature);
        assert!(signature_matches(&auth, &sig));
    }

    #[test]
    fn scope_and_time_are_checked() {
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20250101/eu-west-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        )
        .unwrap();
        let request = SignedRequest {
            method: "POST",
            path: "/ssm",
            query: "",
            headers: vec![
                ("host".to_owned(), "127.0.0.1:8440".to_owned()),
                ("x-amz-date".to_owned(), "20250101T120000Z".to_owned()),
            ],
            body: b"{}",
        };
        let now: Timestamp = "2025-01-01T12:04:00Z".parse().unwrap();
        assert_eq!(check_scope_and_time(&auth, &request, now), Ok(()));
        let late: Timestamp = "2025-01-01T12:06:00Z".parse().unwrap();
        assert!(matches!(
            check_scope_and_time(&auth, &request, late),
            Err(SigError::Invalid(m)) if m.starts_with("Signature expired")
        ));
        let mut wrong = auth.clone();
        wrong.service = "ec2".to_owned();
        assert!(matches!(
            check_scope_and_time(&wrong, &request, now),
            Err(SigError::Invalid(m)) if m.contains("correct service")
        ));
        assert!(matches!(
            parse_authorization("Bearer x"),
            Err(SigError::Incomplete(_))
        ));
        assert_eq!(derive_secret(b"k", "AKPW1").len(), 40);
    }
}
