//! Brute-force limits (docs/security.md): failed authentications are counted per client
//! address, in fixed windows of [`WINDOW`]. An address that has failed `limit` times in its
//! window is answered 429 with `Retry-After` until the window ends, without its credential
//! being looked at, so a guesser gets at most `limit` answers a minute per address.
//!
//! What counts as a failure: an unknown or revoked API token or node credential, a refused
//! enrollment (unknown, expired or used-up code), a refused console sign-in, and an SSM
//! request whose access key is unknown or whose signature does not match. A credential this
//! replica verified within the authentication cache's TTL is never held back, so a node
//! behind the same NAT as a guesser keeps polling.
//!
//! IPv6 addresses count by their /64 (one host usually holds a whole /64); IPv4-mapped IPv6
//! addresses count as the IPv4 address. The counts live in each replica's memory: with `n`
//! replicas behind a balancer, a guesser gets at most `n × limit` answers a minute.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The length of one counting window.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// More addresses than this in the table makes the next failure sweep out ended windows.
const SWEEP_AT: usize = 50_000;

/// The address a request came from, put in the request's extensions by the request
/// middleware when the connection has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// The peer of a connection, for `into_make_service_with_connect_info` on any listener
/// (plain TCP and TLS).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) std::net::SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// The request's [`ClientAddr`], if its connection has one (an extractor that never fails).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client(pub(crate) Option<ClientAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(parts.extensions.get::<ClientAddr>().copied()))
    }
}

/// Failed authentications per address.
#[derive(Debug)]
pub(crate) struct AuthGuard {
    /// Failures allowed per address and window; 0 turns the limit off.
    limit: u32,
    counts: Mutex<HashMap<IpAddr, Count>>,
}

#[derive(Debug, Clone, Copy)]
struct Count {
    since: Instant,
    failures: u32,
}

/// The key an address counts under.
fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl AuthGuard {
    pub(crate) fn new(limit: u32) -> AuthGuard {
        AuthGuard {
            limit,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Count>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long `addr` must wait before its credentials are looked at again; `None` when
    /// they may be looked at now.
    pub(crate) fn held_back(&self, addr: Option<ClientAddr>, now: Instant) -> Option<Duration> {
        let addr = addr?;
        if self.limit == 0 {
            return None;
        }
        let counts = self.counts();
        let count = counts.get(&key(addr.0))?;
        let elapsed = now.saturating_duration_since(count.since);
        (elapsed < WINDOW && count.failures >= self.limit).then(|| WINDOW - elapsed)
    }

    /// Counts one failed authentication from `addr`.
    pub(crate) fn failed(&self, addr: Option<ClientAddr>, now: Instant) {
        let Some(addr) = addr else { return };
        if self.limit == 0 {
            return;
        }
        let mut counts = self.counts();
        if counts.len() >= SWEEP_AT {
            counts.retain(|_, count| now.saturating_duration_since(count.since) < WINDOW);
        }
        let count = counts.entry(key(addr.0)).or_insert(Count {
            since: now,
            failures: 0,
        });
        if now.saturating_duration_since(count.since) >= WINDOW {
            *count = Count {
                since: now,
                failures: 0,
            };
        }
        count.failures = count.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Option<ClientAddr> {
        Some(ClientAddr(text.parse().unwrap()))
    }

    #[test]
    fn an_address_is_held_back_after_its_failures_until_the_window_ends() {
        let guard = AuthGuard::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(guard.held_back(addr("192.0.2.1"), start), None);
            guard.failed(addr("192.0.2.1"), start);
        }
        let wait = guard
            .held_back(addr("192.0.2.1"), start + Duration::from_secs(10))
            .unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        // Another address is not affected.
        assert_eq!(guard.held_back(addr("192.0.2.2"), start), None);
        // The next window starts afresh.
        let later = start + WINDOW;
        assert_eq!(guard.held_back(addr("192.0.2.1"), later), None);
        guard.failed(addr("192.0.2.1"), later);
        assert_eq!(guard.held_back(addr("192.0.2.1"), later), None);
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let guard = AuthGuard::new(2);
        let now = Instant::now();
        guard.failed(addr("2001:db8:1:2::1"), now);
        guard.failed(addr("2001:db8:1:2:ffff::9"), now);
        assert!(guard.held_back(addr("2001:db8:1:2::77"), now).is_some());
        assert!(guard.held_back(addr("2001:db8:1:3::1"), now).is_none());
        guard.failed(addr("::ffff:192.0.2.9"), now);
        guard.failed(addr("192.0.2.9"), now);
        assert!(guard.held_back(addr("192.0.2.9"), now).is_some());
    }

    #[test]
    fn no_limit_and_no_address_hold_nothing_back() {
        let off = AuthGuard::new(0);
        let now = Instant::now();
        for _ in 0..100 {
            off.failed(addr("192.0.2.1"), now);
        }
        assert_eq!(off.held_back(addr("192.0.2.1"), now), None);
        let guard = AuthGuard::new(1);
        guard.failed(None, now);
        assert_eq!(guard.held_back(None, now), None);
    }
}
