//! A TCP proxy the fault tests control: put it between the server and PostgreSQL, then
//! take the database away and bring it back without touching the real cluster.
//!
//! - [`Mode::Up`]: bytes flow both ways.
//! - [`Mode::Down`]: the database is stopped. Every proxied connection is closed, and the
//!   listening socket is closed too, so new connections are refused (`ECONNREFUSED`),
//!   exactly as with no server on the port.
//! - [`Mode::Blackhole`]: the network is cut. Connections stay open but nothing passes:
//!   bytes are held, new connections are accepted and left hanging. Back [`Mode::Up`],
//!   the held bytes go through, as after a healed partition.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Down,
    Blackhole,
}

/// A running proxy; dropping it stops it and closes every connection.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    /// Listen on `127.0.0.1:0` and forward to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (mode, _) = watch::channel(Mode::Up);
        tokio::spawn(accept_loop(
            Some(listener),
            addr,
            upstream.to_owned(),
            mode.subscribe(),
        ));
        Proxy { addr, mode }
    }

    /// `127.0.0.1:PORT`, where clients connect.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Switch the mode; it applies to open connections and new ones alike.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Closes every connection and the listener; the tasks end when the sender is gone.
        self.mode.send_replace(Mode::Down);
    }
}

/// Accept while up (or blackholed); close the listening socket while down, and bind the
/// same address again when the mode changes back.
async fn accept_loop(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    upstream: String,
    mut mode: watch::Receiver<Mode>,
) {
    loop {
        let current = *mode.borrow_and_update();
        match (current, listener.as_ref()) {
            (Mode::Down, Some(_)) => {
                // Dropping the listener closes the port: connecting is refused.
                listener = None;
            }
            (Mode::Down, None) => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
            (Mode::Up | Mode::Blackhole, None) => {
                listener = Some(rebind(addr).await);
            }
            (Mode::Up | Mode::Blackhole, Some(open)) => {
                tokio::select! {
                    accepted = open.accept() => {
                        if let Ok((client, _)) = accepted {
                            tokio::spawn(proxy_connection(client, upstream.clone(), mode.clone()));
                        }
                    }
                    changed = mode.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Bind `addr` again (the port the server was configured with), retrying briefly while the
/// old socket lingers.
async fn rebind(addr: SocketAddr) -> TcpListener {
    let mut last_error = None;
    for _ in 0..50 {
        let socket = TcpSocket::new_v4().expect("a TCP socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        match socket.bind(addr).and_then(|()| socket.listen(128)) {
            Ok(listener) => return listener,
            Err(err) => last_error = Some(err),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("cannot listen on {addr} again: {last_error:?}");
}

/// Wait until the mode is [`Mode::Up`]; `false` when it went [`Mode::Down`] (or the proxy
/// is gone) instead.
async fn until_up(mode: &mut watch::Receiver<Mode>) -> bool {
    match mode.wait_for(|m| *m != Mode::Blackhole).await {
        Ok(m) => *m == Mode::Up,
        Err(_) => false,
    }
}

async fn proxy_connection(client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    // Blackholed: accepted, but the database is not reached until the network is back.
    if !until_up(&mut mode).await {
        return;
    }
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, mode.clone()),
        pump(server_read, client_write, mode),
    );
}

/// Copy one direction until either side closes or the proxy goes down. While blackholed,
/// read bytes are held until the mode is up again.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let mut down = mode.clone();
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = down.wait_for(|m| *m == Mode::Down) => return,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !until_up(&mut mode).await {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
