//! Reading an input (a file, an upload) row by row as named fields, CSV (with a header row) or JSON lines, and
//! writing rows back out; a row that cannot be read is reported with its line and left out.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format a file name suggests (`.jsonl`, `.ndjson` and `.json` are JSON lines).
    pub fn of_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

/// One input row: its line in the file and its fields by column name (after mapping).
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The line the row starts on (the header is line 1 of a CSV file).
    pub line: i64,
    /// Column -> value; empty values are left out.
    pub fields: HashMap<String, String>,
}

impl Record {
    /// The trimmed value of a column ("" when absent).
    pub fn get(&self, column: &str) -> &str {
        self.fields.get(column).map_or("", |v| v.trim())
    }
}

/// A row that could not be read.
#[derive(Debug, Clone)]
pub struct BadRow {
    /// Its line.
    pub line: i64,
    /// The column at fault ("" for the whole row).
    pub column: String,
    /// Why.
    pub reason: String,
}

/// What rows are read from: a file, or an upload being received.
pub type Source = Box<dyn Read + Send>;

/// Reads rows from a file or an upload, renaming columns per `mapping` (source -> target).
pub struct Reader {
    inner: Inner,
    mapping: HashMap<String, String>,
    /// Bytes read so far (for progress).
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

enum Inner {
    Csv {
        lines: Lines,
        headers: Vec<String>,
    },
    Jsonl {
        reader: BufReader<Counting<Source>>,
        line: i64,
    },
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl Reader {
    /// Opens `path`; for CSV reads the header row. `mapping` renames columns.
    pub fn open(path: &Path, format: Format, mapping: HashMap<String, String>) -> anyhow::Result<Self> {
        let file = File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Self::new(Box::new(file), format, mapping).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Reads `source` (a file, an upload); for CSV reads the header row. `mapping` renames
    /// columns.
    pub fn new(source: Source, format: Format, mapping: HashMap<String, String>) -> anyhow::Result<Self> {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counting = Counting {
            inner: source,
            read: read.clone(),
        };
        let inner = match format {
            Format::Csv => {
                let mut lines = Lines::new(BufReader::new(counting));
                let (_, header) = lines
                    .next_record()
                    .ok_or_else(|| anyhow::anyhow!("no header row"))?
                    .map_err(|e| anyhow::anyhow!("cannot read the header row: {e}"))?;
                let headers = lines
                    .fields(&header)
                    .iter()
                    .map(|h| {
                        String::from_utf8_lossy(h)
                            .trim()
                            .trim_start_matches('\u{feff}')
                            .to_string()
                    })
                    .collect();
                Inner::Csv { lines, headers }
            }
            Format::Jsonl => Inner::Jsonl {
                reader: BufReader::new(counting),
                line: 0,
            },
        };
        Ok(Self { inner, mapping, read })
    }

    /// The column names of a CSV header, after mapping (empty for JSON lines).
    pub fn columns(&self) -> Vec<String> {
        match &self.inner {
            Inner::Csv { headers, .. } => headers.iter().map(|h| self.rename(h)).collect(),
            Inner::Jsonl { .. } => Vec::new(),
        }
    }

    /// The bytes read so far.
    pub fn progress(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.read.clone()
    }

    fn rename(&self, column: &str) -> String {
        self.mapping
            .get(column)
            .cloned()
            .unwrap_or_else(|| column.to_string())
    }

    /// The next row, a row that could not be read, or None at the end.
    pub fn next_row(&mut self) -> Option<Result<Record, BadRow>> {
        match &mut self.inner {
            Inner::Csv { lines, headers } => loop {
                let (line, bytes) = match lines.next_record()? {
                    Ok(next) => next,
                    Err(err) => {
                        return Some(Err(BadRow {
                            line: lines.line,
                            column: String::new(),
                            reason: format!("unreadable: {err}"),
                        }));
                    }
                };
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let fields = match lines.fields(&bytes) {
                    fields if fields.len() == headers.len() => fields,
                    fields => {
                        let found = fields.len();
                        let spans = bytes.iter().filter(|b| **b == b'\n').count() > 1;
                        if spans {
                            // A quote left open swallowed the lines after it: refuse the line
                            // that opened it and read the others again on their own.
                            lines.put_back_after_first(line, bytes);
                        }
                        return Some(Err(BadRow {
                            line,
                            column: String::new(),
                            reason: if spans {
                                "a quoted field is never closed (broken quoting)".into()
                            } else {
                                format!(
                                    "{found} fields where the header has {} (broken quoting or a stray comma)",
                                    headers.len()
                                )
                            },
                        }));
                    }
                };
                let mut record = HashMap::new();
                for (header, value) in headers.iter().zip(fields) {
                    let column = self
                        .mapping
                        .get(header)
                        .cloned()
                        .unwrap_or_else(|| header.clone());
                    match String::from_utf8(value) {
                        Ok(v) if v.trim().is_empty() => {}
                        Ok(v) => {
                            record.insert(column, v);
                        }
                        Err(_) => {
                            return Some(Err(BadRow {
                                line,
                                column,
                                reason: "not valid UTF-8".into(),
                            }));
                        }
                    }
                }
                return Some(Ok(Record { line, fields: record }));
            },
            Inner::Jsonl { reader, line } => loop {
                let mut bytes = Vec::new();
                match reader.read_until(b'\n', &mut bytes) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(err) => {
                        return Some(Err(BadRow {
                            line: *line + 1,
                            column: String::new(),
                            reason: format!("unreadable: {err}"),
                        }));
                    }
                }
                *line += 1;
                let line = *line;
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    return Some(Err(BadRow {
                        line,
                        column: String::new(),
                        reason: "not valid UTF-8".into(),
                    }));
                };
                if text.trim().is_empty() {
                    continue;
                }
                let object = match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Object(object)) => object,
                    _ => {
                        return Some(Err(BadRow {
                            line,
                            column: String::new(),
                            reason: "not a JSON object".into(),
                        }));
                    }
                };
                let mut fields = HashMap::new();
                for (key, value) in object {
                    let text = match value {
                        serde_json::Value::Null => continue,
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                            .collect::<Vec<_>>()
                            .join(";"),
                        other => other.to_string(),
                    };
                    if !text.trim().is_empty() {
                        let column = self.mapping.get(&key).cloned().unwrap_or(key);
                        fields.insert(column, text);
                    }
                }
                return Some(Ok(Record { line, fields }));
            },
        }
    }
}

