//! Live sessions written straight into the database, in bulk: a million logins through the
//! API would take hours of argon2 and would measure nothing we want here.
//!
//! Session `i` belongs to seeded user `i / 10` and has one access and one refresh token, like
//! a real login. Token secrets are derived from the session number and a random tag of this
//! database, so the benchmark can present any of them without storing a million strings;
//! they are throwaway credentials in a throwaway database. The server only ever sees their
//! SHA-256, exactly as for the tokens it mints itself.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adieu_core::TokenHash;
use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// Sessions per seeded user.
const SESSIONS_PER_USER: u64 = 10;
/// Lifetime of seeded access tokens: longer than any benchmark run.
const SEEDED_TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);

/// Writes seeded sessions into one database.
pub(crate) struct Seeder {
    db: Db,
    /// Eight hex digits that make this database's ids and tokens its own.
    tag: String,
}

enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The access token of seeded session `i`.
pub(crate) fn access_token(tag: &str, i: u64) -> String {
    format!("adieu_at_{tag}a{i:034}")
}

fn refresh_token(tag: &str, i: u64) -> String {
    format!("adieu_rt_{tag}r{i:034}")
}

fn session_id(tag: &str, i: u64) -> String {
    format!("5eed{tag}{i:020x}")
}

fn user_id(tag: &str, u: u64) -> String {
    format!("5ee0{tag}{u:020x}")
}

