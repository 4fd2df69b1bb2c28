//! Write scripts: several statements sent to SQLite as one call.
//!
//! sqlx runs a SQLite connection on a worker thread of its own, and every call is a round trip
//! to that thread (two thread wake-ups). A write of a few small rows spent most of its time in
//! those hops rather than in SQLite, and the tenant's writes wait on each other, so each hop
//! was paid in the latency of every write queued behind it. A [`Script`] joins the statements
//! of one write into one call: each statement is written as it would be sent alone (its
//! parameters `?1`, `?2`, ...) and renumbered past the parameters of those before it (as
//! `$n`, see [`renumber`]), and its values are added in the order of its parameters, so a
//! statement binds the same way in a script as alone.

use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, Encode, Sqlite, SqliteConnection, Type};

/// Statements to run in one call, in order, with their values.
#[derive(Default)]
pub(super) struct Script {
    sql: String,
    args: SqliteArguments,
    /// Parameters of the statements so far.
    params: usize,
    /// The first value that could not be encoded, or a statement bound with the wrong count.
    error: Option<String>,
}

/// The values of one statement of a [`Script`], added in the order of its parameters.
pub(super) struct Values<'a> {
    script: &'a mut Script,
    added: usize,
}

impl Values<'_> {
    /// Adds the value of the statement's next parameter.
    pub(super) fn add<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Sqlite> + Type<Sqlite> + 't,
    {
        if let Err(e) = Arguments::add(&mut self.script.args, value) {
            self.script.error.get_or_insert(e.to_string());
        }
        self.added += 1;
        self
    }
}

impl Script {
    /// Appends `statement` (parameters `?1` to `?n`), with the `n` values `values` adds.
    pub(super) fn push(&mut self, statement: &str, values: impl FnOnce(&mut Values<'_>)) {
        let offset = self.params;
        let n = match renumber(statement, offset, &mut self.sql) {
            Ok(n) => n,
            Err(e) => {
                self.error.get_or_insert(e);
                0
            }
        };
        self.sql.push_str(";\n");
        let mut added = Values {
            script: self,
            added: 0,
        };
        values(&mut added);
        let added = added.added;
        if added != n {
            self.error.get_or_insert(format!(
                "a script statement has {n} parameters but was given {added} values"
            ));
        }
        self.params += n;
    }

    /// Runs the statements in order on `conn` (inside the caller's transaction) and answers
    /// the rows they return; the first statement that fails stops the script.
    pub(super) async fn run(self, conn: &mut SqliteConnection) -> sqlx::Result<Vec<SqliteRow>> {
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e.into()));
        }
        sqlx::query_with(sqlx::AssertSqlSafe(self.sql), self.args)
            .fetch_all(conn)
            .await
    }
}

