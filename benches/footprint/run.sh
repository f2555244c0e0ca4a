#!/usr/bin/env bash
# Footprint of grantflow next to oauth2-rs 5 and openidconnect-rs 4 (both with
# default features off, so no HTTP client): the core's compile time from
# scratch, its dependency count, and what a minimal release binary gains
# from the client credentials flow and from the sign-in (authorization URL,
# code exchange, ID token validation), measured the same way for each.
#
#   bash benches/footprint/run.sh            # about 10 min on 2 vCPUs
#
# The throwaway binaries are written to a temporary directory (nothing is
# committed but this script): each reads its inputs from argv so nothing is
# folded away, sends no request (a closure or the caller plays the server),
# and is built with the release profile plus `strip = true`, each in its own
# target directory. Sizes are of the stripped binaries; "gain" is the size
# less that of a binary that only prints its arguments.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${FOOTPRINT_DIR:-$(mktemp -d /tmp/grantflow-footprint.XXXXXX)}
echo "work dir: $work"
echo "machine: $(nproc) cores, $(uptime)"
rustc --version

new_bin() { # name, dependencies, main.rs
  mkdir -p "$work/$1/src"
  cat >"$work/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$2

[profile.release]
strip = true
codegen-units = 1
lto = true
panic = "abort"

[workspace]
TOML
  printf '%s\n' "$3" >"$work/$1/src/main.rs"
}

gf="grantflow = { path = \"$repo/crates/grantflow\" }"
# The core without its default `es256` feature (no ES256 signing, no p256).
gf_lean="grantflow = { path = \"$repo/crates/grantflow\", default-features = false }"
oa='oauth2 = { version = "5", default-features = false }'
oi='openidconnect = { version = "4.1", default-features = false }'
hp='http = "1"'

new_bin baseline "" 'fn main() { let a: Vec<String> = std::env::args().collect(); println!("{}", a.len()); }'

new_bin grantflow_cc "$gf
$hp" '
use grantflow::{Flow as _, Step, UnixTime};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let client = grantflow::Client::new(grantflow::ClientId::new(a[1].as_str()),
        grantflow::ClientAuth::ClientSecretBasic(grantflow::ClientSecret::new(a[2].as_str())))
        .with_token_endpoint(grantflow::EndpointUrl::parse(a[3].as_str()).unwrap());
    let now = UnixTime::from_secs(a[4].parse().unwrap());
    let mut flow = client.client_credentials().unwrap();
    let Step::Send(request) = flow.start(now).unwrap() else { return };
    println!("{:?}", request);
    let response = http::Response::builder().status(200).header("content-type", "application/json").body(a[5].clone().into_bytes()).unwrap();
    if let Ok(Step::Done(tokens)) = flow.handle_response(response, now) { println!("{:?}", tokens.expires_at); }
}'

new_bin oauth2_cc "$oa
$hp" '
use oauth2::TokenResponse as _;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new(a[1].clone()))
        .set_client_secret(oauth2::ClientSecret::new(a[2].clone()))
        .set_token_uri(oauth2::TokenUrl::new(a[3].clone()).unwrap());
    let body = a[5].clone().into_bytes();
    let http = |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
        println!("{:?}", request.uri());
        Ok(http::Response::builder().status(200).header("content-type", "application/json").body(body.clone()).unwrap())
    };
    if let Ok(tokens) = client.exchange_client_credentials().request(&http) { println!("{:?}", tokens.expires_in()); }
}'

new_bin grantflow_sign_in "$gf
$hp" '
use grantflow::{Flow as _, Step, UnixTime};
struct Rng(u64);
impl grantflow::rand_core::TryRng for Rng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> { self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1); Ok(self.0) }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> { for b in dst { *b = self.try_next_u64()? as u8; } Ok(()) }
}
impl grantflow::rand_core::TryCryptoRng for Rng {}
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let client = grantflow::Client::new(grantflow::ClientId::new(a[1].as_str()),
        grantflow::ClientAuth::ClientSecretBasic(grantflow::ClientSecret::new(a[2].as_str())))
        .with_issuer(grantflow::Issuer::new(a[6].as_str()).unwrap())
        .with_authorization_endpoint(grantflow::EndpointUrl::parse(a[7].as_str()).unwrap())
        .with_token_endpoint(grantflow::EndpointUrl::parse(a[3].as_str()).unwrap())
        .with_jwks(grantflow::JwkSet::from_json(a[8].as_bytes()).unwrap());
    let now = UnixTime::from_secs(a[4].parse().unwrap());
    let (url, pending) = client.sign_in(a[9].as_str()).unwrap().begin(&mut Rng(now.as_secs()), now).unwrap();
    println!("{url}");
    let Ok(mut exchange) = pending.callback(&client, a[10].as_str(), now) else { return };
    let Step::Send(request) = exchange.start(now).unwrap() else { return };
    println!("{:?}", request);
    let response = http::Response::builder().status(200).header("content-type", "application/json").body(a[5].clone().into_bytes()).unwrap();
    if let Ok(Step::Done(sign_in)) = exchange.handle_response(response, now) { println!("{:?}", sign_in.id_token); }
}'