/// CSV records as raw bytes with the line each starts on: lines are joined while a quoted field
/// is open (an odd number of quotes so far), as CSV allows line breaks inside quotes.
struct Lines {
    reader: BufReader<Counting<Source>>,
    /// Splits a record into fields; kept, as building one costs more than parsing a short row.
    parser: Box<csv_core::Reader>,
    /// Lines read so far.
    line: i64,
    /// Lines to read again (after a record with an unclosed quote), with their numbers.
    pending: std::collections::VecDeque<(i64, Vec<u8>)>,
}

impl Lines {
    fn new(reader: BufReader<Counting<Source>>) -> Self {
        Self {
            reader,
            parser: Box::new(csv_core::Reader::new()),
            line: 0,
            pending: std::collections::VecDeque::new(),
        }
    }

    fn next_line(&mut self) -> Option<std::io::Result<(i64, Vec<u8>)>> {
        if let Some(pending) = self.pending.pop_front() {
            return Some(Ok(pending));
        }
        let mut bytes = Vec::new();
        match self.reader.read_until(b'\n', &mut bytes) {
            Ok(0) => None,
            Ok(_) => {
                self.line += 1;
                Some(Ok((self.line, bytes)))
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// The next record: its first line's number and its bytes.
    fn next_record(&mut self) -> Option<std::io::Result<(i64, Vec<u8>)>> {
        let (start, mut bytes) = match self.next_line()? {
            Ok(first) => first,
            Err(e) => return Some(Err(e)),
        };
        while bytes.iter().filter(|b| **b == b'"').count() % 2 == 1 {
            match self.next_line() {
                Some(Ok((_, more))) => bytes.extend_from_slice(&more),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        Some(Ok((start, bytes)))
    }

    /// The fields of one CSV record (the parser is lenient: any bytes make fields).
    fn fields(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.parser.reset();
        let (mut fields, mut field) = (Vec::new(), Vec::new());
        let mut input = bytes;
        let mut out = [0u8; 1024];
        loop {
            // Empty input after the record's bytes tells the parser the record ends there.
            let (result, read, written) = self.parser.read_field(input, &mut out);
            input = &input[read..];
            field.extend_from_slice(&out[..written]);
            match result {
                csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::OutputFull => {}
                csv_core::ReadFieldResult::Field { record_end } => {
                    fields.push(std::mem::take(&mut field));
                    if record_end {
                        return fields;
                    }
                }
                csv_core::ReadFieldResult::End => return fields,
            }
        }
    }

    /// Queues every line of `bytes` but the first (which starts on `line`) to be read again.
    fn put_back_after_first(&mut self, line: i64, bytes: Vec<u8>) {
        let mut parts: Vec<Vec<u8>> = bytes
            .split_inclusive(|b| *b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        parts.remove(0);
        for (i, part) in parts.into_iter().enumerate().rev() {
            self.pending.push_front((line + 1 + i as i64, part));
        }
    }
}

/// Rows of a file as written: the header's columns and the fields of some rows by line.
#[derive(Debug, Default)]
pub struct RawRows {
    /// The header (CSV) or `["line"]` (JSON lines, whose rows are kept whole).
    pub header: Vec<String>,
    /// Line -> fields.
    pub rows: HashMap<i64, Vec<String>>,
}

/// Rows of the original file, by line, for the rejected-rows file: the header (CSV) and the
/// raw text of every row whose line is in `lines`.
pub fn raw_rows(
    path: &Path,
    format: Format,
    lines_wanted: &std::collections::BTreeSet<i64>,
) -> anyhow::Result<RawRows> {
    let file = File::open(path)?;
    let mut rows = HashMap::new();
    match format {
        Format::Csv => {
            let counting = Counting {
                inner: Box::new(file) as Source,
                read: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            };
            let mut lines = Lines::new(BufReader::new(counting));
            let lossy = |fields: Vec<Vec<u8>>| -> Vec<String> {
                fields
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).to_string())
                    .collect()
            };
            let header = match lines.next_record() {
                Some(Ok((_, bytes))) => lossy(lines.fields(&bytes)),
                _ => Vec::new(),
            };
            while let Some(next) = lines.next_record() {
                let (line, bytes) = next?;
                let fields = lines.fields(&bytes);
                let spans = bytes.iter().filter(|b| **b == b'\n').count() > 1;
                if fields.len() != header.len() && spans {
                    // As the reader does: the line that opened the quote alone, the rest again.
                    let first = bytes
                        .split_inclusive(|b| *b == b'\n')
                        .next()
                        .unwrap_or_default()
                        .to_vec();
                    if lines_wanted.contains(&line) {
                        rows.insert(line, vec![String::from_utf8_lossy(&first).trim_end().to_string()]);
                    }
                    lines.put_back_after_first(line, bytes);
                    continue;
                }
                if lines_wanted.contains(&line) {
                    rows.insert(line, lossy(fields));
                }
            }
            Ok(RawRows { header, rows })
        }
        Format::Jsonl => {
            let reader = BufReader::new(file);
            for (i, line) in reader.split(b'\n').enumerate() {
                let n = i as i64 + 1;
                if lines_wanted.contains(&n) {
                    rows.insert(n, vec![String::from_utf8_lossy(&line?).to_string()]);
                }
            }
            Ok(RawRows {
                header: vec!["line".into()],
                rows,
            })
        }
    }
}
