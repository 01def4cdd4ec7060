//! Accepting TCP connections, shared by the HTTPS listener ([`crate::tls`]) and ICE-TCP
//! ([`crate::tcp`]). Does nothing with the connection: only keeps an accept loop from spinning
//! when accepting fails (out of file descriptors, mostly), which would starve the runtime.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// How long to wait after a failed accept before trying again.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// The next connection on `listener`; failures are logged and waited out.
pub async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(connection) => return connection,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}
