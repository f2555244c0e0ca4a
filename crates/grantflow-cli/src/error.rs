//! Why a command failed, and the exit code that says so (documented under
//! `grantflow --help`, in [`crate::args::EXIT_CODES`]).

use core::fmt;

use grantflow::{ErrorCode, ErrorKind};
use serde_json::{Value, json};

/// A failed command. Its message never holds a secret: it is built from the
/// library's errors, whose messages withhold them, and from our own words.
#[derive(Debug)]
pub enum Failure {
    /// The user asked for something that cannot be done as asked. Exit 2.
    BadInput(String),
    /// The server answered with an OAuth error response. Exit 3.
    Refused {
        /// The OAuth error code (`invalid_client`, `invalid_grant`, …).
        code: String,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The server could not be reached or is in trouble. Exit 4.
    Network(String),
    /// The server answered nonsense, or a security check failed. Exit 5.
    Invalid(String),
    /// The user did not come back in time (browser or device code). Exit 6.
    TimedOut(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::BadInput(_) => 2,
            Failure::Refused { .. } => 3,
            Failure::Network(_) => 4,
            Failure::Invalid(_) => 5,
            Failure::TimedOut(_) => 6,
        }
    }

    /// The stable name of this failure's kind in `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::BadInput(_) => "bad_input",
            Failure::Refused { .. } => "refused",
            Failure::Network(_) => "network",
            Failure::Invalid(_) => "invalid",
            Failure::TimedOut(_) => "timed_out",
        }
    }

    /// `{"error": {"kind": …, "code": …, "message": …}}`, for `--json`.
    pub fn to_json(&self) -> Value {
        let code = match self {
            Failure::Refused { code, .. } => Value::String(code.clone()),
            _ => Value::Null,
        };
        json!({ "error": { "kind": self.kind(), "code": code, "message": self.to_string() } })
    }

    /// A bad-input failure from anything displayable.
    pub fn input(message: impl fmt::Display) -> Failure {
        Failure::BadInput(message.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput(message)
            | Failure::Network(message)
            | Failure::Invalid(message)
            | Failure::TimedOut(message) => f.write_str(message),
            Failure::Refused { code, description } => {
                write!(f, "the server refused: {code}")?;
                if let Some(description) = description {
                    write!(f, " ({description})")?;
                }
                Ok(())
            }
        }
    }
}

impl From<grantflow::Error> for Failure {
    fn from(error: grantflow::Error) -> Self {
        if let grantflow::Error::OAuth(response) = &error {
            // The device code ran out before the user approved (RFC 8628 §3.5).
            if response.error == ErrorCode::ExpiredToken {
                return Failure::TimedOut(format!(
                    "the device code expired before the user approved it ({error})"
                ));
            }
            if error.kind() == ErrorKind::Refused {
                return Failure::Refused {
                    code: response.error.as_str().to_owned(),
                    description: response.description.clone(),
                };
            }
        }
        let message = error.to_string();
        match error.kind() {
            ErrorKind::Refused | ErrorKind::Malformed | ErrorKind::CheckFailed => {
                Failure::Invalid(message)
            }
            ErrorKind::Misuse => Failure::BadInput(message),
            ErrorKind::Retryable => Failure::Network(message),
            // A kind added later: the server's answer did not do.
            _ => Failure::Invalid(message),
        }
    }
}

impl From<grantflow_ureq::Error> for Failure {
    fn from(error: grantflow_ureq::Error) -> Self {
        match error {
            grantflow_ureq::Error::Flow(error) => error.into(),
            grantflow_ureq::Error::Transport(error) => {
                Failure::Network(format!("could not reach the server: {error}"))
            }
            other => Failure::Invalid(other.to_string()),
        }
    }
}

impl From<grantflow::JwsError> for Failure {
    fn from(error: grantflow::JwsError) -> Self {
        Failure::Invalid(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow::testing::json_response;
    use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Flow};

    /// The failure a client credentials request gets from `status` and `body`.
    fn failure(status: u16, body: &str) -> Failure {
        let client = Client::new(
            ClientId::new("c"),
            ClientAuth::ClientSecretBasic(ClientSecret::new("s")),
        )
        .with_token_endpoint(EndpointUrl::parse("https://op.example.com/token").unwrap());
        let mut flow = client.client_credentials().unwrap();
        let now = grantflow::UnixTime::from_secs(1_800_000_000);
        let _ = flow.start(now).unwrap();
        flow.handle_response(json_response(status, body), now)
            .unwrap_err()
            .into()
    }

    #[test]
    fn each_kind_of_error_has_its_exit_code() {
        let refused = failure(401, r#"{"error":"invalid_client"}"#);
        assert_eq!(refused.exit_code(), 3);
        assert_eq!(refused.to_json()["error"]["code"], "invalid_client");
        assert_eq!(
            failure(503, r#"{"error":"temporarily_unavailable"}"#).exit_code(),
            4
        );
        assert_eq!(failure(200, "<html>").exit_code(), 5);
        assert_eq!(failure(400, r#"{"error":"expired_token"}"#).exit_code(), 6);
        assert_eq!(Failure::input("x").kind(), "bad_input");
    }
}
