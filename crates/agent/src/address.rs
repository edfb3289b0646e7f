//! Finding the address other nodes can reach this one at.

use std::net::UdpSocket;

/// The local address of the route to the server: the interface peers on the server's network
/// reach us through. Connecting a UDP socket sends nothing; it only asks the kernel for the
/// route. Falls back to 127.0.0.1 (single-machine setups).
pub fn advertise_address(server: &str) -> String {
    let authority = server.split("://").nth(1).unwrap_or(server).split('/').next().unwrap_or_default();
    let target = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect(&target)?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_server_gives_loopback_address() {
        assert_eq!(super::advertise_address("http://127.0.0.1:7100"), "127.0.0.1");
    }
}
