//! Error answers a caller can use whatever it sent.
//!
//! - A request whose bytes are not the message the method takes is the caller's fault: tonic
//!   answers INTERNAL (as the gRPC status code guide has it for a body that fails to parse),
//!   which reads as the server's fault in every dashboard and alert. This layer answers
//!   INVALID_ARGUMENT instead.
//! - A status message quoting what the caller sent (`party <20 KB of id> not found`) could make
//!   the response's headers larger than clients accept (16 KiB by default), and the caller would
//!   see a protocol error instead of the status: messages are cut to [`MAX_MESSAGE_BYTES`], and
//!   details beyond [`MAX_DETAILS_BYTES`] are left out.

use std::task::{Context, Poll};

use crate::inspect::{Inspected, OnResponse};

/// What tonic's status message for an undecodable request starts with.
const DECODE_FAILED: &str = "failed to decode Protobuf message";

/// The longest status message sent (percent-encoded bytes).
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The largest status details sent (base64 bytes); larger ones are left out.
pub const MAX_DETAILS_BYTES: usize = 8 * 1024;

/// Tower layer turning tonic's decode failures into INVALID_ARGUMENT and cutting long status
/// messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct MalformedRequestLayer;

impl<S> tower::Layer<S> for MalformedRequestLayer {
    type Service = MalformedRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MalformedRequest { inner }
    }
}

/// The service produced by [`MalformedRequestLayer`].
#[derive(Debug, Clone)]
pub struct MalformedRequest<S> {
    inner: S,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for MalformedRequest<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Inspected<S::Future, Tidy>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        Inspected::new(self.inner.call(request), Some(Tidy))
    }
}

/// Rewrites an error response as the module says.
#[derive(Debug, Clone, Copy)]
pub struct Tidy;

impl<B> OnResponse<B> for Tidy {
    fn on_response(self, response: &mut http::Response<B>) {
        let headers = response.headers_mut();
        let Some(message) = headers.get("grpc-message") else {
            return;
        };
        let malformed = headers.get("grpc-status").is_some_and(|v| v.as_bytes() == b"13")
            && percent_decode(message.as_bytes()).starts_with(DECODE_FAILED);
        if let Some(cut) = cut(message.as_bytes()) {
            headers.insert("grpc-message", cut);
        }
        if malformed {
            headers.insert("grpc-status", http::HeaderValue::from_static("3"));
        }
        // Details quoting many long values cannot be cut; the message still names the
        // fields.
        if headers
            .get("grpc-status-details-bin")
            .is_some_and(|v| v.len() > MAX_DETAILS_BYTES)
        {
            headers.remove("grpc-status-details-bin");
        }
    }
}

/// `message` (percent-encoded) cut to [`MAX_MESSAGE_BYTES`], not inside an escape, when longer.
fn cut(message: &[u8]) -> Option<http::HeaderValue> {
    if message.len() <= MAX_MESSAGE_BYTES {
        return None;
    }
    let mut end = MAX_MESSAGE_BYTES - 3;
    // An escape is `%` and two hex digits: do not end within one.
    if let Some(percent) = message[end.saturating_sub(2)..end]
        .iter()
        .position(|&b| b == b'%')
    {
        end = end.saturating_sub(2) + percent;
    }
    // Nor within a character: back off while the next escape is a UTF-8 continuation byte.
    let continuation = |at: usize| {
        message.get(at) == Some(&b'%')
            && message
                .get(at + 1..at + 3)
                .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())
                .is_some_and(|byte| byte & 0xC0 == 0x80)
    };
    while end >= 3 && continuation(end) {
        end -= 3;
    }
    let mut value = message[..end].to_vec();
    value.extend_from_slice(b"...");
    http::HeaderValue::from_bytes(&value).ok()
}

/// `grpc-message` is percent-encoded (gRPC over HTTP/2).
pub(crate) fn percent_decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or(""), 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_outside_escapes() {
        assert!(cut(b"party p-1 not found").is_none());
        let long = format!("party {} not found", "x".repeat(5000));
        let short = cut(long.as_bytes()).unwrap();
        assert_eq!(short.len(), MAX_MESSAGE_BYTES);
        assert!(short.to_str().unwrap().ends_with("xxx..."));
        let escaped = "%E9%99%B3".repeat(400);
        let short = cut(escaped.as_bytes()).unwrap();
        let text = percent_decode(short.as_bytes());
        assert!(text.starts_with("陳陳") && text.ends_with("..."), "{text}");
        assert!(!text.contains('\u{fffd}'), "no escape was cut: {text}");
    }

    #[test]
    fn status_messages_are_decoded() {
        assert_eq!(
            percent_decode(b"may not read party p%2D1%3A 100%25"),
            "may not read party p-1: 100%"
        );
        assert_eq!(percent_decode(b"bad %zz escape %"), "bad %zz escape %");
    }
}
