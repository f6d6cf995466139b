//! `profilegraph export`: every profile of a workspace, written as it is read.
//!
//! Pages of [`PAGE`] profiles come from the store ([`profilegraph_store::export::page`],
//! four statements each) and are written out before the next is read, so the command's
//! memory is that of one page whatever the workspace's size.

use std::collections::HashMap;
use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use profilegraph_schema::ids::{self, NodeKind};
use profilegraph_store::Db;
use profilegraph_store::channels::{self, ChannelType};
use profilegraph_store::export::{self as store, After, Exported};
use profilegraph_store::fields;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    ChannelRecord, ContactRecord, Format, LIST_SEPARATOR, NoteRecord, Record, cell_of,
    contact_column, field_column, instant,
};
use crate::error::{Error, Result};

/// Profiles per page.
pub const PAGE: u64 = 500;

/// What to export and how.
pub struct Options {
    /// JSONL or CSV.
    pub format: Format,
    /// Only profiles changed at or after this instant.
    pub updated_since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Start a CSV with a byte order mark (and end its lines with CRLF), for Excel.
    pub excel: bool,
    /// Draw a progress bar.
    pub progress: bool,
}

/// The workspace's active fields (id → key, in position order) and its channels' CSV
/// columns.
struct Layout {
    fields: Vec<(Uuid, String)>,
    channels: Vec<(Uuid, String)>,
}

impl Layout {
    async fn read(db: &Db, workspace_id: Uuid) -> Result<Self> {
        let fields = fields::list(db, workspace_id, false)
            .await?
            .into_iter()
            .map(|f| (f.id, f.key))
            .collect();
        let all = channels::list(db, workspace_id).await?;
        let mut names: HashMap<&str, usize> = HashMap::new();
        for channel in &all {
            *names.entry(channel.name.as_str()).or_default() += 1;
        }
        let channels = all
            .iter()
            .map(|c| {
                let shared = names.get(c.name.as_str()).copied().unwrap_or(0) > 1;
                let channel_type = shared.then(|| ChannelType::from_db(&c.channel_type));
                (c.id, contact_column(&c.name, channel_type))
            })
            .collect();
        Ok(Layout { fields, channels })
    }

    fn header(&self) -> Vec<String> {
        let mut header = vec!["externalId".to_owned(), "name".to_owned()];
        header.extend(self.fields.iter().map(|(_, key)| field_column(key)));
        header.extend(self.channels.iter().map(|(_, column)| column.clone()));
        header
    }

    fn row(&self, exported: &Exported) -> Vec<String> {
        let mut row = vec![
            exported.profile.external_id.clone().unwrap_or_default(),
            exported.profile.name.clone(),
        ];
        for (field_id, _) in &self.fields {
            row.push(
                exported
                    .values
                    .iter()
                    .find(|v| v.field_id == *field_id)
                    .map(|v| cell_of(&v.value))
                    .unwrap_or_default(),
            );
        }
        for (channel_id, _) in &self.channels {
            let identifiers: Vec<&str> = exported
                .contacts
                .iter()
                .filter(|c| c.channel.id == *channel_id)
                .map(|c| c.row.identifier.as_str())
                .collect();
            row.push(identifiers.join(LIST_SEPARATOR));
        }
        row
    }

    fn record(&self, exported: Exported) -> Record {
        let keys: HashMap<Uuid, &str> = self
            .fields
            .iter()
            .map(|(id, k)| (*id, k.as_str()))
            .collect();
        let mut values: Vec<(&str, Value)> = exported
            .values
            .into_iter()
            .filter_map(|v| keys.get(&v.field_id).map(|key| (*key, v.value)))
            .collect();
        values.sort_by(|a, b| a.0.cmp(b.0));
        let fields: Map<String, Value> =
            values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Record {
            id: Some(ids::encode(NodeKind::Profile, exported.profile.id).to_string()),
            external_id: exported.profile.external_id,
            name: Some(exported.profile.name),
            fields,
            contacts: exported
                .contacts
                .into_iter()
                .map(|c| ContactRecord {
                    channel: ChannelRecord {
                        channel_type: c.channel.channel_type,
                        name: c.channel.name,
                    },
                    identifier: c.row.identifier,
                    display_name: Some(c.row.display_name),
                })
                .collect(),
            notes: exported
                .notes
                .into_iter()
                .map(|n| NoteRecord {
                    author: n.author.map(|a| a.email),
                    body: n.note.body,
                    created_at: instant(&n.note.created_at),
                    updated_at: instant(&n.note.updated_at),
                })
                .collect(),
        }
    }
}

