//! `profilegraph import`: profiles from a JSONL or CSV file, each matched to a profile by
//! its external id, else by any of its contacts, and created or brought up to date by the
//! store's create-or-update ([`profilegraph_store::upsert`]), with its events.
//!
//! With `--on-error skip`, a bad row is reported and the others go in: rows go in batches
//! of a transaction each, and a batch with a bad row is brought in again row by row, each
//! in a transaction of its own (`pipeline`). With `--on-error abort` the whole import is
//! one transaction: every row is still checked and reported, and nothing is written if any
//! fails. `--dry-run` does all of it in one transaction that is rolled back. Never half a
//! profile. The file is read as a stream: what is kept per row is its external id, to
//! report one that comes twice.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use chrono::SubsecRound;
use indicatif::{ProgressBar, ProgressStyle};
use profilegraph_store::channels::{self, ChannelType};
use profilegraph_store::contacts::identifier::Identifier;
use profilegraph_store::fields::{CustomFieldType, FieldChange};
use profilegraph_store::notes::NoteSpec;
use profilegraph_store::text::{Body, ExternalId, Name};
use profilegraph_store::upsert::{ContactSpec, Upsert};
use profilegraph_store::{Db, StoreError};
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::Value;
use uuid::Uuid;

use entity::{channels as channel_rows, custom_fields};

use super::pipeline::{ANALYZE_FIRST, IN_FLIGHT, Pipeline};
use super::{Format, Record, parse_contact_column, value_of_cell};
use crate::error::{Error, Result};

/// What to do with a bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Report it and go on with the others.
    Skip,
    /// Report it, check the rest, and write nothing.
    Abort,
}

/// How to import.
pub struct Options {
    /// JSONL or CSV.
    pub format: Format,
    /// Check and report everything, write nothing.
    pub dry_run: bool,
    /// Skip bad rows, or write nothing if there is one.
    pub on_error: OnError,
    /// Make channels the file names that the workspace doesn't have.
    pub create_channels: bool,
    /// Draw a progress bar (over `size` bytes, when known).
    pub progress: bool,
}

/// A bad row: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The line it starts on (1 is the first line; a CSV's header).
    pub line: u64,
    /// The column (CSV) or field (JSONL) at fault, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, {column}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What an import did (or, in a dry run or an aborted import, would have done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Profiles made.
    pub created: u64,
    /// Profiles changed.
    pub updated: u64,
    /// Rows whose profile was already as they say.
    pub unchanged: u64,
    /// Bad rows.
    pub failed: u64,
    /// Notes whose author is no agent of the workspace (they go in without one).
    pub notes_without_author: u64,
    /// Channels made (`--create-channels`).
    pub channels_created: u64,
    /// Whether anything was written.
    pub written: bool,
}

/// How a failure names its place: the field keys of the workspace and the file's format.
pub(super) struct Labels {
    field_keys: HashSet<String>,
    format: Format,
}

impl Labels {
    /// The column or field a field key is reported under.
    fn field_label(&self, key: &str) -> String {
        match self.format {
            Format::Csv => format!("field:{key}"),
            Format::Jsonl => format!("fields.{key}"),
        }
    }

    /// A store refusal as a report line.
    pub(super) fn failure(&self, line: u64, err: StoreError) -> Failure {
        match err {
            StoreError::BadInput { field, message } => {
                let column = if self.field_keys.contains(&field) {
                    self.field_label(&field)
                } else {
                    field
                };
                Failure {
                    line,
                    column: Some(column),
                    reason: message,
                }
            }
            StoreError::Database(_) | StoreError::Unavailable(_) => Failure {
                line,
                column: None,
                reason: format!("{err}: {}", err.detail()),
            },
            other => Failure {
                line,
                column: None,
                reason: other.to_string(),
            },
        }
    }
}

