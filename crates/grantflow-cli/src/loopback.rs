//! The loopback redirect listener of the browser sign-in (RFC 8252 §7.3):
//! an HTTP server on 127.0.0.1 (tiny_http, no async runtime) that waits for
//! the one request the browser makes to the redirect URI, answers it with a
//! short "you can close this tab" page, and hands back the URL it came to.

use std::time::{Duration, Instant};

use tiny_http::{Header, Response, Server};

use crate::error::Failure;

/// A listener on `http://127.0.0.1:<port>`.
pub struct Listener {
    server: Server,
    port: u16,
    path: String,
}

impl Listener {
    /// Binds 127.0.0.1 on `port`, or on a free port the OS picks.
    pub fn bind(port: Option<u16>, path: &str) -> Result<Listener, Failure> {
        let server = Server::http(("127.0.0.1", port.unwrap_or(0))).map_err(|e| {
            Failure::input(format!(
                "cannot listen on 127.0.0.1:{} for the redirect: {e}",
                port.unwrap_or(0)
            ))
        })?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|addr| addr.port())
            .ok_or_else(|| Failure::input("the redirect listener has no IP address"))?;
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Listener { server, port, path })
    }

    /// The redirect URI to register and send: `http://127.0.0.1:<port><path>`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Waits up to `timeout` for the browser to come to the redirect URI;
    /// returns the full URL it came to. Other requests (a favicon) get a 404.
    pub fn wait(&self, timeout: Duration) -> Result<String, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let request = match self.server.recv_timeout(left) {
                Ok(Some(request)) => request,
                Ok(None) => {
                    return Err(Failure::TimedOut(format!(
                        "nobody came back to {} within {} s; run again, or raise --timeout",
                        self.redirect_uri(),
                        timeout.as_secs()
                    )));
                }
                Err(e) => {
                    return Err(Failure::Network(format!(
                        "the redirect listener failed: {e}"
                    )));
                }
            };
            let target = request.url().to_owned();
            let on_path = target.split('?').next() == Some(self.path.as_str());
            if !on_path {
                let _ = request.respond(Response::from_string("not found").with_status_code(404));
                continue;
            }
            let failed = target.contains("error=");
            let _ = request.respond(page(failed));
            return Ok(format!("http://127.0.0.1:{}{target}", self.port));
        }
    }
}

/// The page the browser shows after the redirect.
fn page(failed: bool) -> Response<std::io::Cursor<Vec<u8>>> {
    let (title, text) = if failed {
        (
            "Sign-in not completed",
            "The provider sent back an error; the terminal says which. You can close this tab.",
        )
    } else {
        (
            "Signed in",
            "grantflow received the sign-in. You can close this tab and return to the terminal.",
        )
    };
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:4em\"><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let mut response = Response::from_string(html);
    for (name, value) in [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
    ] {
        if let Ok(header) = Header::from_bytes(name, value) {
            response = response.with_header(header);
        }
    }
    response
}