/// Users needed for sessions `0..n`.
fn users_for(n: u64) -> u64 {
    n.div_ceil(SESSIONS_PER_USER)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

impl Seeder {
    /// Opens a database that `adieu serve` has already migrated.
    pub(crate) async fn open(database_url: &str) -> anyhow::Result<Self> {
        let db = if database_url.starts_with("sqlite:") {
            // Durability does not matter for a throwaway bulk load; speed does.
            let options = SqliteConnectOptions::from_str(database_url)?
                .synchronous(SqliteSynchronous::Off)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .context("opening the SQLite database to seed it")?,
            )
        } else {
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .connect(database_url)
                    .await
                    .context("opening the PostgreSQL database to seed it")?,
            )
        };
        Ok(Self {
            db,
            tag: hex::encode(adieu_core::random_bytes::<4>()),
        })
    }

    /// The access token of seeded session `i`.
    pub(crate) fn access_token(&self, i: u64) -> String {
        access_token(&self.tag, i)
    }

    /// Seeds sessions `from..to` (with their users and tokens).
    pub(crate) async fn seed(&self, from: u64, to: u64) -> anyhow::Result<()> {
        const CHUNK: u64 = 50_000;
        let mut start = from;
        while start < to {
            let end = (start + CHUNK).min(to);
            match &self.db {
                Db::Sqlite(pool) => self.seed_sqlite(pool, start, end).await?,
                Db::Postgres(pool) => self.seed_postgres(pool, start, end).await?,
            }
            start = end;
        }
        if let Db::Postgres(pool) = &self.db {
            // Fresh statistics, as autovacuum would give a long-lived database.
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    /// Size of the database on disk, in bytes.
    pub(crate) async fn size_bytes(&self, sqlite_file: Option<&Path>) -> Option<u64> {
        match &self.db {
            Db::Postgres(pool) => {
                sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())")
                    .fetch_one(pool)
                    .await
                    .ok()
                    .map(|n| n as u64)
            }
            Db::Sqlite(_) => {
                let file = sqlite_file?;
                let wal = file.with_extension("db-wal");
                let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                Some(size(file) + size(&wal))
            }
        }
    }

    /// Closes the connection, so that nothing of ours stays open while a node is measured.
    pub(crate) async fn close(self) {
        match self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    async fn seed_postgres(&self, pool: &PgPool, from: u64, to: u64) -> anyhow::Result<()> {
        let now = now_millis();
        let expires = now + SEEDED_TOKEN_TTL.as_millis() as i64;
        let tag = &self.tag;
        let mut tx = pool.begin().await?;
        // The same formulas as `user_id`, `session_id` and the token functions above, so
        // that PostgreSQL hashes a million tokens without a round trip each.
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at) \
             SELECT '5ee0' || $1 || lpad(to_hex(u), 20, '0'), 'seed-' || $1 || '-' || u, '!', $2 \
             FROM generate_series($3::bigint, $4::bigint - 1) AS u",
        )
        .bind(tag)
        .bind(now)
        .bind(users_for(from) as i64)
        .bind(users_for(to) as i64)
        .execute(&mut *tx)
        .await
        .context("seeding users")?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, kind, created_at, last_active_at) \
             SELECT '5eed' || $1 || lpad(to_hex(i), 20, '0'), \
                    '5ee0' || $1 || lpad(to_hex(i / $5), 20, '0'), 'api', $2, $2 \
             FROM generate_series($3::bigint, $4::bigint - 1) AS i",
        )
        .bind(tag)
        .bind(now)
        .bind(from as i64)
        .bind(to as i64)
        .bind(SESSIONS_PER_USER as i64)
        .execute(&mut *tx)
        .await
        .context("seeding sessions")?;
        for (prefix, letter, kind) in [("adieu_at_", "a", "access"), ("adieu_rt_", "r", "refresh")]
        {
            sqlx::query(
                "INSERT INTO tokens (hash, session_id, kind, created_at, expires_at) \
                 SELECT sha256(convert_to($6 || $1 || $7 || lpad(i::text, 34, '0'), 'UTF8')), \
                        '5eed' || $1 || lpad(to_hex(i), 20, '0'), $8, $2, $5 \
                 FROM generate_series($3::bigint, $4::bigint - 1) AS i",
            )
            .bind(tag)
            .bind(now)
            .bind(from as i64)
            .bind(to as i64)
            .bind(expires)
            .bind(prefix)
            .bind(letter)
            .bind(kind)
            .execute(&mut *tx)
            .await
            .context("seeding tokens")?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn seed_sqlite(&self, pool: &SqlitePool, from: u64, to: u64) -> anyhow::Result<()> {
        // SQLite has no SHA-256 in SQL, so rows are built here and sent as multi-row INSERTs
        // with two parameters a row, far below SQLite's limit of 32766 parameters.
        const ROWS: usize = 4000;
        let now = now_millis();
        let expires = now + SEEDED_TOKEN_TTL.as_millis() as i64;
        let tag = &self.tag;
        let mut tx = pool.begin().await?;

        let users: Vec<(String, String)> = (users_for(from)..users_for(to))
            .map(|u| (user_id(tag, u), format!("seed-{tag}-{u}")))
            .collect();
        for chunk in users.chunks(ROWS) {
            let sql = multi_row(
                "INSERT INTO users (id, username, password_hash, created_at) VALUES ",
                &format!("(?, ?, '!', {now})"),
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for (id, name) in chunk {
                q = q.bind(id).bind(name);
            }
            q.execute(&mut *tx).await.context("seeding users")?;
        }

        let sessions: Vec<(String, String)> = (from..to)
            .map(|i| (session_id(tag, i), user_id(tag, i / SESSIONS_PER_USER)))
            .collect();
        for chunk in sessions.chunks(ROWS) {
            let sql = multi_row(
                "INSERT INTO sessions (id, user_id, kind, created_at, last_active_at) VALUES ",
                &format!("(?, ?, 'api', {now}, {now})"),
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for (id, user) in chunk {
                q = q.bind(id).bind(user);
            }
            q.execute(&mut *tx).await.context("seeding sessions")?;
        }

        for (kind, token) in [
            ("access", access_token as fn(&str, u64) -> String),
            ("refresh", refresh_token),
        ] {
            let rows: Vec<(Vec<u8>, String)> = (from..to)
                .map(|i| {
                    let hash = TokenHash::of(&token(tag, i)).as_bytes().to_vec();
                    (hash, session_id(tag, i))
                })
                .collect();
            for chunk in rows.chunks(ROWS) {
                let sql = multi_row(
                    "INSERT INTO tokens (hash, session_id, kind, created_at, expires_at) VALUES ",
                    &format!("(?, ?, '{kind}', {now}, {expires})"),
                    chunk.len(),
                );
                let mut q = sqlx::query(&sql);
                for (hash, session) in chunk {
                    q = q.bind(hash.as_slice()).bind(session);
                }
                q.execute(&mut *tx).await.context("seeding tokens")?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

fn multi_row(head: &str, row: &str, n: usize) -> String {
    let mut sql = String::with_capacity(head.len() + n * (row.len() + 1));
    sql.push_str(head);
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(row);
    }
    sql
}

#[cfg(test)]
mod tests {
    use adieu_core::TokenKind;
    use adieu_core::token::parse;

    use super::*;

    #[test]
    fn seeded_tokens_and_ids_have_the_shape_of_real_ones() {
        let tag = "0badf00d";
        for i in [0, 7, 999_999, u64::from(u32::MAX)] {
            let at = access_token(tag, i);
            let rt = refresh_token(tag, i);
            assert_eq!(parse(TokenKind::Access, &at), Ok(TokenHash::of(&at)));
            assert_eq!(parse(TokenKind::Refresh, &rt), Ok(TokenHash::of(&rt)));
            assert_eq!(session_id(tag, i).len(), 32);
            assert_eq!(user_id(tag, i).len(), 32);
        }
        assert_ne!(access_token(tag, 1), access_token(tag, 2));
    }

    #[test]
    fn every_seeded_session_has_its_user() {
        assert_eq!(users_for(0), 0);
        assert_eq!(users_for(1), 1);
        assert_eq!(users_for(10), 1);
        assert_eq!(users_for(11), 2);
        // Seeding 0..1000 and then 1000..1_000_000 creates each user once.
        assert_eq!(users_for(1000), 100);
        assert_eq!((999_999 / SESSIONS_PER_USER), users_for(1_000_000) - 1);
    }

    #[test]
    fn multi_row_inserts_repeat_the_row() {
        assert_eq!(multi_row("V ", "(?)", 3), "V (?),(?),(?)");
    }
}
