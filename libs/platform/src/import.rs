//! Bulk imports, the same way in every service: a client stream whose first message carries the
//! options and every message a batch of rows; rows keyed per (source, external id) in
//! [`crm_storage::imports`]; bad rows refused with their row number, field and reason; one
//! summary at the end.

use std::collections::HashMap;

use crm_proto::common::v1::{ImportOptions, ImportRejection, ImportSummary};
use crm_storage::imports::ImportKey;
use futures::StreamExt as _;

use crate::Violations;
use crate::errors::{Error, Result, invalid};

/// Rows one message may carry.
pub const MAX_BATCH: usize = 1000;

/// Rejections listed in a summary; more are counted but not listed (memory stays bounded).
pub const MAX_LISTED_REJECTIONS: usize = 100_000;

/// An import's request stream: `split` takes a message apart into its options (first message
/// only) and its rows.
pub struct ImportStream<M, R> {
    stream: tonic::Streaming<M>,
    split: fn(M) -> (Option<ImportOptions>, Vec<R>),
}

impl<M, R> std::fmt::Debug for ImportStream<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportStream")
    }
}

impl<M, R> ImportStream<M, R> {
    /// Wraps a client stream.
    pub fn new(stream: tonic::Streaming<M>, split: fn(M) -> (Option<ImportOptions>, Vec<R>)) -> Self {
        Self { stream, split }
    }

    async fn message(&mut self) -> Result<Option<(Option<ImportOptions>, Vec<R>)>> {
        match self.stream.next().await {
            None => Ok(None),
            Some(Err(status)) => Err(Error::Cancelled(format!(
                "import stream broken: {}",
                status.message()
            ))),
            Some(Ok(message)) => {
                let (options, rows) = (self.split)(message);
                if rows.len() > MAX_BATCH {
                    return Err(invalid("rows", &format!("at most {MAX_BATCH} rows per message")));
                }
                Ok(Some((options, rows)))
            }
        }
    }

    /// Reads the first message: the options and the first batch. A missing or bad source is
    /// `INVALID_ARGUMENT`.
    pub async fn open(&mut self) -> Result<(ImportRun, Vec<R>)> {
        let Some((Some(options), rows)) = self.message().await? else {
            return Err(invalid("options", "the first message must carry the options"));
        };
        let mut v = Violations::new();
        v.check(
            !is_source_name(&options.source),
            "options.source",
            "required: lower_snake_case, up to 64 characters",
        );
        v.finish()?;
        Ok((
            ImportRun {
                source: options.source,
                validate_only: options.validate_only,
                run_id: crm_storage::imports::new_run_id(),
                summary: ImportSummary::default(),
                dry_seen: HashMap::new(),
            },
            rows,
        ))
    }

    /// The next batch of rows, or None at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<Vec<R>>> {
        match self.message().await? {
            Some((Some(_), _)) => Err(invalid("options", "only the first message carries options")),
            Some((None, rows)) => Ok(Some(rows)),
            None => Ok(None),
        }
    }
}

/// Runs a whole import inside a handler returning the service `Result`: reads the options and
/// every batch of the client stream `$stream` of `$request` messages (with `options` and `rows`
/// fields) and runs `$batch` for each, with `$run` (the [`ImportRun`]) and `$rows` bound; the
/// value is the final summary.
///
/// ```ignore
/// let summary = crm_platform::run_import!(stream, pb::ImportPartiesRequest, |run, rows| {
///     self.import_party_batch(principal, run, rows)
/// });
/// ```
#[macro_export]
macro_rules! run_import {
    ($stream:expr, $request:ty, |$run:ident, $rows:ident| $batch:expr) => {{
        let mut stream = $crate::import::ImportStream::new($stream, |m: $request| (m.options, m.rows));
        let (mut import_run, mut batch_rows) = stream.open().await?;
        loop {
            {
                let $run = &mut import_run;
                let $rows = batch_rows;
                $batch.await?;
            }
            match stream.next().await? {
                Some(next) => batch_rows = next,
                None => break,
            }
        }
        import_run.finish()
    }};
}