/// Where an export's bytes go, a page at a time: a file or stdout for the command, a
/// response body for `GET /export/profiles.*`.
pub trait Sink {
    /// Take the next bytes; an error ends the export.
    fn send(&mut self, bytes: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
}

/// A [`Sink`] that writes to `W`.
struct ToWriter<W>(W);

impl<W: Write + Send> Sink for ToWriter<W> {
    async fn send(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.0.write_all(&bytes)?;
        Ok(())
    }
}

/// Write every profile of `workspace_id` to `out`; returns how many.
pub async fn run(
    db: &Db,
    workspace_id: Uuid,
    options: &Options,
    out: impl Write + Send,
) -> Result<u64> {
    let mut out = ToWriter(std::io::BufWriter::with_capacity(1 << 16, out));
    let written = stream(db, workspace_id, options, &mut out).await?;
    out.0.flush()?;
    Ok(written)
}

/// Send every profile of `workspace_id` to `sink`, one page of [`PAGE`] profiles at a
/// time (the CSV header, or Excel's byte order mark, with the first); returns how many.
pub async fn stream(
    db: &Db,
    workspace_id: Uuid,
    options: &Options,
    sink: &mut impl Sink,
) -> Result<u64> {
    let layout = Layout::read(db, workspace_id).await?;
    let bar = if options.progress {
        let total = profilegraph_store::profiles::count(db, workspace_id, None).await?;
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "export [{bar:40}] {pos}/{len} profiles ({per_sec}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    // CSV is written through the csv crate into each page's bytes; the first page's start
    // with the header (and Excel's byte order mark).
    let csv = match options.format {
        Format::Csv => {
            let mut builder = csv::WriterBuilder::new();
            if options.excel {
                builder.terminator(csv::Terminator::CRLF);
            }
            Some(builder)
        }
        Format::Jsonl => None,
    };
    let mut head = Vec::new();
    if let Some(builder) = &csv {
        if options.excel {
            head.extend_from_slice("\u{feff}".as_bytes());
        }
        let mut writer = builder.from_writer(&mut head);
        writer.write_record(layout.header()).map_err(csv_error)?;
        writer.flush()?;
    }
    let since = options.updated_since;
    let mut after: Option<After> = None;
    let mut written = 0_u64;
    loop {
        let page = store::page(db, workspace_id, since, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(After {
            created_at: last.profile.created_at,
            id: last.profile.id,
        });
        let n = page.len() as u64;
        let mut chunk = std::mem::take(&mut head);
        chunk.reserve(1 << 16);
        if let Some(builder) = &csv {
            let mut writer = builder.from_writer(&mut chunk);
            for exported in &page {
                writer
                    .write_record(layout.row(exported))
                    .map_err(csv_error)?;
            }
            writer.flush()?;
        } else {
            for exported in page {
                serde_json::to_writer(&mut chunk, &layout.record(exported))
                    .map_err(|e| Error::Io(e.into()))?;
                chunk.push(b'\n');
            }
        }
        sink.send(chunk).await?;
        written += n;
        bar.inc(n);
        if n < PAGE {
            break;
        }
    }
    // A CSV with no rows is its header alone.
    if !head.is_empty() {
        sink.send(head).await?;
    }
    bar.finish_and_clear();
    Ok(written)
}

fn csv_error(err: csv::Error) -> Error {
    Error::Io(std::io::Error::other(err))
}
