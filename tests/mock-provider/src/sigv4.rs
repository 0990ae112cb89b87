//! AWS Signature Version 4 verification, as Bedrock does it: the mock recomputes the
//! signature of what it received (method, path, query, the signed headers, the body) with
//! the credentials it was given and compares. Signing happens in Envoy (its
//! `aws_request_signing` filter), so this is what proves Envoy signed the body the gateway
//! translated, not the client's.
//!
//! Canonical request rules (AWS "Create a canonical request for Signature Version 4"): the
//! path is URI-encoded once more, segment by segment (every service but S3), so an id sent
//! as `%3A` is signed as `%253A`; the query is sorted by key then value; header values are
//! trimmed with inner whitespace runs collapsed; the payload hash is SHA-256 of the body.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Long-term credentials the mock verifies against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The parts of a request that are signed.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// As received, percent-encoding included.
    pub path: &'a str,
    pub query: &'a str,
    /// Lower-case names; repeated headers appear repeatedly.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Why a signature is not accepted, worded as AWS words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization` header (AWS: MissingAuthenticationTokenException).
    Missing,
    /// The header is not a SigV4 authorization (IncompleteSignatureException).
    Malformed(String),
    /// Another access key (UnrecognizedClientException).
    UnknownKey,
    /// The body does not hash to `x-amz-content-sha256` (400 in AWS).
    ContentHashMismatch,
    /// The signature differs (InvalidSignatureException).
    Mismatch,
}

/// Checks the request's SigV4 `Authorization` header against `credentials`.
pub fn verify(request: &SignedRequest, credentials: &Credentials) -> Result<(), Rejection> {
    let authorization = header(request.headers, "authorization").ok_or(Rejection::Missing)?;
    let auth = Authorization::parse(authorization)?;
    if auth.access_key_id != credentials.access_key_id {
        return Err(Rejection::UnknownKey);
    }
    let body_hash = hex(&Sha256::digest(request.body));
    if let Some(sent) = header(request.headers, "x-amz-content-sha256") {
        if sent != body_hash && sent != "UNSIGNED-PAYLOAD" {
            return Err(Rejection::ContentHashMismatch);
        }
    }
    let date = header(request.headers, "x-amz-date")
        .ok_or_else(|| Rejection::Malformed("x-amz-date header is required".into()))?;
    let canonical = canonical_request(request, &auth.signed_headers, &body_hash);
    let expected = signature(
        &credentials.secret_access_key,
        &auth.scope,
        date,
        &canonical,
    );
    if expected == auth.signature {
        Ok(())
    } else {
        Err(Rejection::Mismatch)
    }
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization {
    access_key_id: String,
    /// `date/region/service/aws4_request`.
    scope: String,
    signed_headers: Vec<String>,
    signature: String,
}

impl Authorization {
    fn parse(header: &str) -> Result<Authorization, Rejection> {
        let malformed = |what: &str| Rejection::Malformed(format!("Authorization header {what}"));
        let rest = header
            .strip_prefix(ALGORITHM)
            .ok_or_else(|| malformed("requires the AWS4-HMAC-SHA256 algorithm"))?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in rest.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v),
                Some(("SignedHeaders", v)) => signed_headers = Some(v),
                Some(("Signature", v)) => signature = Some(v),
                _ => return Err(malformed("has an unknown part")),
            }
        }
        let credential = credential.ok_or_else(|| malformed("requires a Credential"))?;
        let (access_key_id, scope) = credential
            .split_once('/')
            .ok_or_else(|| malformed("has a malformed Credential"))?;
        Ok(Authorization {
            access_key_id: access_key_id.to_owned(),
            scope: scope.to_owned(),
            signed_headers: signed_headers
                .ok_or_else(|| malformed("requires SignedHeaders"))?
                .split(';')
                .map(str::to_owned)
                .collect(),
            signature: signature
                .ok_or_else(|| malformed("requires a Signature"))?
                .to_owned(),
        })
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn canonical_request(request: &SignedRequest, signed: &[String], body_hash: &str) -> String {
    let path = request
        .path
        .split('/')
        .map(uri_encode)
        .collect::<Vec<_>>()
        .join("/");
    let mut query: Vec<(String, String)> = request
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let headers: String = signed
        .iter()
        .map(|name| {
            let values: Vec<String> = request
                .headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    format!(
        "{}\n{path}\n{}\n{headers}\n{}\n{body_hash}",
        request.method,
        query.join("&"),
        signed.join(";")
    )
}

/// RFC 3986 encoding of everything but unreserved characters.
fn uri_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex_pair) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn signing_key(secret: &str, scope: &str) -> Vec<u8> {
    scope
        .split('/')
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| {
            hmac(&key, part)
        })
}

