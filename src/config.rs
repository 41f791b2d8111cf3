//! Configuration, read once from the environment at start-up (12-factor).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// The secret `make run` and the tests use; refused in production.
pub const DEVELOPMENT_SECRET: &str = "kulturplan-development-secret-do-not-use-in-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub bind_addr: String,
    pub jwt_secret: SecretString,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub environment: Environment,
    /// Most connections the pool opens.
    pub db_pool_size: usize,
    /// How long a request waits for a pooled connection before it is answered 503.
    pub db_acquire_timeout: Duration,
    /// Longest a single SQL statement may run.
    pub db_statement_timeout: Duration,
    /// Lifetime of tokens issued by the token endpoint.
    pub token_ttl: Duration,
    /// Seeds directory loaded by `kulturplan seed`.
    pub seeds_dir: String,
    /// Most bytes of rendered answers kept in memory (0: none kept).
    pub response_cache_bytes: u64,
    /// Browser origins (`https://portal.example.se`) allowed to call the API cross-origin.
    pub cors_allowed_origins: Vec<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a valid value")),
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let environment = match var("APP_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => anyhow::bail!("APP_ENV={other:?}: expected development or production"),
        };
        let config = Config {
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/kulturplan".into()),
            bind_addr: var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
            jwt_secret: SecretString::from(
                var("JWT_SECRET").unwrap_or_else(|| DEVELOPMENT_SECRET.into()),
            ),
            jwt_issuer: var("JWT_ISSUER").unwrap_or_else(|| "kulturplan".into()),
            jwt_audience: var("JWT_AUDIENCE").unwrap_or_else(|| "kulturplan-api".into()),
            environment,
            db_pool_size: parse_var("DB_POOL_SIZE", 16)?,
            db_acquire_timeout: Duration::from_millis(parse_var("DB_ACQUIRE_TIMEOUT_MS", 3000)?),
            db_statement_timeout: Duration::from_millis(parse_var(
                "DB_STATEMENT_TIMEOUT_MS",
                10_000,
            )?),
            token_ttl: Duration::from_secs(parse_var("TOKEN_TTL_SECONDS", 900)?),
            seeds_dir: var("SEEDS_DIR").unwrap_or_else(|| "seeds".into()),
            response_cache_bytes: parse_var::<u64>("RESPONSE_CACHE_MIB", 32)?
                .saturating_mul(1024 * 1024),
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        };
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that would be unsafe where they are about to be used.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.environment == Environment::Production {
            let secret = self.jwt_secret.expose_secret();
            if secret == DEVELOPMENT_SECRET {
                anyhow::bail!(
                    "APP_ENV=production refuses the development JWT_SECRET; set JWT_SECRET"
                );
            }
            if secret.len() < 32 {
                anyhow::bail!("APP_ENV=production needs a JWT_SECRET of at least 32 bytes");
            }
        }
        for origin in &self.cors_allowed_origins {
            // An origin is scheme, host and port; `*` would let every site read with a token.
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if !host.is_some_and(|h| !h.is_empty() && !h.contains(['/', '*', ' '])) {
                anyhow::bail!(
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin like https://portal.example.se"
                );
            }
        }
        if self.db_pool_size == 0 {
            anyhow::bail!("DB_POOL_SIZE must be at least 1");
        }
        Ok(())
    }

    /// A configuration for tests and tools: development defaults for the given database.
    pub fn for_database(database_url: String) -> Self {
        Config {
            database_url,
            bind_addr: "127.0.0.1:0".into(),
            jwt_secret: SecretString::from(DEVELOPMENT_SECRET),
            jwt_issuer: "kulturplan".into(),
            jwt_audience: "kulturplan-api".into(),
            environment: Environment::Development,
            db_pool_size: 4,
            db_acquire_timeout: Duration::from_secs(3),
            db_statement_timeout: Duration::from_secs(10),
            token_ttl: Duration::from_secs(900),
            seeds_dir: "seeds".into(),
            response_cache_bytes: 8 * 1024 * 1024,
            cors_allowed_origins: Vec::new(),
        }
    }
}
