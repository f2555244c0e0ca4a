//! TLS in the built-in client against an HTTPS server on 127.0.0.1 with a
//! test CA (`tests/tls/`): certificates are verified, by the Mozilla roots
//! by default or by the roots the caller configures, host name included.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use grantflow_async::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use grantflow_async::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use grantflow_async::{HttpClient, TransportErrorKind, TransportFailure};

const CA: &[u8] = include_bytes!("tls/ca.der");
const CERT: &[u8] = include_bytes!("tls/localhost.der");
const KEY: &[u8] = include_bytes!("tls/localhost.key.der");

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTPS server on 127.0.0.1 answering every request with `{"tls":true}`
/// on keep-alive connections. Counts connections and requests.
struct HttpsServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl HttpsServer {
    fn start() -> HttpsServer {
        let config = Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(CERT.to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec())),
                )
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (accepted, served) = (connections.clone(), requests.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                accepted.fetch_add(1, Ordering::SeqCst);
                let config = config.clone();
                let served = served.clone();
                std::thread::spawn(move || {
                    let session = rustls::ServerConnection::new(config).unwrap();
                    let mut stream = BufReader::new(rustls::StreamOwned::new(session, tcp));
                    loop {
                        // Request heads only: the tests send GETs.
                        loop {
                            let mut line = String::new();
                            // A failed handshake or a closed connection ends here.
                            if stream.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        served.fetch_add(1, Ordering::SeqCst);
                        let body = r#"{"tls":true}"#;
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let writer = stream.get_mut();
                        if writer.write_all(response.as_bytes()).is_err() || writer.flush().is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        HttpsServer {
            port,
            connections,
            requests,
        }
    }
}

fn trusting_the_test_ca() -> HttpClient {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(CA.to_vec())).unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    HttpClient::builder().tls_config(Arc::new(config)).build()
}

fn get(url: String) -> grantflow::HttpRequest {
    http::Request::get(url).body(Vec::new()).unwrap()
}

#[test]
fn a_certificate_from_a_configured_root_is_accepted_and_the_connection_kept() {
    let server = HttpsServer::start();
    let http = trusting_the_test_ca();
    for _ in 0..2 {
        let response =
            smol::block_on(http.send(get(format!("https://localhost:{}/", server.port)))).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body(), br#"{"tls":true}"#);
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(http.idle_connections(), 1);
}

#[test]
fn the_default_roots_refuse_a_certificate_they_did_not_issue() {
    let server = HttpsServer::start();
    let http = HttpClient::new();
    let error =
        smol::block_on(http.send(get(format!("https://localhost:{}/", server.port)))).unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::Tls, "{error}");
    assert!(!error.is_retryable());
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("UnknownIssuer"), "{source}");
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        0,
        "nothing was sent"
    );
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    // The certificate names `localhost`, not the address 127.0.0.1.
    let server = HttpsServer::start();
    let http = trusting_the_test_ca();
    let error =
        smol::block_on(http.send(get(format!("https://127.0.0.1:{}/", server.port)))).unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::Tls, "{error}");
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("not valid for name"), "{source}");
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        0,
        "nothing was sent"
    );
}