fn signature(secret: &str, scope: &str, date: &str, canonical_request: &str) -> String {
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    hex(&hmac(&signing_key(secret, scope), &string_to_sign))
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's Signature Version 4 test suite (`aws-sig-v4-test-suite`, cases
    //! get-vanilla, get-vanilla-query-order-key-case, post-vanilla, post-x-www-form-urlencoded:
    //! credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z,
    //! us-east-1, service "service"), and the derived signing key of the IAM example in AWS's
    //! documentation "Create a signed AWS API request" (20150830/us-east-1/iam).
    use super::*;

    const DATE: &str = "20150830T123600Z";
    const SCOPE: &str = "20150830/us-east-1/service/aws4_request";

    fn suite() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    fn headers(extra: &[(&str, &str)], signed: &str, signature: &str) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = extra
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        headers.push(("host".into(), "example.amazonaws.com".into()));
        headers.push(("x-amz-date".into(), DATE.into()));
        headers.push((
            "authorization".into(),
            format!("{ALGORITHM} Credential=AKIDEXAMPLE/{SCOPE}, SignedHeaders={signed}, Signature={signature}"),
        ));
        headers
    }

    fn check(
        method: &str,
        query: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        signed: &str,
        sig: &str,
    ) {
        let headers = headers(extra, signed, sig);
        let request = SignedRequest {
            method,
            path: "/",
            query,
            headers: &headers,
            body,
        };
        assert_eq!(verify(&request, &suite()), Ok(()), "{method} {query}");
        // One changed byte of the body, and the same signature no longer verifies.
        let tampered = [body, b"!"].concat();
        let request = SignedRequest {
            body: &tampered,
            ..request
        };
        assert_eq!(verify(&request, &suite()), Err(Rejection::Mismatch));
    }

    #[test]
    fn get_vanilla() {
        check(
            "GET",
            "",
            &[],
            b"",
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        check(
            "GET",
            "Param2=value2&Param1=value1",
            &[],
            b"",
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
    }

    #[test]
    fn post_vanilla() {
        check(
            "POST",
            "",
            &[],
            b"",
            "host;x-amz-date",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        check(
            "POST",
            "",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"Param1=value1",
            "content-type;host;x-amz-date",
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        );
    }

    #[test]
    fn iam_documentation_signing_key() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830/us-east-1/iam/aws4_request",
        );
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn bedrock_paths_are_encoded_a_second_time() {
        let request = SignedRequest {
            method: "POST",
            path: "/model/us.anthropic.claude-v1%3A0/converse",
            query: "",
            headers: &[],
            body: b"{}",
        };
        let canonical = canonical_request(&request, &[], "h");
        assert!(canonical.starts_with("POST\n/model/us.anthropic.claude-v1%253A0/converse\n"));
    }

    #[test]
    fn rejections() {
        let request = |headers: &[(String, String)], body: &[u8]| {
            verify(
                &SignedRequest {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers,
                    body,
                },
                &suite(),
            )
        };
        assert_eq!(request(&[], b""), Err(Rejection::Missing));
        let bearer = [("authorization".to_string(), "Bearer x".to_string())];
        assert!(matches!(
            request(&bearer, b""),
            Err(Rejection::Malformed(_))
        ));
        let mut other_key = headers(&[], "host;x-amz-date", "00");
        other_key[2].1 = other_key[2].1.replace("AKIDEXAMPLE", "AKIDOTHER");
        assert_eq!(request(&other_key, b""), Err(Rejection::UnknownKey));
        let hashed = headers(&[("x-amz-content-sha256", "abc")], "host;x-amz-date", "00");
        assert_eq!(request(&hashed, b""), Err(Rejection::ContentHashMismatch));
    }
}
