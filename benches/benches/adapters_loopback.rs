//! Client CPU per client credentials flow (RFC 6749 §4.4) over loopback,
//! through the async adapter (`grantflow-async`, its built-in client, on
//! `async_io::block_on`) and the blocking ureq adapter (`grantflow-ureq`),
//! next to oauth2-rs 5 with its `ureq` feature (ureq 2).
//!
//! The bench starts a minimal HTTP/1.1 server on 127.0.0.1 (std::net, a
//! thread per connection, keep-alive) that answers every request with the
//! canned token response, and runs the same flow through each adapter in
//! alternating rounds. CPU is read from Linux's `/proc/self/task/*/schedstat`
//! (each thread's time on a CPU, in nanoseconds), so no `unsafe` is needed:
//!
//! - "client thread": the thread that drives the flows (ureq does all its
//!   work there; so does the async client under `async_io::block_on`, which
//!   polls the reactor on the calling thread);
//! - "client threads": every live thread of the process but the server's
//!   (for the async adapter this adds async-io's helper thread and the
//!   `blocking` pool that resolves the address before the one connect). A
//!   thread that has exited is no longer listed (grantflow-ureq used to
//!   spawn one per request to resolve `127.0.0.1`; it now answers IP
//!   literals itself, see its `IpLiteralResolver`);
//! - "process total": the whole process's CPU from `/proc/self/stat`
//!   (exited threads included, in 10 ms ticks, so ±10 ms per round) less
//!   the server threads' own.
//!
//! Wall time per flow is printed beside it. `cargo bench -p grantflow-benches
//! --bench adapters_loopback` measures (3 rounds of 2,000 flows per adapter
//! after 200 of warm-up); without `--bench` (as `cargo test --benches` runs
//! it) it only checks both adapters against the server, 20 flows each.
//! Linux only (it reads `/proc`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Scope, TokenSet};
use grantflow_benches::{CLIENT_ID, CLIENT_SECRET, JSON_CONTENT_TYPE, SCOPE, TOKEN_RESPONSE_BODY};

/// The loopback token endpoint: how many requests and connections it has
/// seen, and the ids of its own threads (left out of the client's CPU).
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    threads: Arc<Mutex<Vec<u32>>>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// The calling thread's id, from `/proc/thread-self` (`PID/task/TID`).
fn thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("Linux /proc/thread-self");
    link.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .expect("a thread id")
}

/// Nanoseconds this task (thread) has spent on a CPU.
fn cpu_ns(task: &str) -> u64 {
    let stat =
        std::fs::read_to_string(format!("/proc/self/task/{task}/schedstat")).unwrap_or_default();
    stat.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .unwrap_or(0)
}

/// The whole process's user and system time, exited threads included, in
/// nanoseconds (`/proc/self/stat` counts in ticks of 1/100 s, Linux's
/// `USER_HZ`).
fn process_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc/self/stat");
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field, utime the 14th and stime the 15th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields[i].parse::<u64>().unwrap();
    (ticks(11) + ticks(12)) * 10_000_000
}

/// CPU of the calling thread, of every live thread but `excluded`, of the
/// `excluded` ones, and of the whole process.
fn cpu_snapshot(excluded: &[u32]) -> [u64; 4] {
    let own = cpu_ns(&thread_id().to_string());
    let (mut others, mut server) = (0, 0);
    for entry in std::fs::read_dir("/proc/self/task").expect("Linux /proc") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.parse().is_ok_and(|tid: u32| excluded.contains(&tid)) {
            server += cpu_ns(&name);
        } else {
            others += cpu_ns(&name);
        }
    }
    [own, others, server, process_ns()]
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {JSON_CONTENT_TYPE}\r\ncache-control: no-store\r\ncontent-length: {}\r\n\r\n",
            TOKEN_RESPONSE_BODY.len()
        )
        .into_bytes();
        response.extend_from_slice(TOKEN_RESPONSE_BODY);
        let response: Arc<[u8]> = response.into();
        {
            let (requests, connections, threads, bodies) = (
                requests.clone(),
                connections.clone(),
                threads.clone(),
                bodies.clone(),
            );
            std::thread::spawn(move || {
                threads.lock().unwrap().push(thread_id());
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let (requests, threads, bodies, response) = (
                        requests.clone(),
                        threads.clone(),
                        bodies.clone(),
                        response.clone(),
                    );
                    std::thread::spawn(move || {
                        threads.lock().unwrap().push(thread_id());
                        serve(stream, &response, &requests, &bodies);
                    });
                }
            });
        }
        Server {
            port,
            requests,
            connections,
            threads,
            bodies,
        }
    }

    fn threads(&self) -> Vec<u32> {
        self.threads.lock().unwrap().clone()
    }
}

