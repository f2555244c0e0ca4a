//! The token lifecycle, above every grant: a [`Session`] that keeps a user
//! (or a service) signed in by refreshing or renewing its tokens, ends when
//! the grant is gone, and logs out (revocation, RFC 7009, then RP-initiated
//! logout, OpenID Connect RP-Initiated Logout 1.0).

mod logout;
mod session;

pub use logout::{LoggedOut, Logout};
pub use session::{Access, Applied, DEFAULT_REFRESH_MARGIN, RETRY_DELAY, Session};
