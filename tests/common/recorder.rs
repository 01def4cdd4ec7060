//! A recording proxy in front of the relay's HTTP port: browsers talk to it as if it were the
//! relay, and it keeps everything they send: each HTTP request's line and headers, its body
//! (`Content-Length` bodies; browsers send no chunked requests here), and each WebSocket
//! message as bytes, unmasked (browsers mask every frame they send, so the raw bytes alone
//! would hide any text in them) and reassembled from its continuation frames. Control frames
//! (ping, pong, close) are kept as messages of their own. Tests search the record, as bytes,
//! for what must never reach a server.
//!
//! What the relay answers passes through untouched and unrecorded. Media does not pass here:
//! it goes over UDP, straight to the relay, and the relay's payload tap records that.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One thing a browser sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// An HTTP request: its request line and headers, as sent.
    Http(String),
    /// The body of the HTTP request just before.
    Body(Vec<u8>),
    /// One WebSocket message (text or binary), unmasked and reassembled; or one control frame.
    WebSocket(Vec<u8>),
}

impl Sent {
    /// What was sent, as bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Sent::Http(head) => head.as_bytes(),
            Sent::Body(bytes) | Sent::WebSocket(bytes) => bytes,
        }
    }
}

/// The proxy, listening on a loopback port of its own.
pub struct Recorder {
    /// Where browsers connect instead of the relay.
    pub addr: SocketAddr,
    record: Arc<Mutex<Vec<Sent>>>,
    accept: JoinHandle<()>,
}

impl Recorder {
    /// Starts a proxy to the HTTP server at `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Recorder> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let record = Arc::new(Mutex::new(Vec::new()));
        let sink = record.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay_connection(client, server, sink).await;
                    }
                });
            }
        });
        Ok(Recorder {
            addr,
            record,
            accept,
        })
    }

    /// Everything sent so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.record.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies both ways; parses (and records) what the client sends.
async fn relay_connection(client: TcpStream, server: TcpStream, record: Arc<Mutex<Vec<Sent>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut parser = Parser::default();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for sent in parser.push(&buffer[..n]) {
            record.lock().unwrap().push(sent);
        }
        if server_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = server_write.shutdown().await;
    let _ = down.await;
}

/// The client's side of one connection: HTTP requests until an upgrade, then WebSocket frames.
#[derive(Default)]
struct Parser {
    pending: Vec<u8>,
    websocket: bool,
    /// Request body bytes still to come.
    body_left: usize,
    body: Vec<u8>,
    /// A fragmented WebSocket message's payload so far (its first frame had FIN unset).
    message: Option<Vec<u8>>,
}

impl Parser {
    fn push(&mut self, bytes: &[u8]) -> Vec<Sent> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if self.body_left > 0 {
                let take = self.body_left.min(self.pending.len());
                self.body.extend(self.pending.drain(..take));
                self.body_left -= take;
                if self.body_left > 0 {
                    return out;
                }
                out.push(Sent::Body(std::mem::take(&mut self.body)));
            }
            let parsed = if self.websocket {
                self.frame()
            } else {
                self.request()
            };
            match parsed {
                Some(Some(sent)) => out.push(sent),
                Some(None) => {}
                None => return out,
            }
        }
    }

    /// One request head, if all of it is here.
    fn request(&mut self) -> Option<Option<Sent>> {
        let end = self.pending.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head: Vec<u8> = self.pending.drain(..end).collect();
        let head = String::from_utf8_lossy(&head).into_owned();
        let lower = head.to_ascii_lowercase();
        self.websocket = lower.contains("\r\nupgrade: websocket");
        self.body_left = lower
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        Some(Some(Sent::Http(head)))
    }

    /// One WebSocket frame, if all of it is here: `Some(Some(message))` when it completes a
    /// message (or is a control frame), `Some(None)` when it is one part of a longer message.
    fn frame(&mut self) -> Option<Option<Sent>> {
        let bytes = &self.pending;
        if bytes.len() < 2 {
            return None;
        }
        let (fin, opcode) = (bytes[0] & 0x80 != 0, bytes[0] & 0x0f);
        let masked = bytes[1] & 0x80 != 0;
        let (len, mut at) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 if bytes.len() >= 10 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return None,
            short => (short as usize, 2),
        };
        let mask = if masked {
            let key: [u8; 4] = bytes.get(at..at + 4)?.try_into().unwrap();
            at += 4;
            key
        } else {
            [0; 4]
        };
        if bytes.len() < at + len {
            return None;
        }
        let payload: Vec<u8> = bytes[at..at + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        self.pending.drain(..at + len);
        if opcode >= 8 {
            // Control frames may come between the parts of a message.
            return Some(Some(Sent::WebSocket(payload)));
        }
        let mut message = self.message.take().unwrap_or_default();
        message.extend(payload);
        if fin {
            Some(Some(Sent::WebSocket(message)))
        } else {
            self.message = Some(message);
            Some(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One masked client frame.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let key = [1, 2, 3, 4];
        let mut wire = vec![first, 0x80 | payload.len() as u8];
        wire.extend_from_slice(&key);
        wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        wire
    }

    #[test]
    fn requests_bodies_and_reassembled_messages_are_recovered_across_reads() {
        let mut wire =
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                .to_vec();
        wire.extend_from_slice(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
        wire.extend(frame(0x81, b"hello, relay"));
        // A binary message in three parts, with a ping between them.
        wire.extend(frame(0x02, &[0xff, 0x00]));
        wire.extend(frame(0x89, b"ping"));
        wire.extend(frame(0x00, &[0x01]));
        wire.extend(frame(0x80, &[0xfe]));
        let mut parser = Parser::default();
        let mut sent = Vec::new();
        for chunk in wire.chunks(5) {
            sent.extend(parser.push(chunk));
        }
        assert_eq!(sent.len(), 7, "{sent:?}");
        assert!(matches!(&sent[0], Sent::Http(h) if h.starts_with("GET /a ")));
        assert!(matches!(&sent[1], Sent::Http(h) if h.starts_with("POST /b ")));
        assert_eq!(sent[2], Sent::Body(b"abc".to_vec()));
        assert!(matches!(&sent[3], Sent::Http(h) if h.starts_with("GET /ws ")));
        assert_eq!(sent[4], Sent::WebSocket(b"hello, relay".to_vec()));
        assert_eq!(sent[5], Sent::WebSocket(b"ping".to_vec()));
        assert_eq!(sent[6], Sent::WebSocket(vec![0xff, 0x00, 0x01, 0xfe]));
    }
}
