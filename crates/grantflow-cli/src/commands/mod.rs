//! One module per subcommand; each has a `run` that returns the failure to
//! report, or prints its result.

pub mod discover;
pub mod jwt;
pub mod token;
pub mod tokens;
pub mod userinfo;