/// Runs a whole import inside a handler like [`run_import!`], with up to `$concurrency` batches
/// in flight at once (each in its own transaction): while one batch writes, the next is
/// validated and written beside it. `|$row| $key` names a row's external id; a batch that shares
/// an external id with a batch still in flight waits for it, so that a key repeated across
/// messages is still found (and refused) by the later one. Counts and rejections are those of a
/// serial run; a validate-only run is serial.
///
/// Meant for the imports of records by the million whose batches do not depend on each other
/// (parties, orders); a batch that fails ends the import, batches after it may have committed
/// (an import is idempotent: run it again).
#[macro_export]
macro_rules! run_import_concurrently {
    ($stream:expr, $request:ty, $concurrency:expr, |$row:ident| $key:expr, |$run:ident, $rows:ident| $batch:expr) => {{
        let mut stream = $crate::import::ImportStream::new($stream, |m: $request| (m.options, m.rows));
        let (import_run, first) = stream.open().await?;
        $crate::import::run_batches(
            stream,
            import_run,
            first,
            $concurrency,
            |$row| $key,
            |mut child: $crate::import::ImportRun, $rows| async move {
                let result = {
                    let $run = &mut child;
                    $batch.await
                };
                (child, result)
            },
        )
        .await?
    }};
}

/// The engine of [`run_import_concurrently!`].
pub async fn run_batches<M, R, E, K, B, F>(
    mut stream: ImportStream<M, R>,
    mut run: ImportRun,
    first: Vec<R>,
    concurrency: usize,
    key: K,
    mut batch: B,
) -> std::result::Result<ImportSummary, E>
where
    E: From<Error>,
    K: Fn(&R) -> &str,
    B: FnMut(ImportRun, Vec<R>) -> F,
    F: std::future::Future<Output = (ImportRun, std::result::Result<(), E>)>,
{
    use futures::stream::FuturesOrdered;
    use std::collections::{HashSet, VecDeque};

    if run.validate_only || concurrency <= 1 {
        // Serial: every batch on the import's own run (a validate-only run remembers the keys
        // it saw across batches).
        let mut rows = first;
        loop {
            let (back, result) = batch(run, rows).await;
            run = back;
            result?;
            match stream.next().await? {
                Some(next) => rows = next,
                None => return Ok(run.finish()),
            }
        }
    }
    let mut in_flight = FuturesOrdered::new();
    // The external ids of each batch in flight, oldest first.
    let mut in_flight_keys: VecDeque<HashSet<String>> = VecDeque::new();
    let mut waiting: Option<(Vec<R>, HashSet<String>)> = None;
    let mut next = Some(first);
    let mut ended = false;
    loop {
        if waiting.is_none()
            && let Some(rows) = next.take()
        {
            let keys = rows.iter().map(|r| key(r).trim().to_string()).collect();
            waiting = Some((rows, keys));
        }
        let startable = waiting.as_ref().is_some_and(|(_, keys)| {
            in_flight.len() < concurrency && in_flight_keys.iter().all(|k| k.is_disjoint(keys))
        });
        if startable && let Some((rows, keys)) = waiting.take() {
            in_flight.push_back(batch(run.child(), rows));
            in_flight_keys.push_back(keys);
            continue;
        }
        if waiting.is_none() && !ended {
            // Read the next message while the batches in flight run.
            if in_flight.is_empty() {
                match stream.next().await? {
                    Some(rows) => next = Some(rows),
                    None => ended = true,
                }
                continue;
            }
            tokio::select! {
                message = stream.next() => match message? {
                    Some(rows) => next = Some(rows),
                    None => ended = true,
                },
                Some(done) = futures::StreamExt::next(&mut in_flight) => {
                    settle(&mut run, &mut in_flight_keys, done)?;
                }
            }
            continue;
        }
        match futures::StreamExt::next(&mut in_flight).await {
            Some(done) => settle(&mut run, &mut in_flight_keys, done)?,
            None if waiting.is_none() && ended => break,
            None => {}
        }
    }
    Ok(run.finish())
}