/// Answers each request on one kept-alive connection with `response`.
fn serve(stream: TcpStream, response: &[u8], requests: &AtomicUsize, bodies: &Mutex<Vec<Vec<u8>>>) {
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if requests.fetch_add(1, Ordering::SeqCst) < 2 {
            bodies.lock().unwrap().push(body);
        }
        if writer.write_all(response).is_err() {
            return;
        }
    }
}

fn client(server: &Server) -> Client {
    Client::new(
        ClientId::new(CLIENT_ID),
        ClientAuth::ClientSecretBasic(ClientSecret::new(CLIENT_SECRET)),
    )
    .with_token_endpoint(
        EndpointUrl::parse(&format!("http://127.0.0.1:{}/token", server.port)).unwrap(),
    )
}

fn scope() -> Scope {
    Scope::new(SCOPE).unwrap()
}

/// What one adapter runs: `flows` client credentials flows, one after the
/// other, each checked.
trait Adapter {
    const NAME: &str;
    fn run(&self, client: &Client, flows: usize);
}

struct Ureq(grantflow_ureq::HttpClient);

impl Adapter for Ureq {
    const NAME: &str = "grantflow-ureq";
    fn run(&self, client: &Client, flows: usize) {
        for _ in 0..flows {
            let flow = client.client_credentials().unwrap().scope(scope());
            check(&grantflow_ureq::drive(&self.0, flow).unwrap());
        }
    }
}

/// oauth2-rs 5 with its `ureq` feature (ureq 2's `Agent` as its HTTP
/// client), configured as its docs advise (no redirects), client_secret_basic
/// like the others.
struct OAuth2Ureq {
    agent: oauth2::ureq::Agent,
    client: oauth2::basic::BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
}

impl OAuth2Ureq {
    fn new(server: &Server) -> Self {
        OAuth2Ureq {
            agent: oauth2::ureq::AgentBuilder::new().redirects(0).build(),
            client: oauth2::basic::BasicClient::new(oauth2::ClientId::new(CLIENT_ID.to_owned()))
                .set_client_secret(oauth2::ClientSecret::new(CLIENT_SECRET.to_owned()))
                .set_token_uri(
                    oauth2::TokenUrl::new(format!("http://127.0.0.1:{}/token", server.port))
                        .unwrap(),
                ),
        }
    }
}

impl Adapter for OAuth2Ureq {
    const NAME: &str = "oauth2-rs+ureq2";
    fn run(&self, _: &Client, flows: usize) {
        use oauth2::TokenResponse as _;
        for _ in 0..flows {
            let tokens = self
                .client
                .exchange_client_credentials()
                .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
                .request(&self.agent)
                .unwrap();
            assert_eq!(
                std::hint::black_box(&tokens).access_token().secret(),
                "2YotnFZFEjr1zCsicMWpAA"
            );
        }
    }
}

struct Async(grantflow_async::HttpClient);

impl Adapter for Async {
    const NAME: &str = "grantflow-async";
    fn run(&self, client: &Client, flows: usize) {
        async_io::block_on(async {
            for _ in 0..flows {
                let flow = client.client_credentials().unwrap().scope(scope());
                check(&grantflow_async::drive(&self.0, flow).await.unwrap());
            }
        });
    }
}

fn check(tokens: &TokenSet) {
    assert_eq!(
        std::hint::black_box(tokens).access_token.secret(),
        "2YotnFZFEjr1zCsicMWpAA"
    );
}

