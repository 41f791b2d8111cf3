//! Loads `seeds/` into the database.

use std::path::Path;

pub async fn run(_database_url: &str, dir: &Path, _force: bool) -> anyhow::Result<String> {
    anyhow::bail!("seed loading from {} is not available yet", dir.display())
}
