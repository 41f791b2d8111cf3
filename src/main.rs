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
        fmt()
            .with_env_filter(filter)
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

async fn prepare_database(config: &Config) -> anyhow::Result<()> {
    if kulturplan::db::create_database_if_missing(&config.database_url).await? {
        tracing::info!("created the database");
    }
    for name in kulturplan::db::migrate(&config.database_url).await? {
        tracing::info!(migration = %name, "applied");
    }
    Ok(())
}