/// One measured round: CPU of the client thread, of the client's live
/// threads, of the process less the server, and wall time, each per flow,
/// in microseconds.
fn round<A: Adapter>(adapter: &A, client: &Client, server: &Server, flows: usize) -> [f64; 4] {
    let excluded = server.threads();
    let before = server.requests.load(Ordering::SeqCst);
    let [own0, all0, server0, total0] = cpu_snapshot(&excluded);
    let start = Instant::now();
    adapter.run(client, flows);
    let wall = start.elapsed();
    let [own1, all1, server1, total1] = cpu_snapshot(&excluded);
    assert_eq!(
        server.requests.load(Ordering::SeqCst) - before,
        flows,
        "one request per flow"
    );
    let per = |ns: u64| ns as f64 / flows as f64 / 1000.0;
    [
        per(own1.saturating_sub(own0)),
        per(all1.saturating_sub(all0)),
        per(total1
            .saturating_sub(total0)
            .saturating_sub(server1.saturating_sub(server0))),
        per(u64::try_from(wall.as_nanos()).unwrap()),
    ]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let measure = std::env::args().any(|arg| arg == "--bench");
    let (warm_up, flows, rounds) = if measure {
        (200, 2_000, 3)
    } else {
        (20, 20, 1)
    };

    let server = Server::start();
    let client = client(&server);
    let ureq = Ureq(grantflow_ureq::HttpClient::new());
    let async_client = Async(grantflow_async::HttpClient::new());
    let oauth2 = OAuth2Ureq::new(&server);

    // Both adapters send the same request and keep one connection alive.
    ureq.run(&client, warm_up);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    async_client.run(&client, warm_up);
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        2,
        "keep-alive: one connection per adapter"
    );
    {
        let bodies = server.bodies.lock().unwrap();
        assert_eq!(bodies[0], b"grant_type=client_credentials&scope=api%3Aread");
        assert_eq!(bodies[0], bodies[1], "both adapters send the same body");
    }
    oauth2.run(&client, warm_up);
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        3,
        "keep-alive: one connection for oauth2-rs too"
    );
    {
        let bodies = server.bodies.lock().unwrap();
        let last = bodies.last().unwrap();
        assert_eq!(last, &bodies[0], "oauth2-rs sends the same body");
    }

    let mut results: [Vec<[f64; 4]>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rounds {
        results[0].push(round(&ureq, &client, &server, flows));
        results[1].push(round(&async_client, &client, &server, flows));
        results[2].push(round(&oauth2, &client, &server, flows));
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
    if !measure {
        println!(
            "adapters_loopback: both adapters checked ({flows} flows each, debug build, not a measurement: \
             {:.0?} / {:.0?} / {:.0?} µs per flow); run with `cargo bench` to measure",
            results[0][0], results[1][0], results[2][0]
        );
        return;
    }

    println!(
        "client credentials over loopback, {rounds} rounds of {flows} flows per adapter, alternating (µs per flow)"
    );
    println!(
        "{:<16} {:>5} {:>14} {:>15} {:>14} {:>10}",
        "adapter", "round", "client thread", "client threads", "process total", "wall"
    );
    let names = [Ureq::NAME, Async::NAME, OAuth2Ureq::NAME];
    let row = |name: &str, label: &str, [own, all, total, wall]: [f64; 4]| {
        println!("{name:<16} {label:>5} {own:>14.2} {all:>15.2} {total:>14.2} {wall:>10.2}");
    };
    for (name, rows) in names.iter().zip(&results) {
        for (i, values) in rows.iter().enumerate() {
            row(name, &(i + 1).to_string(), *values);
        }
    }
    let medians: Vec<[f64; 4]> = results
        .iter()
        .map(|rows| {
            core::array::from_fn(|c| median(&mut rows.iter().map(|r| r[c]).collect::<Vec<_>>()))
        })
        .collect();
    for (name, values) in names.iter().zip(&medians) {
        row(name, "med", *values);
    }
    for (i, label) in [(0, "grantflow-ureq"), (1, "grantflow-async")] {
        let ratio = |c: usize| medians[i][c] / medians[2][c];
        println!(
            "{label} / oauth2-rs+ureq2 (medians): client thread {:.2}, client threads {:.2}, process total {:.2}, wall {:.2}",
            ratio(0),
            ratio(1),
            ratio(2),
            ratio(3)
        );
    }
}
