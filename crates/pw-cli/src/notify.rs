//! systemd readiness notification (`Type=notify` units): one datagram to `$NOTIFY_SOCKET`.
//! Outside systemd the variable is unset and these do nothing. The protocol is a few
//! `KEY=VALUE` lines; an address starting with `@` is in the abstract namespace.

use std::os::unix::net::UnixDatagram;

fn send(message: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let socket = socket.to_string_lossy().into_owned();
    let Ok(sender) = UnixDatagram::unbound() else {
        return;
    };
    let sent = if let Some(name) = socket.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt as _;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|address| sender.send_to_addr(message.as_bytes(), &address))
    } else {
        sender.send_to(message.as_bytes(), &socket)
    };
    if let Err(error) = sent {
        tracing::debug!(%error, socket, "readiness notification not sent");
    }
}

/// The service is up: the server listens, the agent has loaded its configuration and
/// credential.
pub(crate) fn ready(status: &str) {
    send(&format!(
        "READY=1\nSTATUS={status}\nMAINPID={}",
        std::process::id()
    ));
}

/// The service is stopping by request.
pub(crate) fn stopping() {
    send("STOPPING=1");
}
