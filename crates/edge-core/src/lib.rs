//! # edge-core: the sans-I/O brain of sipedge
//!
//! Flow tokens, the registrar, authentication state and proxy routing live here, with no I/O:
//! time, randomness and keys are inputs, decisions are outputs, and a separate runtime owns
//! sockets, clocks and threads (the quinn-proto / rustls shape, see docs/architecture.md).
//!
//! ```text
//!   runtime ──handle_*(now, input)──► Core ──poll_action()──► runtime does the I/O
//! ```
//!
//! Modules: [`local`] (what the edge answers itself: OPTIONS to the edge, malformed requests,
//! unroutable requests), [`stun`] (Binding keep-alives on UDP SIP ports, RFC 5626 §4.4.2),
//! [`counters`] (per-shard counters, plain integers). The `architecture` test of the
//! workspace checks that this crate depends on no runtime (no tokio, mio, io-uring).
#![forbid(unsafe_code)]

pub mod counters;
pub mod local;
pub mod stun;

use core::time::Duration;

/// A point in time given to the core by its caller, as the time since an arbitrary epoch the
/// caller fixes (the runtime's start). The core never reads a clock itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The instant `since` after the caller's epoch.
    pub const fn from_epoch(since: Duration) -> Self {
        Self(since)
    }

    /// Time since the caller's epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// `self + d`, saturating at the far future rather than overflowing.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d))
    }

    /// Time from `earlier` to `self`, zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_saturate() {
        let a = Instant::from_epoch(Duration::from_secs(5));
        assert_eq!(
            a.saturating_since(a.saturating_add(Duration::from_secs(1))),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_epoch(Duration::MAX)
                .saturating_add(Duration::from_secs(1))
                .since_epoch(),
            Duration::MAX
        );
    }
}