/// The workspace as the import sees it: its fields by key, channels, agents by e-mail.
struct Workspace<'a> {
    db: &'a Db,
    id: Uuid,
    labels: Arc<Labels>,
    fields: HashMap<String, custom_fields::Model>,
    channels: Vec<channel_rows::Model>,
    agents: HashMap<String, Uuid>,
    create_channels: bool,
    /// The one transaction of an aborting or dry import (shared with the pipeline).
    outer: Option<Arc<profilegraph_store::WriteTxn>>,
}

/// A row read, ready for the store, with how to name its parts in a report.
struct Row {
    line: u64,
    upsert: Upsert,
}

impl Workspace<'_> {
    /// The column or field a field key is reported under.
    fn field_label(&self, key: &str) -> String {
        self.labels.field_label(key)
    }

    /// The channel of this type (if given) and name; made with `--create-channels` when
    /// there is none and the type is known.
    async fn channel(
        &mut self,
        channel_type: Option<ChannelType>,
        name: &str,
        summary: &mut Summary,
    ) -> std::result::Result<channel_rows::Model, String> {
        let matching: Vec<&channel_rows::Model> = self
            .channels
            .iter()
            .filter(|c| c.name == name)
            .filter(|c| channel_type.is_none_or(|t| ChannelType::from_db(&c.channel_type) == t))
            .collect();
        match matching.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            _ => {
                return Err(format!(
                    "several channels are named `{name}`; name the type too, as `contact:{name} (WHATSAPP)`"
                ));
            }
        }
        let Some(channel_type) = channel_type.filter(|_| self.create_channels) else {
            return Err(if self.create_channels {
                format!(
                    "there is no channel `{name}`, and to make one its type is needed: write the column as `contact:{name} (WHATSAPP)`"
                )
            } else {
                format!(
                    "there is no channel `{name}` in this workspace; create it first, or pass --create-channels"
                )
            });
        };
        let name = Name::parse(name, "channel").map_err(|e| e.to_string())?;
        let made = match &self.outer {
            Some(txn) => channels::create_in(txn.as_ref(), self.id, channel_type, name).await,
            None => channels::create(self.db, self.id, channel_type, name).await,
        }
        .map_err(|e| e.to_string())?;
        summary.channels_created += 1;
        self.channels.push(made.clone());
        Ok(made)
    }

    /// Parse one identifier for `channel`.
    fn contact(
        channel: &channel_rows::Model,
        identifier: &str,
        display_name: Option<&str>,
        label: &str,
    ) -> std::result::Result<ContactSpec, StoreError> {
        let identifier = Identifier::parse(
            identifier,
            ChannelType::from_db(&channel.channel_type),
            label,
        )?;
        let display_name = display_name
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Name::parse(s, label))
            .transpose()?;
        Ok(ContactSpec {
            channel_id: channel.id,
            identifier,
            display_name,
        })
    }

    /// A field change for `key`, refusing a key the workspace has no field for.
    fn field(&self, key: &str, value: Option<Value>) -> std::result::Result<FieldChange, Failure> {
        let field = self.fields.get(key).ok_or_else(|| Failure {
            line: 0,
            column: Some(self.field_label(key)),
            reason: format!("this workspace has no custom field with the key `{key}`"),
        })?;
        Ok(FieldChange {
            field_id: field.id,
            value,
        })
    }
}

/// A failure at `line` from a parse error of the store's text types.
fn at(line: u64, err: StoreError) -> Failure {
    match err {
        StoreError::BadInput { field, message } => Failure {
            line,
            column: Some(field),
            reason: message,
        },
        other => Failure {
            line,
            column: None,
            reason: other.to_string(),
        },
    }
}

