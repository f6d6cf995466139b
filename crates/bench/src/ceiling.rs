//! The ceiling: the statements the server runs for each query shape, written by hand and
//! run from this process on the same database, level by level with the statements of a
//! level side by side, exactly as the loaders batch them. Its throughput is what the
//! server could reach if GraphQL parsing, resolving, JSON and HTTP cost nothing.
//!
//! The SQL below is what the server sends (taken from PostgreSQL's statement log of a
//! server run, `log_statement = 'all'`), with `SELECT *` where the server spells out
//! every column of the table, and the same parameters, bound the same way.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait, Value,
};
use uuid::Uuid;

use crate::cli::Shape;
use crate::http::rotated;
use crate::inputs::{After, Inputs, Move};
use crate::load::{Client, Sample};

/// `?` placeholders as the backend wants them: kept for SQLite, `$1, $2, …` for
/// PostgreSQL. (None of our SQL has a `?` inside a literal.)
pub fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `?, ?, …` for an IN list of `n` values.
fn list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A contains-pattern for LIKE, as the server builds it: lower case, `%`, `_` and `\`
/// escaped, wrapped in `%`.
fn contains_pattern(needle: &str) -> String {
    let mut escaped = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// The contact's columns under the prefix the server reads them by.
const CONTACT_COLUMNS: &str = "contacts.id AS ct_id, contacts.workspace_id AS ct_workspace_id, \
     contacts.channel_id AS ct_channel_id, contacts.identifier AS ct_identifier, \
     contacts.display_name AS ct_display_name, contacts.profile_id AS ct_profile_id, \
     contacts.created_at AS ct_created_at, contacts.updated_at AS ct_updated_at, \
     contacts.search_text AS ct_search_text";

/// The author's columns under the prefix the server reads them by.
const AUTHOR_COLUMNS: &str = "agents.id AS au_id, agents.workspace_id AS au_workspace_id, \
     agents.name AS au_name, agents.email AS au_email, agents.created_at AS au_created_at";

/// The channel's columns under the prefix the server reads them by.
const CHANNEL_COLUMNS: &str = "channels.id AS ch_id, channels.workspace_id AS ch_workspace_id, \
     channels.channel_type AS ch_channel_type, channels.name AS ch_name, \
     channels.created_at AS ch_created_at, channels.updated_at AS ch_updated_at";

/// Everything a statement set needs.
struct Ctx {
    db: DatabaseConnection,
    backend: DbBackend,
    workspace: Uuid,
    token_hash: String,
}

impl Ctx {
    async fn all(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, DbErr> {
        self.db
            .query_all_raw(Statement::from_sql_and_values(
                self.backend,
                placeholders(self.backend, sql),
                values,
            ))
            .await
    }

    /// The authentication every request starts with: the token by its hash.
    async fn authenticate(&self) -> Result<(), DbErr> {
        self.all(
            "SELECT * FROM api_tokens WHERE token_hash = ? LIMIT ?",
            vec![self.token_hash.clone().into(), 1_u64.into()],
        )
        .await
        .map(drop)
    }

    fn ws(&self) -> Value {
        self.workspace.into()
    }

    /// The workspace's active fields (`ActiveFields`).
    async fn fields(&self) -> Result<Vec<QueryResult>, DbErr> {
        self.all(
            "SELECT * FROM custom_fields WHERE workspace_id = ? AND archived = ? \
             ORDER BY position ASC, created_at ASC, id ASC",
            vec![self.ws(), false.into()],
        )
        .await
    }

    /// Field values of profiles (`ValuesOfProfile`).
    async fn values(&self, profiles: &[Uuid]) -> Result<Vec<QueryResult>, DbErr> {
        let sql = format!(
            "SELECT * FROM profile_field_values WHERE workspace_id = ? AND profile_id IN ({})",
            list(profiles.len())
        );
        self.all(&sql, with_ws(self.ws(), profiles)).await
    }

    /// Contacts of profiles with their channels, in channel order (`ContactsOfProfile`).
    async fn contacts_of(&self, profiles: &[Uuid]) -> Result<Vec<QueryResult>, DbErr> {
        let sql = format!(
            "SELECT contacts.*, {CHANNEL_COLUMNS} FROM contacts \
             INNER JOIN channels ON channels.id = contacts.channel_id \
             WHERE contacts.workspace_id = ? AND contacts.profile_id IN ({}) \
             ORDER BY channels.channel_type ASC, channels.name ASC, channels.id ASC, \
             contacts.created_at ASC, contacts.id ASC",
            list(profiles.len())
        );
        self.all(&sql, with_ws(self.ws(), profiles)).await
    }

    /// The newest `n` notes of each profile, with their authors (`NotesPage`).
    async fn notes_of(&self, profiles: &[Uuid], n: u64) -> Result<Vec<QueryResult>, DbErr> {
        let sql = format!(
            "SELECT * FROM (SELECT notes.*, notes.profile_id AS parent, {AUTHOR_COLUMNS}, \
             ROW_NUMBER() OVER (PARTITION BY notes.profile_id ORDER BY notes.created_at DESC, \
             notes.id DESC) AS rn FROM notes LEFT JOIN agents ON agents.id = notes.author_id \
             AND agents.workspace_id = notes.workspace_id \
             WHERE notes.workspace_id = ? AND notes.profile_id IN ({})) AS ranked \
             WHERE rn <= ? ORDER BY parent ASC, rn ASC",
            list(profiles.len())
        );
        let mut values = with_ws(self.ws(), profiles);
        values.push(n.into());
        self.all(&sql, values).await
    }
}

fn with_ws(ws: Value, ids: &[Uuid]) -> Vec<Value> {
    std::iter::once(ws)
        .chain(ids.iter().map(|id| Value::from(*id)))
        .collect()
}

fn column<'a>(
    rows: impl IntoIterator<Item = &'a QueryResult>,
    name: &str,
) -> Result<BTreeSet<Uuid>, DbErr> {
    let mut out = BTreeSet::new();
    for row in rows {
        if let Some(id) = row.try_get::<Option<Uuid>>("", name)? {
            out.insert(id);
        }
    }
    Ok(out)
}

/// Q1 for one profile: 7 statements in 3 rounds.
async fn q1(ctx: &Ctx, profile: Uuid) -> Result<u64, DbErr> {
    ctx.authenticate().await?;
    ctx.all(
        "SELECT * FROM profiles WHERE workspace_id = ? AND id IN (?)",
        vec![ctx.ws(), profile.into()],
    )
    .await?;
    let ids = [profile];
    // The moments come with their channel, their contact and the profile's total.
    let timeline = format!(
        "SELECT * FROM (SELECT contact_moments.*, contacts.profile_id AS parent, {CHANNEL_COLUMNS}, \
         {CONTACT_COLUMNS}, \
         COUNT(*) OVER (PARTITION BY contacts.profile_id) AS total, \
         ROW_NUMBER() OVER (PARTITION BY contacts.profile_id ORDER BY \
         contact_moments.last_message_at DESC, contact_moments.id DESC) AS rn \
         FROM contact_moments \
         INNER JOIN contacts ON contacts.id = contact_moments.contact_id \
         INNER JOIN channels ON channels.id = contact_moments.channel_id \
         WHERE contact_moments.workspace_id = ? AND contacts.profile_id IN (?)) AS ranked \
         WHERE rn <= ? ORDER BY parent ASC, rn ASC"
    );
    let (fields, values, contacts, moments, notes) = tokio::join!(
        ctx.fields(),
        ctx.values(&ids),
        ctx.contacts_of(&ids),
        ctx.all(&timeline, vec![ctx.ws(), profile.into(), 21_u64.into()]),
        ctx.notes_of(&ids, 11),
    );
    fields?;
    values?;
    contacts?;
    moments?;
    notes?;
    Ok(7)
}

/// Q2 for one search term: 4 statements in 3 rounds.
async fn q2(ctx: &Ctx, term: &str) -> Result<u64, DbErr> {
    ctx.authenticate().await?;
    let pattern = contains_pattern(term);
    // On the case-folded search columns, which PostgreSQL indexes with trigrams.
    let condition = "workspace_id = ? AND (profiles.search_name LIKE ? ESCAPE '\\' OR id IN \
                     (SELECT profile_id FROM contacts WHERE workspace_id = ? AND profile_id IS NOT NULL \
                     AND search_text LIKE ? ESCAPE '\\'))";
    let values = || -> Vec<Value> {
        vec![
            ctx.ws(),
            pattern.clone().into(),
            ctx.ws(),
            pattern.clone().into(),
        ]
    };
    let mut page_values = values();
    page_values.push(21_u64.into());
    let page = ctx
        .all(
            &format!("SELECT * FROM profiles WHERE {condition} ORDER BY profiles.name ASC, profiles.id ASC LIMIT ?"),
            page_values,
        )
        .await?;
    let ids: Vec<Uuid> = column(&page[..page.len().min(20)], "id")?
        .into_iter()
        .collect();
    let count_sql = format!("SELECT COUNT(*) AS n FROM profiles WHERE {condition}");
    let (count, contacts) = tokio::join!(ctx.all(&count_sql, values()), async {
        if ids.is_empty() {
            Ok(Vec::new())
        } else {
            ctx.contacts_of(&ids).await
        }
    });
    count?;
    contacts?;
    Ok(3 + u64::from(!ids.is_empty()))
}

/// Q3 for one export page: 7 statements in 4 rounds.
async fn q3(ctx: &Ctx, after: Option<&After>) -> Result<u64, DbErr> {
    ctx.authenticate().await?;
    let page = match after {
        None => {
            ctx.all(
                "SELECT * FROM profiles WHERE workspace_id = ? \
                 ORDER BY profiles.name ASC, profiles.id ASC LIMIT ?",
                vec![ctx.ws(), 101_u64.into()],
            )
            .await?
        }
        Some(after) => {
            ctx.all(
                "SELECT * FROM profiles WHERE workspace_id = ? \
                 AND profiles.name >= ? \
                 AND (profiles.name > ? OR (profiles.name = ? AND profiles.id > ?)) \
                 ORDER BY profiles.name ASC, profiles.id ASC LIMIT ?",
                vec![
                    ctx.ws(),
                    after.name.clone().into(),
                    after.name.clone().into(),
                    after.name.clone().into(),
                    after.id.into(),
                    101_u64.into(),
                ],
            )
            .await?
        }
    };
    let profiles: Vec<Uuid> = page[..page.len().min(100)]
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect::<Result<_, _>>()?;
    if profiles.is_empty() {
        return Ok(2);
    }
    let (fields, values, contacts, notes) = tokio::join!(
        ctx.fields(),
        ctx.values(&profiles),
        ctx.contacts_of(&profiles),
        ctx.notes_of(&profiles, 11),
    );
    let (_, _, contacts, _) = (fields?, values?, contacts?, notes?);
    let contact_ids: Vec<Uuid> = column(&contacts, "id")?.into_iter().collect();
    let moments_sql = format!(
        "SELECT * FROM (SELECT contact_moments.*, contact_moments.contact_id AS parent, \
         {CHANNEL_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY contact_moments.contact_id ORDER BY \
         contact_moments.last_message_at DESC, contact_moments.id DESC) AS rn \
         FROM contact_moments INNER JOIN channels ON channels.id = contact_moments.channel_id \
         WHERE contact_moments.workspace_id = ? AND contact_moments.contact_id IN ({})) AS ranked \
         WHERE rn <= ? ORDER BY parent ASC, rn ASC",
        list(contact_ids.len())
    );
    let mut moment_values = with_ws(ctx.ws(), &contact_ids);
    moment_values.push(11_u64.into());
    if contact_ids.is_empty() {
        return Ok(6);
    }
    ctx.all(&moments_sql, moment_values).await?;
    Ok(7)
}

/// The instant as the server stores it: UTC, whole microseconds.
fn now() -> Value {
    use chrono::SubsecRound;
    let now: chrono::DateTime<chrono::FixedOffset> = chrono::Utc::now().trunc_subsecs(6).into();
    now.into()
}

/// Q4's move: the contact goes from `from` to `to`, both versions go up; 6 statements,
/// 5 of them in one write transaction (the updates return the rows the answer shows).
async fn move_contact(ctx: &Ctx, contact: Uuid, from: Uuid, to: Uuid) -> Result<u64, DbErr> {
    ctx.authenticate().await?;
    let txn = ctx
        .db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    let run = |sql: &'static str, values: Vec<Value>| {
        let statement =
            Statement::from_sql_and_values(ctx.backend, placeholders(ctx.backend, sql), values);
        txn.query_all_raw(statement)
    };
    let find_profile = "SELECT * FROM profiles WHERE id = ? AND workspace_id = ? LIMIT ?";
    let find_contact = "SELECT * FROM contacts WHERE id = ? AND workspace_id = ? LIMIT ?";
    let bump = "UPDATE profiles SET version = version + ?, updated_at = ? \
                WHERE id = ? AND workspace_id = ? RETURNING *";
    run(find_profile, vec![to.into(), ctx.ws(), 1_u64.into()]).await?;
    run(find_contact, vec![contact.into(), ctx.ws(), 1_u64.into()]).await?;
    let moved = run(
        "UPDATE contacts SET profile_id = ?, updated_at = ? \
         WHERE id = ? AND workspace_id = ? AND profile_id = ? RETURNING *",
        vec![to.into(), now(), contact.into(), ctx.ws(), from.into()],
    )
    .await?;
    if moved.len() != 1 {
        return Err(DbErr::Custom(format!(
            "contact {contact} was not in profile {from}"
        )));
    }
    run(bump, vec![1_i32.into(), now(), to.into(), ctx.ws()]).await?;
    run(bump, vec![1_i32.into(), now(), from.into(), ctx.ws()]).await?;
    txn.commit().await?;
    Ok(6)
}

/// Q4's note: 2 statements; the insert only writes if the profile is in the workspace.
async fn create_note(
    ctx: &Ctx,
    profile: Uuid,
    author: Option<Uuid>,
    body: String,
) -> Result<u64, DbErr> {
    ctx.authenticate().await?;
    let at = now();
    let written = ctx
        .all(
            "INSERT INTO notes (id, workspace_id, profile_id, author_id, body, created_at, \
             updated_at) SELECT ?, profiles.workspace_id, profiles.id, ?, ?, ?, ? \
             FROM profiles WHERE profiles.id = ? AND profiles.workspace_id = ? RETURNING *",
            vec![
                Uuid::now_v7().into(),
                author.into(),
                body.into(),
                at.clone(),
                at,
                profile.into(),
                ctx.ws(),
            ],
        )
        .await?;
    if written.is_empty() {
        return Err(DbErr::Custom(format!("profile {profile} not found")));
    }
    Ok(2)
}

enum Work {
    Q1(Vec<Uuid>),
    Q2(Vec<String>),
    Q3(Vec<Option<After>>),
    Q4 { moves: Vec<Move>, index: usize },
}

struct SqlClient {
    ctx: Arc<Ctx>,
    author: Option<Uuid>,
    work: Work,
    step: usize,
}

impl Client for SqlClient {
    fn step(&mut self) -> BoxFuture<'_, Sample> {
        let step = self.step;
        self.step += 1;
        Box::pin(async move {
            let ctx = &*self.ctx;
            let (op, outcome) = match &mut self.work {
                Work::Q1(ids) => ("Q1", q1(ctx, ids[step % ids.len()]).await),
                Work::Q2(terms) => ("Q2", q2(ctx, &terms[step % terms.len()]).await),
                Work::Q3(pages) => ("Q3", q3(ctx, pages[step % pages.len()].as_ref()).await),
                Work::Q4 { moves, index } => {
                    let m = &moves[(step / 2) % moves.len()];
                    let (from, to) = m.whereabouts();
                    if step.is_multiple_of(2) {
                        let outcome = move_contact(ctx, m.contact, from, to).await;
                        if outcome.is_ok() {
                            m.flip();
                        }
                        ("move", outcome)
                    } else {
                        // The note goes on the profile the contact is in now, as through
                        // the server.
                        let body =
                            format!("Bench note {index}-{step}: called back about the order.");
                        ("note", create_note(ctx, from, self.author, body).await)
                    }
                }
            };
            match outcome {
                Ok(statements) => Sample::ok(op, Some(statements)),
                Err(err) => Sample::failed(op, None, err.to_string()),
            }
        })
    }
}

/// The ceiling's clients for `shape`, on `db`, walking the same inputs as the server's.
pub async fn clients(
    shape: Shape,
    db: &DatabaseConnection,
    inputs: &Inputs,
    count: usize,
) -> Result<Vec<Box<dyn Client>>, DbErr> {
    let ctx = Arc::new(Ctx {
        db: db.clone(),
        backend: db.get_database_backend(),
        workspace: inputs.workspace_id,
        token_hash: inputs.token_hash.clone(),
    });
    // The seed token's agent writes the notes, as it does through the API.
    let author = ctx
        .all(
            "SELECT agent_id FROM api_tokens WHERE token_hash = ?",
            vec![inputs.token_hash.clone().into()],
        )
        .await?
        .first()
        .map(|row| row.try_get::<Option<Uuid>>("", "agent_id"))
        .transpose()?
        .flatten();
    Ok((0..count)
        .map(|index| {
            let work = match shape {
                Shape::Q1 | Shape::Q1Single => Work::Q1(rotated(&inputs.profiles, index, count)),
                Shape::Q2 => Work::Q2(rotated(&inputs.terms, index, count)),
                Shape::Q3 => Work::Q3(rotated(&inputs.pages, index, count)),
                Shape::Q4 => Work::Q4 {
                    moves: inputs.moves[index % inputs.moves.len()].clone(),
                    index,
                },
            };
            Box::new(SqlClient {
                ctx: Arc::clone(&ctx),
                author,
                work,
                step: 0,
            }) as Box<dyn Client>
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_for_postgres_only() {
        let sql = "SELECT * FROM t WHERE a = ? AND b IN (?, ?)";
        assert_eq!(placeholders(DbBackend::Sqlite, sql), sql);
        assert_eq!(
            placeholders(DbBackend::Postgres, sql),
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)"
        );
    }

    #[test]
    fn patterns_escape_like_wildcards() {
        assert_eq!(contains_pattern("Peter"), "%peter%");
        assert_eq!(contains_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