new_bin openidconnect_sign_in "$oi
$hp" '
use openidconnect::core::{CoreClient, CoreJsonWebKeySet, CoreResponseType};
use openidconnect::{AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge, OAuth2TokenResponse as _, TokenResponse as _};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let jwks: CoreJsonWebKeySet = serde_json::from_str(&a[8]).unwrap();
    let client = CoreClient::new(openidconnect::ClientId::new(a[1].clone()), openidconnect::IssuerUrl::new(a[6].clone()).unwrap(), jwks)
        .set_client_secret(openidconnect::ClientSecret::new(a[2].clone()))
        .set_auth_uri(openidconnect::AuthUrl::new(a[7].clone()).unwrap())
        .set_token_uri(openidconnect::TokenUrl::new(a[3].clone()).unwrap())
        .set_redirect_uri(openidconnect::RedirectUrl::new(a[9].clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client.authorize_url(AuthenticationFlow::<CoreResponseType>::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge).url();
    println!("{url}");
    let url = url::Url::parse(&a[10]).unwrap();
    let Some(code) = url.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()) else { return };
    if url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).as_deref() != Some(csrf.secret().as_str()) { return }
    let body = a[5].clone().into_bytes();
    let http = |request: openidconnect::HttpRequest| -> Result<openidconnect::HttpResponse, std::io::Error> {
        println!("{:?}", request.uri());
        Ok(http::Response::builder().status(200).header("content-type", "application/json").body(body.clone()).unwrap())
    };
    let Ok(tokens) = client.exchange_code(openidconnect::AuthorizationCode::new(code)).set_pkce_verifier(verifier).request(&http) else { return };
    println!("{:?}", tokens.expires_in());
    if let Some(id_token) = tokens.id_token() {
        if let Ok(claims) = id_token.claims(&client.id_token_verifier(), &nonce) { println!("{:?}", claims.subject()); }
    }
}'
# openidconnect_sign_in also reads the query with url and the key set with serde_json, both already in its tree.
sed -i "/^$oi\$/a url = \"2\"\nserde_json = \"1\"" "$work/openidconnect_sign_in/Cargo.toml"

size_of() { stat -c %s "$work/$1/target/release/$1"; }
echo
echo "| binary | stripped size (bytes) | gain over baseline (KiB) |"
echo "|---|---:|---:|"
for bin in baseline grantflow_cc oauth2_cc grantflow_sign_in openidconnect_sign_in; do
  (cd "$work/$bin" && cargo generate-lockfile -q 2>/dev/null || true)
  (cd "$work/$bin" && cargo build --release -q)
  size=$(size_of $bin)
  base=${base:-$size}
  printf '| %s | %d | %.0f |\n' "$bin" "$size" "$(echo "($size - $base) / 1024" | bc -l)"
done

echo
echo "dependencies: distinct crates in the normal (not build, not dev) dependency tree, the binary itself left out:"
for bin in grantflow_cc oauth2_cc openidconnect_sign_in; do
  n=$(cd "$work/$bin" && cargo tree -e normal --prefix none | sed 's/ (\*)//' | sort -u | grep -v "^$bin " | wc -l)
  echo "  $bin: $n"
done
n=$(cd "$repo" && cargo tree -p grantflow --no-default-features -e normal --prefix none | sed 's/ (\*)//' | sort -u | grep -v "^grantflow " | wc -l)
echo "  grantflow, default features off (no es256): $n"

echo
echo "compile time of the library alone from scratch (cargo build --release, fresh target dir):"
for lib in grantflow grantflow_lean oauth2 openidconnect; do
  dir="$work/lib_$lib"; mkdir -p "$dir/src"; touch "$dir/src/lib.rs"
  case $lib in grantflow) dep=$gf;; grantflow_lean) dep=$gf_lean;; oauth2) dep=$oa;; openidconnect) dep=$oi;; esac
  printf '[package]\nname = "lib_%s"\nversion = "0.0.0"\nedition = "2024"\n[dependencies]\n%s\n[workspace]\n' "$lib" "$dep" >"$dir/Cargo.toml"
  (cd "$dir" && cargo fetch -q)
  start=$(date +%s.%N)
  (cd "$dir" && cargo build --release -q)
  end=$(date +%s.%N)
  printf '  %s: %.0f s, load %s\n' "$lib" "$(echo "$end - $start" | bc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