/// Import from `input` into `workspace_id`; `report` gets every bad row as it is found.
pub async fn run(
    db: &Db,
    workspace_id: Uuid,
    options: &Options,
    input: impl Read,
    size: Option<u64>,
    mut report: impl FnMut(&Failure),
) -> Result<Summary> {
    let fields: HashMap<String, custom_fields::Model> =
        profilegraph_store::fields::list(db, workspace_id, true)
            .await?
            .into_iter()
            .map(|f| (f.key.clone(), f))
            .collect();
    let agents = profilegraph_store::agents::list(db, workspace_id)
        .await?
        .into_iter()
        .map(|a| (a.email.to_lowercase(), a.id))
        .collect();
    let outer = if options.dry_run || options.on_error == OnError::Abort {
        Some(Arc::new(db.begin_write().await?))
    } else {
        None
    };
    let labels = Arc::new(Labels {
        field_keys: fields.keys().cloned().collect(),
        format: options.format,
    });
    // Batches side by side on PostgreSQL when each is its own transaction (see `pipeline`).
    let limit = match db.conn.get_database_backend() {
        DbBackend::Postgres => IN_FLIGHT,
        _ => 1,
    };
    let mut pipeline = Pipeline::new(db, workspace_id, labels.clone(), outer.clone(), limit);
    let mut ws = Workspace {
        db,
        id: workspace_id,
        labels,
        fields,
        channels: channels::list(db, workspace_id).await?,
        agents,
        create_channels: options.create_channels,
        outer,
    };
    let bar = if options.progress {
        match size {
            Some(size) => {
                let bar = ProgressBar::new(size);
                if let Ok(style) = ProgressStyle::with_template(
                    "import [{bar:40}] {bytes}/{total_bytes} ({eta} left) {msg}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            }
            None => ProgressBar::new_spinner(),
        }
    } else {
        ProgressBar::hidden()
    };
    let input = BufReader::with_capacity(1 << 16, bar.wrap_read(input));
    let mut summary = Summary::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut fail = |summary: &mut Summary, failure: Failure| {
        summary.failed += 1;
        bar.suspend(|| report(&failure));
    };
    match options.format {
        Format::Jsonl => {
            for (n, line) in input.lines().enumerate() {
                let line_no = n as u64 + 1;
                let text = line?;
                let text = if line_no == 1 {
                    text.trim_start_matches('\u{feff}')
                } else {
                    text.as_str()
                };
                if text.trim().is_empty() {
                    continue;
                }
                let row = match serde_json::from_str::<Record>(text) {
                    Ok(record) => jsonl_row(&mut ws, line_no, record, &mut summary).await,
                    Err(err) => Err(Failure {
                        line: line_no,
                        column: None,
                        reason: format!("not a profile as JSON: {err}"),
                    }),
                };
                step(row, &mut seen, &mut summary, &mut fail, &mut pipeline).await;
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(Unix::new(input));
            let header = reader.headers().map_err(csv_error)?.clone();
            let columns = match csv_columns(&mut ws, &header, &mut summary).await {
                Ok(columns) => columns,
                Err(failure) => {
                    fail(&mut summary, failure);
                    drop(pipeline);
                    return finish(ws, summary, options.dry_run).await;
                }
            };
            let mut record = csv::StringRecord::new();
            loop {
                let line_no = match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => record.position().map_or(0, |p| p.line()),
                    Err(err) => {
                        let line = err.position().map_or(0, |p| p.line());
                        // Reports stay in file order: the rows before it first.
                        pipeline.drain(&mut summary, &mut fail).await;
                        fail(
                            &mut summary,
                            Failure {
                                line,
                                column: None,
                                reason: format!("not a CSV row: {err}"),
                            },
                        );
                        if matches!(err.kind(), csv::ErrorKind::Io(_)) {
                            break;
                        }
                        continue;
                    }
                };
                if record.iter().all(str::is_empty) {
                    continue;
                }
                let row = csv_row(&ws, &columns, line_no, &record);
                step(row, &mut seen, &mut summary, &mut fail, &mut pipeline).await;
            }
        }
    }
    pipeline.drain(&mut summary, &mut fail).await;
    pipeline.end(&summary).await;
    bar.finish_and_clear();
    finish(ws, summary, options.dry_run).await
}

/// Commit or roll back the one transaction (a dry run's always rolls back), say whether
/// anything was written, and number the events it wrote (PostgreSQL: see
/// `profilegraph_store::events::numbering`).
async fn finish(ws: Workspace<'_>, mut summary: Summary, dry_run: bool) -> Result<Summary> {
    // The pipeline is gone: the one transaction is this function's alone.
    let outer = ws
        .outer
        .map(|txn| {
            Arc::try_unwrap(txn)
                .map_err(|_| Error::Usage("the import's transaction is still in use".into()))
        })
        .transpose()?;
    match outer {
        Some(txn) if summary.failed == 0 && !dry_run => {
            txn.commit().await?;
            summary.written = true;
            // Its rows are there for the planner only now (see `pipeline`).
            if summary.created + summary.updated >= ANALYZE_FIRST {
                profilegraph_store::bulk::refresh_statistics(ws.db).await?;
            }
        }
        Some(txn) => txn.rollback().await?,
        None => summary.written = true,
    }
    if summary.written {
        profilegraph_store::events::numbering::number(ws.db, ws.id).await?;
    }
    Ok(summary)
}

/// Check a row's external id against the rows before it, then send it on its way.
async fn step(
    row: std::result::Result<Row, Failure>,
    seen: &mut HashMap<String, u64>,
    summary: &mut Summary,
    fail: &mut impl FnMut(&mut Summary, Failure),
    pipeline: &mut Pipeline,
) {
    let refused = match row {
        Err(failure) => Err(failure),
        Ok(row) => match &row.upsert.external_id {
            Some(external_id) => match seen.get(external_id.as_str()) {
                Some(first) => Err(Failure {
                    line: row.line,
                    column: Some("externalId".into()),
                    reason: format!(
                        "`{}` is the external id of line {first} already; each profile once per file",
                        external_id.as_str()
                    ),
                }),
                None => {
                    seen.insert(external_id.as_str().to_owned(), row.line);
                    Ok(row)
                }
            },
            None => Ok(row),
        },
    };
    match refused {
        Ok(row) => pipeline.push(row.line, row.upsert, summary, fail).await,
        Err(failure) => {
            // Reports stay in file order: the rows before it first.
            pipeline.drain(summary, fail).await;
            fail(summary, failure);
        }
    }
}

/// A JSONL record as a row for the store.
async fn jsonl_row(
    ws: &mut Workspace<'_>,
    line: u64,
    record: Record,
    summary: &mut Summary,
) -> std::result::Result<Row, Failure> {
    let external_id = record
        .external_id
        .as_deref()
        .map(|e| ExternalId::parse(e, "externalId"))
        .transpose()
        .map_err(|e| at(line, e))?;
    let name = record
        .name
        .as_deref()
        .map(|n| Name::parse(n, "name"))
        .transpose()
        .map_err(|e| at(line, e))?;
    let mut fields = Vec::with_capacity(record.fields.len());
    for (key, value) in record.fields {
        let value = Some(value).filter(|v| !v.is_null());
        fields.push(ws.field(&key, value).map_err(|f| Failure { line, ..f })?);
    }
    let mut contacts = Vec::with_capacity(record.contacts.len());
    for (i, contact) in record.contacts.iter().enumerate() {
        let label = format!("contacts[{i}]");
        let channel_type =
            ChannelType::parse(&contact.channel.channel_type).ok_or_else(|| Failure {
                line,
                column: Some(format!("{label}.channel.type")),
                reason: format!("`{}` is not a channel type", contact.channel.channel_type),
            })?;
        let channel = ws
            .channel(Some(channel_type), &contact.channel.name, summary)
            .await
            .map_err(|reason| Failure {
                line,
                column: Some(format!("{label}.channel")),
                reason,
            })?;
        contacts.push(
            Workspace::contact(
                &channel,
                &contact.identifier,
                contact.display_name.as_deref(),
                &format!("{label}.identifier"),
            )
            .map_err(|e| at(line, e))?,
        );
    }
    let mut notes = Vec::with_capacity(record.notes.len());
    for (i, note) in record.notes.iter().enumerate() {
        let label = format!("notes[{i}]");
        let time = |text: &str, part: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| {
                    t.with_timezone(&chrono::Utc)
                        .trunc_subsecs(6)
                        .fixed_offset()
                })
                .map_err(|_| Failure {
                    line,
                    column: Some(format!("{label}.{part}")),
                    reason: format!("`{text}` is not an RFC 3339 time"),
                })
        };
        let author_id = match &note.author {
            Some(email) => {
                let found = ws.agents.get(&email.trim().to_lowercase()).copied();
                if found.is_none() {
                    summary.notes_without_author += 1;
                }
                found
            }
            None => None,
        };
        notes.push(NoteSpec {
            author_id,
            body: Body::parse(&note.body, &format!("{label}.body")).map_err(|e| at(line, e))?,
            created_at: time(&note.created_at, "createdAt")?,
            updated_at: time(&note.updated_at, "updatedAt")?,
        });
    }
    Ok(Row {
        line,
        upsert: Upsert {
            external_id,
            name,
            fields,
            contacts,
            move_contacts: false,
            match_contacts: true,
            notes,
            created_at: None,
        },
    })
}

