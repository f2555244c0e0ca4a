//! Client credentials on smol: OpenID discovery of an issuer, then a token.
//!
//! ```text
//! cargo run -p grantflow-async --example smol -- https://issuer.example.com my-client my-secret api:read
//! ```

use grantflow::{Client, ClientAuth, ClientId, ClientSecret, Discovery, Issuer, Scope};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: smol <issuer> <client_id> <client_secret> [scope]";
    let issuer = args.next().ok_or(usage)?;
    let client_id = args.next().ok_or(usage)?;
    let secret = args.next().ok_or(usage)?;
    let scope = args.next();

    smol::block_on(async {
        let http = grantflow_async::HttpClient::new();
        let provider =
            grantflow_async::drive(&http, Discovery::openid(Issuer::new(&issuer)?)).await?;
        let client = Client::from_provider(
            &provider,
            ClientId::new(client_id),
            ClientAuth::ClientSecretBasic(ClientSecret::new(secret)),
        );
        let mut flow = client.client_credentials()?;
        if let Some(scope) = scope {
            flow = flow.scope(Scope::new(scope)?);
        }
        let tokens =
            grantflow_async::drive_observed(&http, flow, |event| eprintln!("{event:?}")).await?;
        // The token itself is a secret: print what it is, not what it says.
        println!(
            "{:?} token, expires in {:?} s",
            tokens.token_type,
            tokens.expires_in(grantflow_async::now())
        );
        Ok(())
    })
}
