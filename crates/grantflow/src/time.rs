//! Time as the core sees it: a value passed in, never read from a clock.
//!
//! grantflow never calls `SystemTime::now()`. Every call that can move a flow
//! forward takes a [`UnixTime`]; adapters read the clock and pass it in. Tests
//! pass any instant they like, so expiry and polling are tested without
//! sleeping.

use core::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant, as whole seconds since the Unix epoch (1970-01-01T00:00:00Z).
///
/// OAuth and OpenID Connect count time in whole seconds (`expires_in`, `exp`,
/// `iat`), so this type does too. Arithmetic on it saturates instead of
/// overflowing: a server that sends `expires_in: 18446744073709551615` gets a
/// token that expires at the end of time, not a panic.
///
/// ```
/// use grantflow::UnixTime;
///
/// let now = UnixTime::from_secs(1_700_000_000);
/// assert_eq!(now.saturating_add_secs(3600).as_secs(), 1_700_003_600);
/// assert_eq!(UnixTime::MAX.saturating_add_secs(1), UnixTime::MAX);
/// ```
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The Unix epoch itself.
    pub const EPOCH: UnixTime = UnixTime(0);
    /// The latest representable instant; saturating arithmetic stops here.
    pub const MAX: UnixTime = UnixTime(u64::MAX);

    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        UnixTime(secs)
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// Converts a [`SystemTime`] the caller read (instants before the epoch
    /// become the epoch; fractions of a second are dropped). This reads no
    /// clock: the caller passes the time in.
    pub fn from_system_time(time: SystemTime) -> Self {
        UnixTime(
            time.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
    }

    /// The same instant as a [`SystemTime`], or `None` if the platform cannot
    /// represent it.
    pub fn to_system_time(self) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::from_secs(self.0))
    }

    /// `self + secs`, saturating at [`UnixTime::MAX`].
    #[must_use]
    pub const fn saturating_add_secs(self, secs: u64) -> Self {
        UnixTime(self.0.saturating_add(secs))
    }

    /// `self - secs`, saturating at [`UnixTime::EPOCH`].
    #[must_use]
    pub const fn saturating_sub_secs(self, secs: u64) -> Self {
        UnixTime(self.0.saturating_sub(secs))
    }

    /// Seconds from `self` until `later`, or zero if `later` is not after `self`.
    pub const fn secs_until(self, later: UnixTime) -> u64 {
        later.0.saturating_sub(self.0)
    }
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixTime({})", self.0)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_round_trip_drops_fractions() {
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(UnixTime::from_system_time(t).as_secs(), 1);
        assert_eq!(
            UnixTime::from_secs(1).to_system_time(),
            Some(UNIX_EPOCH + Duration::from_secs(1))
        );
    }

    #[test]
    fn before_epoch_is_epoch() {
        let t = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(UnixTime::from_system_time(t), UnixTime::EPOCH);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(UnixTime::MAX.saturating_add_secs(u64::MAX), UnixTime::MAX);
        assert_eq!(UnixTime::EPOCH.saturating_sub_secs(5), UnixTime::EPOCH);
        assert_eq!(
            UnixTime::from_secs(10).secs_until(UnixTime::from_secs(4)),
            0
        );
        assert_eq!(
            UnixTime::from_secs(4).secs_until(UnixTime::from_secs(10)),
            6
        );
    }
}
