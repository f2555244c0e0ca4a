//! Many flows at once through the async adapter on one thread: 500
//! concurrent client credentials flows (RFC 6749 §4.4) on a single-threaded
//! executor (smol's `LocalExecutor`, run by `block_on` on the test's own
//! thread) against the bundled provider, sharing one client and its pool.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

use grantflow::{Scope, TokenType};
use grantflow_async::{HttpClient, drive};
use grantflow_tests::provider::{CC_BASIC, Provider};

const FLOWS: usize = 500;

#[test]
fn five_hundred_concurrent_client_credentials_flows_on_one_thread_all_complete() {
    let provider = Provider::shared();
    let client = provider.client(CC_BASIC).unwrap();
    let http = HttpClient::new();
    let executor = smol::LocalExecutor::new();
    let test_thread = std::thread::current().id();
    // Counted by the tasks: `Rc` and `Cell` are not `Send`, so this compiles
    // only because every task runs on this one thread.
    let completed = Rc::new(Cell::new(0));

    let tokens = futures_lite::future::block_on(executor.run(async {
        let tasks: Vec<_> = (0..FLOWS)
            .map(|_| {
                let flow = client
                    .client_credentials()
                    .unwrap()
                    .scope(Scope::new("api:read").unwrap());
                let http = &http;
                let completed = completed.clone();
                executor.spawn(async move {
                    let tokens = drive(http, flow).await;
                    assert_eq!(std::thread::current().id(), test_thread);
                    completed.set(completed.get() + 1);
                    tokens
                })
            })
            .collect();
        let mut tokens = Vec::with_capacity(FLOWS);
        for task in tasks {
            tokens.push(task.await.unwrap());
        }
        tokens
    }));

    assert_eq!(completed.get(), FLOWS);
    assert_eq!(tokens.len(), FLOWS);
    assert!(tokens.iter().all(|t| t.token_type == TokenType::Bearer));
    let distinct: HashSet<_> = tokens.iter().map(|t| t.access_token.secret()).collect();
    assert_eq!(distinct.len(), FLOWS, "each flow got a token of its own");
    // The connections went back to the pool, up to its per-host share.
    assert_eq!(
        http.idle_connections(),
        HttpClient::DEFAULT_MAX_IDLE_PER_HOST
    );
}