/// Writes `statement` to `out` with each parameter `?n` as `$(n + offset)`; the highest `n`.
/// Text in single quotes is copied as it is; the statements hold no comments. A bare `?` (a
/// parameter numbered by position) is refused: its number would depend on the statements
/// before it.
///
/// The `$` form matters: SQLite gives `?n` the slot `n` of its statement, so a later statement
/// of a script would have unnamed slots below its first parameter (and sqlx stops binding at
/// an unnamed slot past the values), while `$n` is a name, placed in the next free slot, which
/// sqlx binds to the `n`th value by that name.
fn renumber(statement: &str, offset: usize, out: &mut String) -> Result<usize, String> {
    let mut highest = 0;
    let mut chars = statement.char_indices().peekable();
    let mut quoted = false;
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c == '\'' {
            quoted = !quoted; // '' inside a literal closes and reopens it: the same
            continue;
        }
        if quoted || c != '?' {
            continue;
        }
        let mut n = 0usize;
        let mut digits = false;
        while let Some(&(_, d)) = chars.peek() {
            let Some(v) = d.to_digit(10) else { break };
            n = n * 10 + v as usize;
            digits = true;
            chars.next();
        }
        if !digits {
            return Err(format!("a script statement has a bare `?`: {statement}"));
        }
        highest = highest.max(n);
        out.pop();
        out.push('$');
        out.push_str(&(n + offset).to_string());
    }
    Ok(highest)
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    async fn memory() -> SqliteConnection {
        <SqliteConnection as sqlx::Connection>::connect("sqlite::memory:")
            .await
            .unwrap()
    }

    #[test]
    fn parameters_move_past_the_ones_before() {
        let mut out = String::new();
        let n = renumber("SELECT ?2, '?1', ?10 WHERE x = ?1", 3, &mut out);
        assert_eq!(out, "SELECT $5, '?1', $13 WHERE x = $4");
        assert_eq!(n, Ok(10));
    }

    #[tokio::test]
    async fn a_bare_parameter_is_refused_before_anything_runs() {
        let mut conn = memory().await;
        let mut script = Script::default();
        script.push("CREATE TABLE t (a TEXT)", |_| {});
        script.push("INSERT INTO t (a) VALUES (?)", |v| {
            v.add("x");
        });
        let e = script.run(&mut conn).await.unwrap_err();
        assert!(e.to_string().contains("bare `?`"), "{e}");
        let made: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 't'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(made, 0);
    }

    #[tokio::test]
    async fn statements_bind_as_they_would_alone() {
        let mut conn = memory().await;
        let mut script = Script::default();
        script.push("CREATE TABLE t (a TEXT, b INTEGER)", |_| {});
        script.push("INSERT INTO t (b, a) VALUES (?2, ?1)", |v| {
            v.add("x").add(1_i64);
        });
        script.push(
            "INSERT INTO t (a, b) VALUES (?1, ?2) RETURNING b * 10",
            |v| {
                v.add("y").add(3_i64);
            },
        );
        script.push(
            "INSERT INTO t (a, b) SELECT ?1, ?2 WHERE ?1 IS NOT NULL",
            |v| {
                v.add(None::<&str>).add(2_i64);
            },
        );
        script.push(
            "INSERT INTO t (a, b) SELECT ?1, ?2 WHERE ?1 IS NOT NULL",
            |v| {
                v.add("z").add(4_i64);
            },
        );
        let rows = script.run(&mut conn).await.unwrap();
        let returned: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(returned, [30]);
        let all: Vec<(String, i64)> = sqlx::query_as("SELECT a, b FROM t ORDER BY b")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let want = [("x", 1), ("y", 3), ("z", 4)].map(|(a, b)| (a.to_owned(), b));
        assert_eq!(all, want);
    }

    #[tokio::test]
    async fn every_statement_of_a_long_script_gets_its_own_values() {
        let mut conn = memory().await;
        let mut script = Script::default();
        script.push(
            "CREATE TABLE t (a INTEGER NOT NULL, b INTEGER NOT NULL, c TEXT NOT NULL)",
            |_| {},
        );
        for i in 0..12_i64 {
            // parameters used out of order and one twice, as the library's statements do
            script.push("INSERT INTO t (c, a, b) VALUES (?3, ?1, ?2 + ?1)", |v| {
                v.add(i).add(100 * i).add(format!("row {i}"));
            });
        }
        script.run(&mut conn).await.unwrap();
        let all: Vec<(i64, i64, String)> = sqlx::query_as("SELECT a, b, c FROM t ORDER BY a")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let want: Vec<_> = (0..12_i64)
            .map(|i| (i, 101 * i, format!("row {i}")))
            .collect();
        assert_eq!(all, want);
    }

    #[tokio::test]
    async fn a_statement_given_too_few_values_runs_nothing() {
        let mut conn = memory().await;
        let mut script = Script::default();
        script.push("CREATE TABLE t (a TEXT)", |_| {});
        script.push("INSERT INTO t (a) VALUES (?1)", |_| {});
        let e = script.run(&mut conn).await.unwrap_err();
        assert!(
            e.to_string().contains("1 parameters but was given 0"),
            "{e}"
        );
        let made: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 't'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(made, 0);
    }
}
