//! Heap allocations per operation, grantflow next to oauth2-rs 5 and
//! openidconnect-rs 4: a counting global allocator around the system one,
//! each operation run once to warm up (thread generators, lazy statics),
//! then `ROUNDS` times, and the counts divided by `ROUNDS`. It prints a
//! table; it asserts nothing about the counts (the targets are read from
//! the table, as the speed rows are read from criterion's).
//!
//! ```sh
//! cargo bench -p grantflow-benches --bench allocations
//! ```
//!
//! The operations are the ones `flows` and `token_endpoint` time, written
//! the same way (see `common/mod.rs`).

// The one `unsafe` in the benchmarks: a `GlobalAlloc` must be an
// `unsafe impl`, and it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use grantflow::{Flow as _, Step};
use grantflow_benches::{
    CODE, MINIMAL_TOKEN_RESPONSE_BODY, REFRESH_TOKEN, SCOPE, TOKEN_RESPONSE_BODY,
};
use oauth2::basic::BasicTokenResponse;

#[macro_use]
mod common;
use common::{callback_query, canned, grantflow_client, grantflow_exchange, now};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size.saturating_sub(layout.size()) as u64, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: u64 = 1000;

/// Allocations (alloc, alloc_zeroed and realloc calls) and bytes asked for,
/// per run of `op`, over `ROUNDS` runs after one warm-up; `setup` runs
/// outside the count.
fn count<S, T>(mut setup: impl FnMut() -> S, mut op: impl FnMut(S) -> T) -> (f64, f64) {
    black_box(op(setup()));
    let (mut calls, mut bytes) = (0, 0);
    for _ in 0..ROUNDS {
        let input = setup();
        let (c0, b0) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
        let out = op(input);
        let (c1, b1) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
        drop(black_box(out));
        calls += c1 - c0;
        bytes += b1 - b0;
    }
    (calls as f64 / ROUNDS as f64, bytes as f64 / ROUNDS as f64)
}

fn row(operation: &str, ours: (f64, f64), theirs: (f64, f64), anchor: &str) {
    println!(
        "| {operation} | {:.1} | {:.0} | {anchor} | {:.1} | {:.0} | {:.2} |",
        ours.0,
        ours.1,
        theirs.0,
        theirs.1,
        ours.0 / theirs.0
    );
}

fn main() {
    // `cargo test --benches` runs every bench target once: a smoke run.
    let client = grantflow_client();
    // Checked once, as oauth2-rs's client holds its parsed RedirectUrl.
    let redirect = grantflow::RedirectUri::new(grantflow_benches::REDIRECT_URI).unwrap();
    let oauth2 = oauth2_client!();
    let oidc = openidconnect_client!();
    let scope = grantflow::Scope::new(SCOPE).unwrap();
    let full = canned(TOKEN_RESPONSE_BODY);
    let minimal = canned(MINIMAL_TOKEN_RESPONSE_BODY);
    let mut rng = grantflow_ureq::rng();

    println!(
        "allocations per operation (calls to alloc/alloc_zeroed/realloc; bytes asked for), mean of {ROUNDS}"
    );
    println!();
    println!(
        "| operation | grantflow allocs | grantflow bytes | anchor | anchor allocs | anchor bytes | allocs ratio |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|");

    let ours = count(
        || (),
        |()| {
            client
                .authorize(&redirect)
                .unwrap()
                .scope(scope.clone())
                .begin(&mut rng, now())
                .unwrap()
        },
    );
    let theirs = count(
        || (),
        |()| {
            let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
            let (url, csrf) = oauth2
                .authorize_url(oauth2::CsrfToken::new_random)
                .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
                .set_pkce_challenge(challenge)
                .url();
            (url, csrf, verifier)
        },
    );
    row(
        "authorization URL + PKCE S256 + state",
        ours,
        theirs,
        "oauth2-rs",
    );

    let ours = count(
        || (),
        |()| {
            client
                .sign_in(&redirect)
                .unwrap()
                .begin(&mut rng, now())
                .unwrap()
        },
    );
    let theirs = count(
        || (),
        |()| {
            let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
            let (url, csrf, nonce) = oidc
                .authorize_url(
                    openidconnect::AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
                    openidconnect::CsrfToken::new_random,
                    openidconnect::Nonce::new_random,
                )
                .set_pkce_challenge(challenge)
                .url();
            (url, csrf, nonce, verifier)
        },
    );
    row(
        "sign-in URL (+ nonce, openid)",
        ours,
        theirs,
        "openidconnect-rs",
    );

    let mut setup_rng = grantflow_ureq::rng();
    let ours = count(
        || {
            let (url, pending) = client
                .authorize(&redirect)
                .unwrap()
                .scope(grantflow::Scope::new(SCOPE).unwrap())
                .begin(&mut setup_rng, now())
                .unwrap();
            (pending, callback_query(&url))
        },
        |(pending, query)| {
            grantflow_exchange(&client, pending, &query, &full, |r| drop(black_box(r)))
        },
    );
    let theirs = count(
        || {
            let (_, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
            let csrf = oauth2::CsrfToken::new_random();
            let query = format!("?code={CODE}&state={}", csrf.secret());
            (verifier, csrf, query)
        },
        |(verifier, csrf, query)| {
            let basic: BasicTokenResponse =
                oauth2_exchange!(oauth2, verifier, csrf, query, full, |r| drop(black_box(r)));
            basic
        },
    );
    row(
        "code exchange (callback + request + parse)",
        ours,
        theirs,
        "oauth2-rs",
    );

    let refresh_token = grantflow::RefreshToken::new(REFRESH_TOKEN);
    let ours = count(
        || (),
        |()| {
            let mut flow = client.refresh(&refresh_token).unwrap();
            let Step::Send(request) = flow.start(now()).unwrap() else {
                panic!()
            };
            drop(black_box(request));
            flow.handle_response(full.clone(), now()).unwrap()
        },
    );
    let token = oauth2::RefreshToken::new(REFRESH_TOKEN.to_owned());
    let answer = |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
        drop(black_box(request));
        Ok(full.clone())
    };
    let theirs = count(
        || (),
        |()| {
            oauth2
                .exchange_refresh_token(&token)
                .request(&answer)
                .unwrap()
        },
    );
    row("refresh round trip", ours, theirs, "oauth2-rs");

    let ours = count(
        || (),
        |()| {
            let mut flow = client.client_credentials().unwrap().scope(scope.clone());
            let Step::Send(request) = flow.start(now()).unwrap() else {
                panic!()
            };
            drop(black_box(request));
            flow.handle_response(full.clone(), now()).unwrap()
        },
    );
    let theirs = count(
        || (),
        |()| {
            oauth2
                .exchange_client_credentials()
                .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
                .request(&answer)
                .unwrap()
        },
    );
    row("client credentials round trip", ours, theirs, "oauth2-rs");

    for (name, response) in [
        ("token response parse (full)", &full),
        ("token response parse (minimal)", &minimal),
    ] {
        let ours = count(
            || (),
            |()| grantflow::parse_token_response(response, now()).unwrap(),
        );
        let theirs = count(
            || (),
            |()| serde_json::from_slice::<BasicTokenResponse>(response.body()).unwrap(),
        );
        row(
            name,
            ours,
            theirs,
            "bare serde_json into BasicTokenResponse",
        );
    }
    println!();
    println!(
        "(grantflow's token set and oauth2-rs's response count the bytes they keep; the canned response clone is in both round trips)"
    );
}
