//! The `kulturplan` command: serve the API, migrate, seed, issue tokens, print the OpenAPI document.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kulturplan::auth::{JwtKeys, parse_scopes};
use kulturplan::config::Config;
use kulturplan::domain::Scope;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "kulturplan",
    version,
    about = "The regional cultural plan as a REST/JSON API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed, apply migrations, and serve the API.
    Serve,
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Load the seed data (idempotent; rows edited through the API are kept unless --force).
    Seed {
        /// Overwrite rows that were changed after they were seeded.
        #[arg(long)]
        force: bool,
        /// Seeds directory (default: SEEDS_DIR or ./seeds).
        #[arg(long)]
        dir: Option<String>,
    },
    /// Print a signed token for the configured key.
    Token {
        /// A scope: read, plans:write, follow_ups:write, admin (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Bind the token to an actor (follow-up writes only for that actor's activities).
        #[arg(long)]
        actor: Option<Uuid>,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
        /// Who the token speaks for (recorded as reporter of follow-ups).
        #[arg(long, default_value = "operator")]
        subject: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Manage integration clients (service accounts that get tokens with client credentials).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a client and print its id and secret (the secret is shown only now).
    Create {
        /// A name people recognise, e.g. "Askersunds kommun uppföljning".
        #[arg(long)]
        name: String,
        /// A scope: read, plans:write, follow_ups:write, admin (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Bind the client to an actor (follow-up writes only for that actor's activities).
        #[arg(long)]
        actor: Option<Uuid>,
    },
    /// List every client, revoked ones included.
    List,
    /// Revoke a client: its secret and tokens stop working at once.
    Revoke { id: Uuid },
    /// Give a client a new secret and print it (the old one stops working).
    Rotate { id: Uuid },
}

fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("bad duration {raw:?}: use e.g. 30m, 1h, 7d"))?;
    let seconds = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("bad duration unit in {raw:?}: use s, m, h or d")),
    };
    if seconds == 0 {
        return Err("the lifetime must be positive".into());
    }
    Ok(Duration::from_secs(seconds))
}

fn init_tracing(config: Option<&Config>) {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let production =
        config.is_some_and(|c| c.environment == kulturplan::config::Environment::Production);
    if production || std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        // Colours for a terminal only: a log redirected to a file stays plain text.
        use std::io::IsTerminal;
        fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Openapi => {
            print!("{}", kulturplan::openapi::document_json());
        }
        Command::Token {
            scopes,
            actor,
            ttl,
            subject,
        } => {
            let config = Config::from_env()?;
            let scopes: BTreeSet<Scope> =
                parse_scopes(&scopes.join(" ")).map_err(anyhow::Error::msg)?;
            let token = JwtKeys::new(&config).issue(&subject, &scopes, actor, None, ttl)?;
            println!("{token}");
        }
        Command::Clients { command } => {
            let config = Config::from_env()?;
            init_tracing(Some(&config));
            prepare_database(&config).await?;
            clients(&config, command).await?;
        }
        Command::Migrate => {
            let config = Config::from_env()?;
            init_tracing(Some(&config));
            prepare_database(&config).await?;
        }
        Command::Seed { force, dir } => {
            let config = Config::from_env()?;
            init_tracing(Some(&config));
            prepare_database(&config).await?;
            let dir = dir.unwrap_or_else(|| config.seeds_dir.clone());
            let report =
                kulturplan::seed::run(&config.database_url, std::path::Path::new(&dir), force)
                    .await?;
            println!("{report}");
        }
        Command::Serve => {
            let config = Config::from_env()?;
            init_tracing(Some(&config));
            prepare_database(&config).await?;
            let listener = TcpListener::bind(&config.bind_addr)?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "listening; docs at http://{addr}/docs/");
            let state = kulturplan::AppState::new(config)?;
            let pool = state.pool.clone();
            kulturplan::serve(listener, state)?.await?;
            // In-flight requests are done: close the connections.
            pool.close();
            tracing::info!("stopped");
        }
    }
    Ok(())
}

/// The `clients` subcommands, through the same database functions as `/api/v1/clients`.
async fn clients(config: &Config, command: ClientsCommand) -> anyhow::Result<()> {
    use diesel_async::AsyncConnection as _;
    use kulturplan::auth::{hash_client_secret, new_client_secret};
    use kulturplan::db::clients as db;
    let mut conn = diesel_async::AsyncPgConnection::establish(&config.database_url).await?;
    let secret_and_hash = || -> anyhow::Result<(String, String)> {
        let secret = new_client_secret()?;
        let hash = hash_client_secret(&secret)?;
        Ok((secret, hash))
    };
    match command {
        ClientsCommand::Create {
            name,
            scopes,
            actor,
        } => {
            let scopes: Vec<Scope> = parse_scopes(&scopes.join(" "))
                .map_err(anyhow::Error::msg)?
                .into_iter()
                .collect();
            kulturplan::api::clients::check_new_client(&name, &scopes)?;
            let (secret, secret_hash) = tokio::task::spawn_blocking(secret_and_hash).await??;
            let new = db::NewClient {
                id: Uuid::new_v4(),
                name,
                secret_hash,
                scopes,
                actor_id: actor,
            };
            let row = db::insert(&mut conn, &new).await?;
            print_secret(&row, &secret);
        }
        ClientsCommand::List => {
            let mut after = None;
            println!("client_id\tname\tscopes\tactor_id\tcreated_at\trevoked_at");
            loop {
                let page = kulturplan::db::pagination::Page {
                    limit: kulturplan::db::pagination::MAX_LIMIT,
                    after,
                };
                let rows = db::list(&mut conn, &page).await?;
                for row in &rows {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        row.id,
                        row.name,
                        row.scopes
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                        row.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                        row.created_at.to_rfc3339(),
                        row.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    );
                }
                match rows.last() {
                    Some(last) if i64::try_from(rows.len()).is_ok_and(|n| n == page.fetch()) => {
                        after = Some((last.created_at, last.id));
                    }
                    _ => break,
                }
            }
        }
        ClientsCommand::Revoke { id } => {
            let row = db::revoke(&mut conn, id).await?;
            println!(
                "revoked client {} ({}); its tokens no longer work",
                row.id, row.name
            );
        }
        ClientsCommand::Rotate { id } => {
            let (secret, secret_hash) = tokio::task::spawn_blocking(secret_and_hash).await??;
            let row = db::set_secret(&mut conn, id, &secret_hash).await?;
            print_secret(&row, &secret);
        }
    }
    Ok(())
}

fn print_secret(row: &kulturplan::db::clients::ClientRow, secret: &str) {
    println!("client_id:     {}", row.id);
    println!("client_secret: {secret}");
    println!("name:          {}", row.name);
    eprintln!("The secret is shown only now: store it safely. Tokens: POST /api/v1/auth/token");
}

async fn prepare_database(config: &Config) -> anyhow::Result<()> {
    if kulturplan::db::create_database_if_missing(&config.database_url).await? {
        tracing::info!("created the database");
    }
    for name in kulturplan::db::migrate(&config.database_url).await? {
        tracing::info!(migration = %name, "applied");
    }
    Ok(())
}