/// What a CSV column holds.
enum Column {
    ExternalId,
    Name,
    Field(String, CustomFieldType),
    Contact(channel_rows::Model),
    /// A column export writes but import doesn't read (`id`).
    Ignored,
}

/// Read a CSV header: every column must be one import knows.
async fn csv_columns(
    ws: &mut Workspace<'_>,
    header: &csv::StringRecord,
    summary: &mut Summary,
) -> std::result::Result<Vec<(String, Column)>, Failure> {
    let mut columns = Vec::with_capacity(header.len());
    for (i, raw) in header.iter().enumerate() {
        let name = if i == 0 {
            raw.trim_start_matches('\u{feff}').trim()
        } else {
            raw.trim()
        };
        let bad = |reason: String| Failure {
            line: 1,
            column: Some(if name.is_empty() {
                format!("column {}", i + 1)
            } else {
                name.to_owned()
            }),
            reason,
        };
        let column = if name == "externalId" {
            Column::ExternalId
        } else if name == "name" {
            Column::Name
        } else if name == "id" {
            Column::Ignored
        } else if let Some(key) = name.strip_prefix("field:") {
            let field = ws.fields.get(key.trim()).ok_or_else(|| {
                bad(format!(
                    "this workspace has no custom field with the key `{}`",
                    key.trim()
                ))
            })?;
            Column::Field(
                field.key.clone(),
                CustomFieldType::from_db(&field.field_type),
            )
        } else if let Some(rest) = name.strip_prefix("contact:") {
            let (channel_name, channel_type) = parse_contact_column(rest);
            Column::Contact(
                ws.channel(channel_type, &channel_name, summary)
                    .await
                    .map_err(bad)?,
            )
        } else if name.is_empty() {
            // An empty trailing column, as spreadsheets leave.
            Column::Ignored
        } else {
            return Err(bad(
                "not a column import knows: externalId, name, field:<key>, contact:<channel name>"
                    .into(),
            ));
        };
        if columns.iter().any(|(n, _)| n == name) && !matches!(column, Column::Ignored) {
            return Err(bad("this column is there twice".into()));
        }
        columns.push((name.to_owned(), column));
    }
    if !columns.iter().any(|(_, c)| matches!(c, Column::Name)) {
        return Err(Failure {
            line: 1,
            column: None,
            reason: "the header has no `name` column".into(),
        });
    }
    Ok(columns)
}

