//! The client credentials flow (RFC 6749 §4.4) driven end to end with a
//! fuzzed client and a fuzzed response: `start`, then `handle_response`,
//! then every call that must now be refused.
//!
//! Beyond `token_response`, this reaches request building: client
//! authentication with arbitrary ids and secrets (RFC 6749 §2.3.1 form-encodes
//! both before base64), scope validation and joining, extra parameters and
//! the reserved-name check, and the flow's state machine.
//!
//! Input: one byte picking the client authentication (`b % 3`: basic, post,
//! none), the response header of `grantflow_fuzz` (status, content type,
//! time), then NUL-separated fields: client id, client secret, scopes
//! (space-separated), one extra parameter (`name=value`, or an `audience`
//! without `=`, or nothing when empty), and the response body (the rest).

#![no_main]

use base64::Engine as _;
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Error, Flow, Scope, Step,
    parse_token_response,
};
use grantflow_fuzz::{Reader, build_response, check_token_result, quoted, response_header};
use libfuzzer_sys::fuzz_target;

const TOKEN_ENDPOINT: &str = "https://as.example.com/token";

/// Parameters the flow sets itself, which it must refuse as extras.
const RESERVED: [&str; 6] = [
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn form_decode(part: &str) -> String {
    let pair = format!("x={part}");
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn unexpected_call(result: Result<Step<grantflow::TokenSet>, Error>) {
    match result {
        Err(Error::UnexpectedCall { .. }) => {}
        Err(other) => panic!("expected UnexpectedCall, got {other:?}"),
        Ok(_) => panic!("expected UnexpectedCall, got a step"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let auth_choice = reader.byte() % 3;
    let (status, content_type, now) = response_header(&mut reader);
    let mut fields = reader.rest().splitn(5, |&b| b == 0);
    let mut field = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let (id, secret, scopes, extra) = (field(), field(), field(), field());
    let body = fields.next().unwrap_or_default();

    let auth = match auth_choice {
        0 => ClientAuth::ClientSecretBasic(ClientSecret::new(secret.clone())),
        1 => ClientAuth::ClientSecretPost(ClientSecret::new(secret.clone())),
        _ => ClientAuth::None,
    };
    let client = Client::new(ClientId::new(id.clone()), auth)
        .with_token_endpoint(EndpointUrl::parse(TOKEN_ENDPOINT).expect("a valid https url"));

    let mut flow = match client.client_credentials() {
        Ok(flow) => {
            assert!(
                auth_choice < 2,
                "a public client started client credentials"
            );
            flow
        }
        Err(Error::PublicClientNotAllowed { .. }) if auth_choice == 2 => return,
        Err(other) => panic!("unexpected error {other:?}"),
    };

    let mut requested = Vec::new();
    for token in scopes.split(' ').filter(|s| !s.is_empty()) {
        match Scope::new(token) {
            Ok(scope) => {
                assert!(is_scope_token(token), "accepted scope {token:?}");
                requested.push(token.to_owned());
                flow = flow.scope(scope);
            }
            Err(Error::InvalidScopeToken) => {
                assert!(!is_scope_token(token), "refused scope {token:?}");
            }
            Err(other) => panic!("unexpected scope error {other:?}"),
        }
    }

    let mut expected_error = None;
    let mut extra_pair = None;
    if let Some((name, value)) = extra.split_once('=') {
        if RESERVED.contains(&name) {
            expected_error = Some("reserved");
        } else if name == "resource" && value.contains('#') {
            expected_error = Some("resource with fragment");
        }
        extra_pair = Some((name.to_owned(), value.to_owned()));
        flow = flow.param(name, value);
    } else if !extra.is_empty() {
        extra_pair = Some(("audience".to_owned(), extra.clone()));
        flow = flow.audience(extra.clone());
    }

    let request = match (flow.start(now), expected_error) {
        (Ok(Step::Send(request)), None) => request,
        (Err(Error::ReservedParameter { name }), Some("reserved")) => {
            assert_eq!(Some(name), extra_pair.map(|(n, _)| n));
            return;
        }
        (Err(Error::InvalidUrl { .. }), Some("resource with fragment")) => return,
        (Ok(_), expected) => panic!("start did not send, or did despite {expected:?}"),
        (Err(e), expected) => panic!("start failed with {e:?}, expected {expected:?}"),
    };

    // The request, as RFC 6749 §4.4.2 and §2.3.1 want it.
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), TOKEN_ENDPOINT);
    assert_eq!(
        request.headers()[http::header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(request.headers()[http::header::ACCEPT], "application/json");
    let mut sent: Vec<(String, String)> = form_urlencoded::parse(request.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut expected = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    if !requested.is_empty() {
        expected.push(("scope".to_owned(), requested.join(" ")));
    }
    expected.extend(extra_pair);
    let authorization = request.headers().get(http::header::AUTHORIZATION);
    if auth_choice == 0 {
        let value = authorization.expect("client_secret_basic sends Authorization");
        assert!(value.is_sensitive());
        let encoded = value
            .to_str()
            .expect("ascii")
            .strip_prefix("Basic ")
            .expect("the Basic scheme");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("valid base64");
        let decoded = String::from_utf8(decoded).expect("form-encoded is ascii");
        let (user, pass) = decoded.split_once(':').expect("id:secret");
        assert_eq!(form_decode(user), id);
        assert_eq!(form_decode(pass), secret);
    } else {
        assert!(authorization.is_none(), "client_secret_post sent a header");
        expected.push(("client_id".to_owned(), id.clone()));
        expected.push(("client_secret".to_owned(), secret.clone()));
    }
    sent.sort();
    expected.sort();
    assert_eq!(sent, expected);

    // The response: the flow must agree with the parser it is built on.
    let response = build_response(status, content_type, body);
    let direct = parse_token_response(&response, now);
    let via_flow = match flow.handle_response(response.clone(), now) {
        Ok(Step::Done(tokens)) => Ok(tokens),
        Ok(_) => panic!("client credentials took a second step"),
        Err(e) => Err(e),
    };
    // A token of a type the client does not understand (anything but
    // Bearer, for a client without DPoP or extra accepted types) is refused
    // by the flow (RFC 6749 §7.1), naming the type as the core quotes it.
    if let (Ok(tokens), Err(error)) = (&direct, &via_flow) {
        assert_ne!(
            tokens.token_type,
            grantflow::TokenType::Bearer,
            "a Bearer token refused"
        );
        let raw = tokens.token_type.as_str();
        let own = [
            tokens.access_token.secret(),
            tokens.refresh_token.as_ref().map_or("", |t| t.secret()),
            tokens.id_token.as_ref().map_or("", |t| t.as_str()),
        ];
        let holds_own = own.iter().any(|t| !t.is_empty() && raw.contains(t));
        let secret_sent = auth_choice != 2 && !secret.is_empty();
        match error {
            // A type that may be a token (a token-like run, or one of the
            // answer's own tokens) is withheld whole.
            Error::UnsupportedTokenType { token_type }
                if token_type == "<withheld: it looks like a token>" =>
            {
                assert!(
                    grantflow_fuzz::looks_like_token(raw) || holds_own,
                    "withheld {raw:?}, which looks like no token"
                )
            }
            // One quoting the client secret the request carried, too, as
            // sent or as shown (the core looks in what it would show, so a
            // secret `0` is found in an escaped NUL, `\u{0}`, and a secret
            // `+` in the mark of a cut: cautious).
            Error::UnsupportedTokenType { token_type }
                if token_type == "<withheld: it quoted the token>" =>
            {
                assert!(
                    secret_sent
                        && (raw.contains(&secret)
                            || quoted(raw).contains(&secret)
                            || quoted(raw).contains(&quoted(&secret))
                            // cut: the mark `…(+N bytes)` may hold it
                            || quoted(raw).len() > 64),
                    "withheld {raw:?} for a secret it does not hold"
                )
            }
            Error::UnsupportedTokenType { token_type } => {
                assert!(
                    grantflow_fuzz::is_quote_of(token_type, raw, 64),
                    "{token_type:?} names {raw:?}"
                );
                assert!(!grantflow_fuzz::looks_like_token(raw) && !holds_own);
                assert!(
                    !secret_sent
                        || !(token_type.contains(&secret) || token_type.contains(&quoted(&secret))),
                    "the secret in {token_type:?}"
                );
            }
            other => panic!("the parser accepted what the flow refused with {other:?}"),
        }
        unexpected_call(flow.handle_response(response, now));
        unexpected_call(flow.start(now));
        unexpected_call(flow.handle_timeout(now));
        return;
    }
    check_token_result(&response, now, &via_flow);
    match (&direct, &via_flow) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                a.token_type,
                grantflow::TokenType::Bearer,
                "{:?} accepted",
                a.token_type
            );
            assert_eq!(a.access_token.secret(), b.access_token.secret());
        }
        (Err(a), Err(b)) => {
            // The flow withholds the client secret from what a server
            // quotes (an echo in a description, an excerpt holding it), so
            // the two differ only when the parser's text shows the secret,
            // as sent or as the core escapes it.
            let (a, b) = (a.to_string(), b.to_string());
            let shows_secret = |text: &str| {
                !secret.is_empty() && (text.contains(&secret) || text.contains(&quoted(&secret)))
            };
            if a != b {
                assert!(
                    shows_secret(&a),
                    "the flow changed an error without a secret in it: {a} / {b}"
                );
            }
        }
        _ => panic!("the flow and the parser disagree"),
    }

    // The flow is over, whatever the outcome.
    unexpected_call(flow.handle_response(response, now));
    unexpected_call(flow.start(now));
    unexpected_call(flow.handle_timeout(now));
});