/// Merges the oldest batch in flight, once it is done, into the import's run.
fn settle<E>(
    run: &mut ImportRun,
    in_flight_keys: &mut std::collections::VecDeque<std::collections::HashSet<String>>,
    (child, result): (ImportRun, std::result::Result<(), E>),
) -> std::result::Result<(), E> {
    result?;
    run.absorb(child);
    in_flight_keys.pop_front();
    Ok(())
}

/// What an accepted row does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// A new record.
    Create,
    /// The record with this id changes.
    Update(String),
    /// The record with this id already holds this content.
    Unchanged(String),
    /// The same external id came earlier in this import, at this row.
    Duplicate(i64),
}

/// One running import: its options, the summary so far and what it has seen.
#[derive(Debug)]
pub struct ImportRun {
    /// The source system.
    pub source: String,
    /// Check only; store nothing.
    pub validate_only: bool,
    /// Recorded with every key this import writes.
    pub run_id: String,
    summary: ImportSummary,
    // Keys seen by a validate-only run, which records none (a hash keeps memory small).
    dry_seen: HashMap<u64, i64>,
}

impl ImportRun {
    /// Refuses a row: one rejection per violated field (named without a prefix).
    pub fn reject(&mut self, row: i64, external_id: &str, violations: &Violations) {
        self.summary.rejected += 1;
        for (field, reason) in violations.iter() {
            if self.summary.rejections.len() < MAX_LISTED_REJECTIONS {
                self.summary.rejections.push(ImportRejection {
                    row,
                    external_id: external_id.to_string(),
                    field: field.clone(),
                    reason: reason.clone(),
                });
            }
        }
    }

    /// Refuses a row for one reason.
    pub fn reject_one(&mut self, row: i64, external_id: &str, field: &str, reason: impl Into<String>) {
        let mut v = Violations::new();
        v.add(field, reason);
        self.reject(row, external_id, &v);
    }

    /// What an accepted row with content `hash` does, given the key stored for its external id
    /// and the keys accepted earlier in this batch (`batch_seen`, external id -> row).
    pub fn classify(
        &mut self,
        external_id: &str,
        row: i64,
        hash: &str,
        stored: Option<&ImportKey>,
        batch_seen: &mut HashMap<String, i64>,
    ) -> Disposition {
        if let Some(first) = batch_seen.get(external_id) {
            return Disposition::Duplicate(*first);
        }
        if let Some(key) = stored
            && key.run_id == self.run_id
        {
            return Disposition::Duplicate(key.row);
        }
        if self.validate_only {
            let digest = crm_storage::imports::content_hash(external_id.as_bytes());
            let short = u64::from_str_radix(&digest[..16], 16).unwrap_or_default();
            if let Some(first) = self.dry_seen.insert(short, row) {
                self.dry_seen.insert(short, first);
                return Disposition::Duplicate(first);
            }
        }
        batch_seen.insert(external_id.to_string(), row);
        match stored {
            None => Disposition::Create,
            Some(key) if key.content_hash == hash => Disposition::Unchanged(key.record_id.clone()),
            Some(key) => Disposition::Update(key.record_id.clone()),
        }
    }

    /// Counts an accepted row.
    pub fn count(&mut self, disposition: &Disposition) {
        match disposition {
            Disposition::Create => self.summary.created += 1,
            Disposition::Update(_) => self.summary.updated += 1,
            Disposition::Unchanged(_) => self.summary.unchanged += 1,
            Disposition::Duplicate(_) => {}
        }
    }

    /// A run for one more batch of the same import (same source, run id and mode, nothing
    /// counted yet), to be merged back with [`ImportRun::absorb`].
    fn child(&self) -> ImportRun {
        ImportRun {
            source: self.source.clone(),
            validate_only: self.validate_only,
            run_id: self.run_id.clone(),
            summary: ImportSummary::default(),
            dry_seen: HashMap::new(),
        }
    }