/// A CSV row as a row for the store.
fn csv_row(
    ws: &Workspace<'_>,
    columns: &[(String, Column)],
    line: u64,
    record: &csv::StringRecord,
) -> std::result::Result<Row, Failure> {
    if record.len() > columns.len() && record.iter().skip(columns.len()).any(|c| !c.is_empty()) {
        return Err(Failure {
            line,
            column: Some(format!("column {}", columns.len() + 1)),
            reason: format!("the header has {} columns, this row more", columns.len()),
        });
    }
    let mut upsert = Upsert {
        match_contacts: true,
        ..Upsert::default()
    };
    for ((label, column), cell) in columns
        .iter()
        .zip(record.iter().chain(std::iter::repeat("")))
    {
        let with_label = |reason: String| Failure {
            line,
            column: Some(label.clone()),
            reason,
        };
        let parsed = |err: StoreError| match err {
            StoreError::BadInput { message, .. } => with_label(message),
            other => with_label(other.to_string()),
        };
        match column {
            Column::ExternalId if !cell.is_empty() => {
                upsert.external_id = Some(ExternalId::parse(cell, label).map_err(parsed)?);
            }
            Column::Name if !cell.is_empty() => {
                upsert.name = Some(Name::parse(cell, label).map_err(parsed)?);
            }
            Column::Field(key, field_type) => {
                let value = value_of_cell(cell, *field_type).map_err(with_label)?;
                upsert
                    .fields
                    .push(ws.field(key, value).map_err(|f| Failure { line, ..f })?);
            }
            Column::Contact(channel) => {
                for identifier in cell.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    upsert.contacts.push(
                        Workspace::contact(channel, identifier, None, label).map_err(parsed)?,
                    );
                }
            }
            _ => {}
        }
    }
    Ok(Row { line, upsert })
}

