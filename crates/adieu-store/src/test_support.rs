//! Helpers for tests that need a real PostgreSQL: a fresh database per test.

/// The environment variable naming the PostgreSQL server tests may use.
pub const POSTGRES_URL_VAR: &str = "ADIEU_TEST_POSTGRES_URL";

/// A fresh, empty PostgreSQL database, dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub struct TempDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TempDatabase {
    /// Creates a database on the server that `ADIEU_TEST_POSTGRES_URL` names.
    ///
    /// Panics with a clear message when the variable is unset: tests that call this are
    /// `#[ignore]`d unless the variable is provided.
    pub async fn create() -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!("{POSTGRES_URL_VAR} must name a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/test")
        });
        let name = format!("adieu_test_{}", adieu_core::new_id());
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_URL_VAR}: {e}"));
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE");
        let base = admin_url
            .split('?')
            .next()
            .and_then(|u| u.rsplit_once('/'))
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs one SQL statement against the server as the administrator (for fault
    /// injection: terminating backends, refusing connections).
    pub async fn admin(&self, sql: &str) -> Result<(), sqlx::Error> {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&self.admin_url).await?;
        sqlx::Executor::execute(&mut admin, sql).await?;
        Ok(())
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside an async runtime: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut admin) =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await
                {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::Executor::execute(&mut admin, sql.as_str()).await;
                }
            });
        })
        .join();
    }
}
