//! Building SQL with a variable number of conditions and arguments, with `$n` placeholders that
//! both backends accept.

use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::{Any, AnyConnection, AssertSqlSafe};

/// An argument of a built query.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A text value.
    Text(String),
    /// An integer value.
    Int(i64),
    /// A binary value.
    Bytes(Vec<u8>),
    /// A text value or NULL.
    OptText(Option<String>),
    /// A floating-point value.
    Float(f64),
    /// An integer value or NULL.
    OptInt(Option<i64>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}

impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}

impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(v)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

/// SQL text plus its arguments, numbered in the order they are added.
#[derive(Debug, Clone, Default)]
pub struct SqlBuilder {
    sql: String,
    args: Vec<Arg>,
}

impl SqlBuilder {
    /// Starts with `sql`.
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Registers an argument and returns its placeholder (`$n`).
    pub fn arg(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }

    /// Registers an argument and appends its placeholder to the SQL text (no intermediate
    /// string: a bulk statement has thousands).
    fn push_arg(&mut self, value: Arg) {
        use std::fmt::Write as _;
        self.args.push(value);
        let _ = write!(self.sql, "${}", self.args.len());
    }

    /// Appends ` AND <condition>` where `{}` in `condition` is replaced by a new argument's
    /// placeholder.
    pub fn and(&mut self, condition: &str, value: impl Into<Arg>) -> &mut Self {
        let placeholder = self.arg(value);
        self.sql.push_str(" AND ");
        self.sql.push_str(&condition.replace("{}", &placeholder));
        self
    }

    /// Appends ` AND (columns) > (key)` when there is a key: the rows after a page's last row
    /// in the order of `columns` (a row-value comparison both backends read from an index on
    /// those columns).
    pub fn after<T: Into<Arg>>(&mut self, columns: &str, key: Option<Vec<T>>) -> &mut Self {
        self.bound(columns, ">", key)
    }

    /// Appends ` AND (columns) < (key)` when there is a key: [`SqlBuilder::after`] for lists in
    /// descending order.
    pub fn before<T: Into<Arg>>(&mut self, columns: &str, key: Option<Vec<T>>) -> &mut Self {
        self.bound(columns, "<", key)
    }

    fn bound<T: Into<Arg>>(&mut self, columns: &str, op: &str, key: Option<Vec<T>>) -> &mut Self {
        if let Some(key) = key {
            let list = self.list(key);
            self.sql.push_str(&format!(" AND ({columns}) {op} ({list})"));
        }
        self
    }

    /// Appends ` ORDER BY <order> LIMIT <limit>`.
    pub fn order_limit(&mut self, order: &str, limit: i64) -> &mut Self {
        let limit = self.arg(limit);
        self.sql.push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
        self
    }

    /// A comma-separated list of new placeholders for `values` (a tuple; `IN` lists take
    /// [`SqlBuilder::in_list`]).
    pub fn list<I, T>(&mut self, values: I) -> String
    where
        I: IntoIterator<Item = T>,
        T: Into<Arg>,
    {
        use std::fmt::Write as _;
        let mut list = String::new();
        for (i, v) in values.into_iter().enumerate() {
            self.args.push(v.into());
            let _ = write!(list, "{}${}", if i > 0 { ", " } else { "" }, self.args.len());
        }
        list
    }

    /// The placeholders of an `IN (...)` list of `values`, their number rounded up to a power
    /// of two by repeating the last value (which `IN` ignores): lists of every length would
    /// each be another prepared statement, and connections keep up to a hundred of them
    /// (SQLite compiled in the process), so lookups of a few hundred ids grew memory by the
    /// hundreds of megabytes.
    pub fn in_list<I, T>(&mut self, values: I) -> String
    where
        I: IntoIterator<Item = T>,
        T: Into<Arg>,
    {
        let mut values: Vec<Arg> = values.into_iter().map(Into::into).collect();
        if let Some(last) = values.last().cloned() {
            values.resize(values.len().next_power_of_two(), last);
        }
        self.list(values)
    }