/// CRLF read as LF: the CSV reader then counts the lines a person sees (it ends a record
/// at the CR of a CRLF and would number the record after from the LF), and line breaks
/// inside cells come out as `\n` whichever way the spreadsheet wrote them. A CR alone
/// stays.
struct Unix<R> {
    inner: R,
    /// A CR at the end of what was read, until the next byte tells what it was.
    held_cr: bool,
    /// Bytes converted but not handed out yet.
    ready: std::collections::VecDeque<u8>,
}

impl<R> Unix<R> {
    fn new(inner: R) -> Self {
        Unix {
            inner,
            held_cr: false,
            ready: std::collections::VecDeque::new(),
        }
    }
}

impl<R: Read> Read for Unix<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut raw = [0_u8; 8192];
        while self.ready.is_empty() {
            let n = self.inner.read(&mut raw)?;
            if n == 0 {
                if std::mem::take(&mut self.held_cr) {
                    self.ready.push_back(b'\r');
                }
                break;
            }
            for &byte in &raw[..n] {
                if std::mem::take(&mut self.held_cr) && byte != b'\n' {
                    self.ready.push_back(b'\r');
                }
                if byte == b'\r' {
                    self.held_cr = true;
                } else {
                    self.ready.push_back(byte);
                }
            }
        }
        let n = buf.len().min(self.ready.len());
        for (slot, byte) in buf.iter_mut().zip(self.ready.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

fn csv_error(err: csv::Error) -> Error {
    Error::Io(std::io::Error::other(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_reads_as_lf_and_a_lone_cr_stays() {
        for (raw, want) in [
            ("a\r\nb\r\n", "a\nb\n"),
            ("a\rb\r", "a\rb\r"),
            ("\r\n\r\r\n", "\n\r\n"),
        ] {
            let mut out = String::new();
            // One byte at a time: a CRLF split across reads is still one line break.
            let mut reader = Unix::new(std::io::Read::take(raw.as_bytes(), u64::MAX));
            let mut byte = [0_u8; 1];
            while reader.read(&mut byte).unwrap() == 1 {
                out.push(char::from(byte[0]));
            }
            assert_eq!(out, want, "{raw:?}");
        }
    }
}
