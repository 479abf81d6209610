//! The answers hyper writes by itself, given a request it cannot parse (400 for a
//! bad request line or header, 414 for a URI too long, 431 for headers too
//! large), carry no body, and hyper offers no hook to give them one. So that
//! every refusal has the service's error body, a connection's bytes pass through
//! [`Shaped`], which recognises such an answer as hyper writes it (a 400, 414 or
//! 431 head with `content-length: 0`: the service's own refusals always have a
//! body) and writes it with `{"error": {"code", "message"}}` instead.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose bodiless parse-error answers get the error body.
pub struct Shaped<S> {
    inner: S,
    /// Bytes of a rewritten answer not yet written.
    pending: Vec<u8>,
    written: usize,
}

impl<S> Shaped<S> {
    pub fn new(inner: S) -> Shaped<S> {
        Shaped {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The error body for a parse error's status.
fn body_for(status: &[u8]) -> Option<&'static str> {
    Some(match status {
        b"400" => {
            r#"{"error":{"code":"invalid_input","message":"the request is not valid HTTP/1.1 (its request line or a header cannot be read)"}}"#
        }
        b"414" => r#"{"error":{"code":"uri_too_long","message":"the request's URI is too long"}}"#,
        b"431" => {
            r#"{"error":{"code":"headers_too_large","message":"the request's headers are too large or too many"}}"#
        }
        _ => return None,
    })
}

/// The answer with a body, when `head` is a whole bodiless parse-error answer.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    const EMPTY: &[u8] = b"\r\ncontent-length: 0\r\n";
    if !head.starts_with(b"HTTP/1.1 4") || head.len() < 12 || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let body = body_for(&head[9..12])?;
    let at = head.windows(EMPTY.len()).position(|w| w == EMPTY)?;
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    out.extend_from_slice(&head[..at]);
    out.extend_from_slice(
        format!(
            "\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&head[at + EMPTY.len()..]);
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

impl<S: AsyncWrite + Unpin> Shaped<S> {
    /// Writes what is pending of a rewritten answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Shaped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Shaped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = rewrite(buf) {
            self.pending = answer;
            // The rewritten answer stands for all of `buf`; it is written now or
            // on the next write, flush or shutdown.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if let Some(answer) = rewrite(only) {
                self.pending = answer;
                let _ = self.drain(cx)?;
                return Poll::Ready(Ok(only.len()));
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_parse_error_answers_are_rewritten() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 02:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(head).unwrap()).unwrap();
        let (head_part, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head_part.contains("content-type: application/json"),
            "{out}"
        );
        assert!(
            head_part.contains(&format!("content-length: {}", body.len())),
            "{out}"
        );
        assert!(head_part.contains("date: "), "{out}");
        let error: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(error["error"]["code"], "headers_too_large");
        // The service's own answers, and anything else, pass as they are.
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 57\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
    }
}