    /// Appends `INSERT INTO <head> VALUES (..), (..)` with one tuple of placeholders per row
    /// (a multi-row insert). `head` is `table (col, ...)`; each row has one value per column.
    pub fn insert_rows<R, V>(head: &str, rows: R) -> Self
    where
        R: IntoIterator<Item = V>,
        V: IntoIterator<Item = Arg>,
    {
        let mut b = Self::new(&format!("INSERT INTO {head} VALUES "));
        b.rows(rows);
        b
    }

    /// Appends `(..), (..)`: one tuple of placeholders per row, for a multi-row insert or a
    /// `FROM (VALUES ...)` that updates many rows at once.
    pub fn rows<R, V>(&mut self, rows: R) -> &mut Self
    where
        R: IntoIterator<Item = V>,
        V: IntoIterator<Item = Arg>,
    {
        for (i, row) in rows.into_iter().enumerate() {
            self.sql.push_str(if i > 0 { ", (" } else { "(" });
            for (j, value) in row.into_iter().enumerate() {
                if j > 0 {
                    self.sql.push_str(", ");
                }
                self.push_arg(value);
            }
            self.sql.push(')');
        }
        self
    }

    /// The SQL text so far.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement, ready to run; the text and arguments move into it (a bulk statement's
    /// payloads are not copied).
    pub fn build(self) -> Statement {
        Statement {
            sql: self.sql,
            args: self.args,
            planned_per_run: false,
        }
    }
}

/// A built statement, run on a connection of either backend.
///
/// On SQLite, placeholders `$1, $2, ...` that each appear once and in order run as `?`:
/// SQLite finds a numbered parameter's name by walking the list of every parameter name, once
/// per argument bound, so binding a multi-row insert of thousands of arguments took time
/// quadratic in their number (most of an import's time in a profile).
#[derive(Debug)]
pub struct Statement {
    sql: String,
    args: Vec<Arg>,
    planned_per_run: bool,
}

impl Statement {
    /// The same statement, planned for its arguments each time it runs rather than prepared
    /// once: for a report over a range of a big table. PostgreSQL switches a prepared statement
    /// to a generic plan after five runs, and a generic plan assumes a range holds 0.5% of the
    /// table: for a year of three it read a third of the table's pages through a bitmap, one
    /// core, where the plan made for the year reads an index in parallel.
    pub fn planned_per_run(mut self) -> Self {
        self.planned_per_run = true;
        self
    }

    fn query(self, conn: &AnyConnection) -> sqlx::query::Query<'static, Any, AnyArguments> {
        let sql = match conn.backend_name() {
            "SQLite" => anonymous_placeholders(&self.sql).unwrap_or(self.sql),
            _ => self.sql,
        };
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(!self.planned_per_run);
        for arg in self.args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
                Arg::Bytes(v) => query.bind(v),
                Arg::OptText(v) => query.bind(v),
                Arg::Float(v) => query.bind(v),
                Arg::OptInt(v) => query.bind(v),
            };
        }
        query
    }

    /// Runs the statement.
    pub async fn execute(self, conn: &mut AnyConnection) -> sqlx::Result<AnyQueryResult> {
        self.query(conn).execute(conn).await
    }

    /// Runs the query; every row.
    pub async fn fetch_all(self, conn: &mut AnyConnection) -> sqlx::Result<Vec<AnyRow>> {
        self.query(conn).fetch_all(conn).await
    }

    /// Runs the query; every row as a `T` (a tuple takes the columns in order).
    pub async fn fetch_all_as<T>(self, conn: &mut AnyConnection) -> sqlx::Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow>,
    {
        self.fetch_all(conn).await?.iter().map(T::from_row).collect()
    }

    /// Runs the query; its first row, if any.
    pub async fn fetch_optional(self, conn: &mut AnyConnection) -> sqlx::Result<Option<AnyRow>> {
        self.query(conn).fetch_optional(conn).await
    }

    /// Runs the query; its first row.
    pub async fn fetch_one(self, conn: &mut AnyConnection) -> sqlx::Result<AnyRow> {
        self.query(conn).fetch_one(conn).await
    }
}

