//! The PostgreSQL pool and the versioned migrations applied at start-up.

use deadpool_postgres::{Config, Pool, Runtime};
use tokio_postgres::NoTls;

/// Versioned SQL, applied in order, each once, in one transaction.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "identity",
    include_str!("../../migrations/0001_identity.sql"),
)];

/// Serializes migrations of gateways starting at the same time (an arbitrary constant).
const MIGRATION_LOCK: i64 = 0x666c_6f77_666f_7267;

/// A pool for `url`; connections are opened on first use, in the runtime that uses them.
pub fn pool(url: &str, size: usize) -> anyhow::Result<Pool> {
    let mut config = Config::new();
    config.url = Some(url.to_owned());
    config.pool = Some(deadpool_postgres::PoolConfig {
        max_size: size,
        timeouts: deadpool_postgres::Timeouts {
            wait: Some(std::time::Duration::from_secs(2)),
            create: Some(std::time::Duration::from_secs(2)),
            recycle: Some(std::time::Duration::from_secs(2)),
        },
        ..Default::default()
    });
    Ok(config.create_pool(Some(Runtime::Tokio1), NoTls)?)
}

/// Applies the migrations `url` has not seen yet, on a connection of its own.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<i32>> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(connection);
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS flowforge_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let applied: Vec<i32> = transaction
        .query("SELECT version FROM flowforge_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut newly = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        transaction.batch_execute(sql).await?;
        transaction
            .execute(
                "INSERT INTO flowforge_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .await?;
        newly.push(*version);
    }
    transaction.commit().await?;
    drop(client);
    let _ = driver.await;
    Ok(newly)
}