    /// Adds what a batch's run counted and refused.
    fn absorb(&mut self, batch: ImportRun) {
        let s = batch.summary;
        self.summary.created += s.created;
        self.summary.updated += s.updated;
        self.summary.unchanged += s.unchanged;
        self.summary.rejected += s.rejected;
        let room = MAX_LISTED_REJECTIONS.saturating_sub(self.summary.rejections.len());
        self.summary
            .rejections
            .extend(s.rejections.into_iter().take(room));
    }

    /// The import key a record created from a row of this run is written with.
    pub fn row_key<'a>(&'a self, content_hash: &'a str, row: i64) -> crm_storage::imports::NewRowKey<'a> {
        crm_storage::imports::NewRowKey {
            source: &self.source,
            run_id: &self.run_id,
            content_hash,
            row,
        }
    }

    /// The summary so far.
    pub fn summary(&self) -> &ImportSummary {
        &self.summary
    }

    /// The final summary, rejections in row order.
    pub fn finish(mut self) -> ImportSummary {
        self.summary.rejections.sort_by_key(|r| r.row);
        self.summary
    }
}

/// `[a-z][a-z0-9_]*`, up to 64 characters.
pub fn is_source_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks an external id: required, at most 200 characters.
pub fn check_external_id(v: &mut Violations, field: &str, value: &str) {
    v.check(value.trim().is_empty(), field, "required");
    v.check(value.chars().count() > 200, field, "at most 200 characters");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(validate_only: bool) -> ImportRun {
        ImportRun {
            source: "erp".into(),
            validate_only,
            run_id: "run-2".into(),
            summary: ImportSummary::default(),
            dry_seen: HashMap::new(),
        }
    }

    fn key(hash: &str, run_id: &str) -> ImportKey {
        ImportKey {
            record_id: "r1".into(),
            content_hash: hash.into(),
            run_id: run_id.into(),
            row: 7,
        }
    }

    #[test]
    fn classifies_new_changed_unchanged_and_repeated_rows() {
        let mut r = run(false);
        let mut seen = HashMap::new();
        assert_eq!(r.classify("a", 2, "h", None, &mut seen), Disposition::Create);
        assert_eq!(
            r.classify("a", 3, "h", None, &mut seen),
            Disposition::Duplicate(2)
        );
        let old = key("h", "run-1");
        assert_eq!(
            r.classify("b", 4, "h", Some(&old), &mut seen),
            Disposition::Unchanged("r1".into())
        );
        assert_eq!(
            r.classify("c", 5, "other", Some(&old), &mut seen),
            Disposition::Update("r1".into())
        );
        // Recorded by an earlier batch of the same run.
        let this_run = key("h", "run-2");
        assert_eq!(
            r.classify("d", 9, "h", Some(&this_run), &mut HashMap::new()),
            Disposition::Duplicate(7)
        );
    }

    #[test]
    fn validate_only_remembers_keys_across_batches() {
        let mut r = run(true);
        assert_eq!(
            r.classify("a", 2, "h", None, &mut HashMap::new()),
            Disposition::Create
        );
        assert_eq!(
            r.classify("a", 9, "h", None, &mut HashMap::new()),
            Disposition::Duplicate(2)
        );
    }

    #[test]
    fn rejections_name_row_and_field() {
        let mut r = run(false);
        let mut v = Violations::new();
        v.add("email", "not an email address");
        v.add("birth_date", "must be a date");
        r.reject(5, "x", &v);
        let s = r.finish();
        assert_eq!(s.rejected, 1);
        assert_eq!(s.rejections.len(), 2);
        assert_eq!(
            (s.rejections[0].row, s.rejections[0].field.as_str()),
            (5, "email")
        );
    }

    #[test]
    fn source_names() {
        assert!(is_source_name("cdnow"));
        assert!(is_source_name("erp_2"));
        assert!(!is_source_name(""));
        assert!(!is_source_name("ERP"));
    }
}