/// `sql` with `$1, $2, ...` as `?`, if each appears once and in order (outside quoted text);
/// none otherwise.
fn anonymous_placeholders(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut next, mut quoted, mut copied, mut i) = (1usize, false, 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let end = i + 1 + bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if sql[i + 1..end].parse::<usize>().ok()? != next {
                    return None;
                }
                next += 1;
                out.push_str(&sql[copied..i]);
                out.push('?');
                copied = end;
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// `rows` cut into the chunks of one multi-row insert each: as many of `max` rows as there are,
/// then the rest in descending powers of two down to the last [`SMALL_INSERT`] rows or fewer,
/// which go in one statement. A few statement shapes serve every count (see
/// [`SqlBuilder::in_list`] for why shapes matter), and the few rows a call usually writes (a
/// new party's duplicate links) take one round trip, not up to three.
pub fn insert_chunks<T>(rows: &[T], max: usize) -> Vec<&[T]> {
    let max = max.max(1);
    let mut chunks = Vec::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let take = if rest.len() >= max {
            max
        } else if rest.len() <= SMALL_INSERT {
            rest.len()
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(take);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Rows at most that [`insert_chunks`] writes in a statement of their own count.
pub const SMALL_INSERT: usize = 7;

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The last of `rows` for each key, in key order: the rows of one multi-row upsert, which may
/// not touch a row twice.
pub fn last_per_key<T>(rows: &[T], key: impl Fn(&T) -> &str) -> Vec<&T> {
    let mut latest: std::collections::BTreeMap<&str, &T> = std::collections::BTreeMap::new();
    for row in rows {
        latest.insert(key(row), row);
    }
    latest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_row_per_key_wins_in_key_order() {
        let rows = [("b", 1), ("a", 2), ("b", 3)];
        let kept: Vec<_> = last_per_key(&rows, |r| r.0).into_iter().copied().collect();
        assert_eq!(kept, [("a", 2), ("b", 3)]);
    }

    #[test]
    fn numbers_placeholders_in_order() {
        let mut b = SqlBuilder::new("SELECT 1 FROM t WHERE 1 = 1");
        b.and("a = {}", "x").and("b > {}", 3);
        let list = b.list(["p", "q"]);
        b.push(&format!(" AND c IN ({list})"));
        assert_eq!(
            b.sql(),
            "SELECT 1 FROM t WHERE 1 = 1 AND a = $1 AND b > $2 AND c IN ($3, $4)"
        );
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }

    #[test]
    fn in_lists_and_insert_chunks_come_in_few_shapes() {
        let mut b = SqlBuilder::new("SELECT 1 FROM t WHERE a IN (");
        let list = b.in_list(["p", "q", "r"]);
        assert_eq!(list, "$1, $2, $3, $4");
        assert_eq!(b.args[3], Arg::from("r"));
        let rows: Vec<usize> = (0..1237).collect();
        let sizes: Vec<usize> = insert_chunks(&rows, 500).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [500, 500, 128, 64, 32, 8, 5]);
        let few: Vec<usize> = (1..=9).map(|n| insert_chunks(&rows[..n], 500).len()).collect();
        assert_eq!(few, [1, 1, 1, 1, 1, 1, 1, 1, 2]);
        let all: Vec<usize> = insert_chunks(&rows, 500).concat();
        assert_eq!(all, rows);
    }

    #[test]
    fn placeholders_in_order_run_anonymous_on_sqlite() {
        assert_eq!(
            anonymous_placeholders("INSERT INTO t VALUES ($1, $2), ($3, '$4', $4)").as_deref(),
            Some("INSERT INTO t VALUES (?, ?), (?, '$4', ?)")
        );
        assert_eq!(
            anonymous_placeholders("SELECT json_extract(v, '$.a') FROM t WHERE a = $1").as_deref(),
            Some("SELECT json_extract(v, '$.a') FROM t WHERE a = ?")
        );
        // Repeated or out of order: numbered, as written.
        assert_eq!(anonymous_placeholders("SELECT $1 WHERE a = $1"), None);
        assert_eq!(anonymous_placeholders("SELECT $2, $1"), None);
    }

    #[test]
    fn numbers_multi_row_inserts_row_by_row() {
        let b = SqlBuilder::insert_rows(
            "t (a, b)",
            [[Arg::Int(1), Arg::from("x")], [Arg::Int(2), Arg::from("y")]],
        );
        assert_eq!(b.sql(), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        assert_eq!(b.args[3], Arg::from("y"));
    }
}
