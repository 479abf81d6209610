//! What a request's body is: its media type (`Content-Type`) and its encoding
//! (`Content-Encoding`). Records are JSON: `application/json`, any `+json` type,
//! or JSON lines (`application/x-ndjson` and its other names); XML, forms and
//! multipart bodies are refused with 415 naming the type, rather than read as
//! JSON. A gzip body is decoded, up to the body limit (a small body that
//! inflates past it is refused like a large one, before it fills memory). A
//! UTF-8 byte order mark, which PowerShell and .NET write, is skipped.
//!
//! Decoding uses `flate2` (the Rust ecosystem's deflate and gzip crate, here on
//! its pure-Rust `miniz_oxide` back end).

use std::io::Read as _;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};

use super::error::ApiError;

/// What a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Records: JSON or JSON lines.
    Records,
    /// A component's bytes.
    Module,
    /// A CRM's event: JSON, or XML for a Salesforce Outbound Message (SOAP).
    Event,
}

/// The JSON lines media types in use (none is registered).
const JSON_LINES: [&str; 5] = [
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
];

/// The XML media types a SOAP event arrives with.
const XML: [&str; 3] = ["text/xml", "application/xml", "application/soap+xml"];

/// A module's media types.
const MODULE: [&str; 2] = ["application/wasm", "application/octet-stream"];

fn unsupported(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
}

/// Refuses a body whose `Content-Type` the route does not read (415); a body
/// without one is taken as what the route reads.
pub fn check_type(headers: &HeaderMap, expected: Expected) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value
        .to_str()
        .map_err(|_| unsupported("the Content-Type header is not plain text".to_owned()))?;
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let json = media == "application/json"
        || JSON_LINES.contains(&media.as_str())
        || (media.ends_with("+json") && media.contains('/'));
    let accepted = match expected {
        Expected::Records => json,
        Expected::Module => MODULE.contains(&media.as_str()),
        Expected::Event => json || XML.contains(&media.as_str()),
    };
    if !accepted {
        let wanted = match expected {
            Expected::Records => {
                "records are JSON: send `Content-Type: application/json` (or \
                 `application/x-ndjson` for JSON lines)"
            }
            Expected::Module => "a module is sent as `Content-Type: application/wasm`",
            Expected::Event => {
                "events are JSON, or XML for a Salesforce Outbound Message: send \
                 `Content-Type: application/json` or `text/xml`"
            }
        };
        return Err(unsupported(format!(
            "the body's Content-Type is `{media}`; {wanted}"
        )));
    }
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset")
            && !value.eq_ignore_ascii_case("utf-8")
            && !value.eq_ignore_ascii_case("utf8")
        {
            return Err(unsupported(format!(
                "the body's charset is `{value}`; send it as UTF-8"
            )));
        }
    }
    Ok(())
}

/// How the body's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

/// The body's `Content-Encoding`: none, `identity` or `gzip`; anything else is
/// 415 naming it.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let mut found = Encoding::Identity;
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let text = value
            .to_str()
            .map_err(|_| unsupported("the Content-Encoding header is not plain text".to_owned()))?;
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let coding = coding.to_ascii_lowercase();
            match coding.as_str() {
                "identity" => {}
                "gzip" | "x-gzip" if found == Encoding::Identity => found = Encoding::Gzip,
                "gzip" | "x-gzip" => {
                    return Err(unsupported(
                        "the body is gzip-encoded twice; encode it once".to_owned(),
                    ))
                }
                other => {
                    return Err(unsupported(format!(
                        "the body's Content-Encoding is `{other}`; send it as is, or as `gzip`"
                    )))
                }
            }
        }
    }
    Ok(found)
}

/// Why a gzip body was not decoded.
#[derive(Debug)]
pub enum Undecoded {
    /// It inflates past the limit.
    TooLarge,
    /// It is not gzip.
    Broken(std::io::Error),
}

/// Decodes a gzip body of at most `limit` bytes once inflated; stops reading
/// once past it.
pub fn gunzip(compressed: &[u8], limit: usize) -> Result<Bytes, Undecoded> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    let mut decoder = flate2::read::MultiGzDecoder::new(compressed).take(limit as u64 + 1);
    decoder.read_to_end(&mut out).map_err(Undecoded::Broken)?;
    if out.len() > limit {
        return Err(Undecoded::TooLarge);
    }
    Ok(Bytes::from(out))
}

/// The body without a leading UTF-8 byte order mark.
pub fn without_bom(body: Bytes) -> Bytes {
    if body.starts_with(b"\xEF\xBB\xBF") {
        body.slice(3..)
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn typed(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn json_kinds_are_read_and_other_types_named() {
        for ok in [
            "application/json",
            "application/json; charset=UTF-8",
            "Application/JSON",
            "application/x-ndjson",
            "application/vnd.acme+json",
            "application/jsonl",
        ] {
            assert!(check_type(&typed(ok), Expected::Records).is_ok(), "{ok}");
        }
        assert!(check_type(&HeaderMap::new(), Expected::Records).is_ok());
        for refused in [
            "application/xml",
            "text/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/json; charset=latin1",
        ] {
            let error = check_type(&typed(refused), Expected::Records).unwrap_err();
            assert_eq!(
                error.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{refused}"
            );
            let named = refused.split(';').next().unwrap();
            assert!(
                error.message.contains(named) || error.message.contains("latin1"),
                "{}",
                error.message
            );
        }
        assert!(check_type(&typed("application/wasm"), Expected::Module).is_ok());
        assert!(check_type(&typed("application/json"), Expected::Module).is_err());
    }

    #[test]
    fn gzip_is_decoded_within_the_limit_and_other_encodings_named() {
        use std::io::Write as _;
        let mut headers = HeaderMap::new();
        assert_eq!(encoding(&headers).unwrap(), Encoding::Identity);
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(encoding(&headers).unwrap(), Encoding::Gzip);
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert!(encoding(&headers).unwrap_err().message.contains("`br`"));

        let zipped = |bytes: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        };
        assert_eq!(
            &gunzip(&zipped(b"{\"id\": 1}"), 100).unwrap()[..],
            b"{\"id\": 1}"
        );
        // A bomb: 64 MiB of zeros in about 64 KiB, against a 1 MiB limit.
        let bomb = zipped(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        assert!(matches!(gunzip(&bomb, 1 << 20), Err(Undecoded::TooLarge)));
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(Undecoded::Broken(_))
        ));
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            &without_bom(Bytes::from_static(b"\xEF\xBB\xBF{}"))[..],
            b"{}"
        );
        assert_eq!(&without_bom(Bytes::from_static(b"{}"))[..], b"{}");
    }
}
