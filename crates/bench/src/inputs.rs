//! What the clients vary: profile ids, search terms, export cursors and write targets,
//! read straight from the freshly seeded database (plus one walk over the export pages
//! through the API for its cursors).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Moves per client in Q4: enough that a client's writes spread over many rows, few
/// enough that the clients never share one.
const MOVES_PER_CLIENT: usize = 16;
/// Distinct profiles Q1 walks through (shuffled).
const Q1_PROFILES: usize = 2_000;
/// Distinct search terms Q2 cycles through.
const Q2_TERMS: usize = 200;

/// A contact that moves back and forth between two profiles in Q4.
#[derive(Debug, Clone)]
pub struct Move {
    /// The contact.
    pub contact: Uuid,
    /// The profile it starts in.
    pub home: Uuid,
    /// The profile it moves to and back from.
    pub away: Uuid,
    /// Whether it is at `away` now. Shared by the server's and the ceiling's clients
    /// and kept across runs, so every move really moves the contact; only the one client
    /// that owns the move flips it.
    pub is_away: Arc<AtomicBool>,
}

impl Move {
    /// (where the contact is now, where it goes next).
    pub fn whereabouts(&self) -> (Uuid, Uuid) {
        if self.is_away.load(Ordering::Relaxed) {
            (self.away, self.home)
        } else {
            (self.home, self.away)
        }
    }

    /// Record that the contact moved.
    pub fn flip(&self) {
        self.is_away.fetch_xor(true, Ordering::Relaxed);
    }
}

/// A keyset position in the export order (by name, then id): the last row of a page.
#[derive(Debug, Clone)]
pub struct After {
    /// The name of the last profile of the previous page.
    pub name: String,
    /// Its id.
    pub id: Uuid,
}

/// Everything the workloads vary.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The seeded workspace.
    pub workspace_id: Uuid,
    /// The SHA-256 of the seed token, for the ceiling's authentication statement.
    pub token_hash: String,
    /// Profiles for Q1, shuffled.
    pub profiles: Vec<Uuid>,
    /// Name fragments for Q2.
    pub terms: Vec<String>,
    /// The start of each export page for the ceiling's Q3 (`None`: the first page).
    pub pages: Vec<Option<After>>,
    /// The API's cursors of the same pages for Q3 (`None`: the first page).
    pub cursors: Vec<Option<String>>,
    /// Q4's moves, `MOVES_PER_CLIENT` per client, no profile in two of them.
    pub moves: Vec<Vec<Move>>,
}

/// The global id of a profile: `base64url("Profile:<uuid>")`, as the API encodes it.
pub fn profile_gid(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("Profile:{id}"))
}

/// The global id of a contact.
pub fn contact_gid(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("Contact:{id}"))
}

/// A small deterministic shuffle (SplitMix64), so every run varies the same way.
pub fn shuffle<T>(items: &mut [T], mut seed: u64) {
    let mut next = move || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

async fn rows(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<sea_orm::QueryResult>> {
    let backend = db.get_database_backend();
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            crate::ceiling::placeholders(backend, sql),
            values,
        ))
        .await?)
}

/// Read the inputs from the database the seed just filled.
pub async fn collect(db: &DatabaseConnection, clients: usize) -> Result<Inputs> {
    let workspaces = rows(db, "SELECT id FROM workspaces", vec![]).await?;
    let [workspace] = workspaces.as_slice() else {
        return Err(Error::Setup(format!(
            "expected exactly the seeded workspace in the fresh database, found {}",
            workspaces.len()
        )));
    };
    let workspace_id: Uuid = workspace.try_get("", "id")?;
    let tokens = rows(
        db,
        "SELECT token_hash FROM api_tokens WHERE workspace_id = ?",
        vec![workspace_id.into()],
    )
    .await?;
    let token_hash: String = tokens
        .first()
        .ok_or_else(|| Error::Setup("the seeded workspace has no token".into()))?
        .try_get("", "token_hash")?;

    // The export order: what `profiles(first: 100)` pages through by default.
    let mut named = Vec::new();
    for row in rows(
        db,
        "SELECT id, name FROM profiles WHERE workspace_id = ? ORDER BY name, id",
        vec![workspace_id.into()],
    )
    .await?
    {
        let id: Uuid = row.try_get("", "id")?;
        let name: String = row.try_get("", "name")?;
        named.push((id, name));
    }
    if named.len() < 4 * clients {
        return Err(Error::Setup(format!(
            "only {} profiles: too few for {clients} clients",
            named.len()
        )));
    }
    let mut pages = vec![None];
    pages.extend(
        named
            .chunks(100)
            .filter(|chunk| chunk.len() == 100)
            .filter_map(|chunk| chunk.last())
            .map(|(id, name)| {
                Some(After {
                    name: name.clone(),
                    id: *id,
                })
            }),
    );
    // A full last page is followed by an empty one; the API pages the same way.
    if named.len() % 100 == 0 {
        pages.pop();
    }

    let mut profiles: Vec<Uuid> = named.iter().map(|(id, _)| *id).collect();
    shuffle(&mut profiles, 1);

    // Q2: fragments of real names ("Peter de Vries 4711"): a first name, a last name, a
    // number, or the start of a first name, in lower case as a person might type.
    let mut sample: Vec<&String> = named.iter().map(|(_, name)| name).collect();
    shuffle(&mut sample, 2);
    let terms = sample
        .iter()
        .take(Q2_TERMS)
        .enumerate()
        .filter_map(|(i, name)| {
            let words: Vec<&str> = name.split_whitespace().collect();
            let term = match i % 4 {
                0 => words.first().map(|w| (*w).to_owned()),
                1 => words
                    .get(words.len().saturating_sub(2))
                    .map(|w| w.to_lowercase()),
                2 => words.last().map(|w| (*w).to_owned()),
                _ => words
                    .first()
                    .map(|w| w.chars().take(3).collect::<String>().to_lowercase()),
            };
            term.filter(|t| !t.is_empty())
        })
        .collect();

    // Q4: contacts in a profile, each paired with a profile no other move touches.
    let mut attached = Vec::new();
    for row in rows(
        db,
        "SELECT id, profile_id FROM contacts WHERE workspace_id = ? AND profile_id IS NOT NULL \
         ORDER BY id",
        vec![workspace_id.into()],
    )
    .await?
    {
        let id: Uuid = row.try_get("", "id")?;
        let profile: Uuid = row.try_get("", "profile_id")?;
        attached.push((id, profile));
    }
    shuffle(&mut attached, 3);
    let mut used = std::collections::HashSet::new();
    let mut spare = profiles.iter().rev().copied();
    let mut all_moves = Vec::new();
    for (contact, home) in attached {
        if all_moves.len() == clients * MOVES_PER_CLIENT {
            break;
        }
        if !used.insert(home) {
            continue;
        }
        let Some(away) = spare.by_ref().find(|p| !used.contains(p)) else {
            break;
        };
        used.insert(away);
        all_moves.push(Move {
            contact,
            home,
            away,
            is_away: Arc::new(AtomicBool::new(false)),
        });
    }
    if all_moves.len() < clients {
        return Err(Error::Setup(format!(
            "could only pair {} contacts for the writes of {clients} clients",
            all_moves.len()
        )));
    }
    let per_client = all_moves.len() / clients;
    let moves = all_moves
        .chunks(per_client)
        .take(clients)
        .map(<[Move]>::to_vec)
        .collect();

    profiles.truncate(Q1_PROFILES);
    Ok(Inputs {
        workspace_id,
        token_hash,
        profiles,
        terms,
        pages,
        cursors: Vec::new(),
        moves,
    })
}

/// Walk every export page through the API once and keep the cursors, so Q3 requests
/// can start anywhere in the list. Checks that the API pages like the database orders.
pub async fn walk_cursors(
    client: &reqwest::Client,
    base_url: &str,
    token: &str,
    inputs: &mut Inputs,
) -> Result<()> {
    let query = "query Walk($cursor: String) { profiles(first: 100, after: $cursor) { \
                 pageInfo { endCursor hasNextPage } } }";
    let mut cursors = vec![None];
    let mut cursor: Option<String> = None;
    loop {
        let body: serde_json::Value = client
            .post(format!("{base_url}/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": { "cursor": cursor } }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if let Some(errors) = body.get("errors") {
            return Err(Error::Setup(format!("walking the export pages: {errors}")));
        }
        let info = &body["data"]["profiles"]["pageInfo"];
        if info["hasNextPage"] != true {
            break;
        }
        let next = info["endCursor"]
            .as_str()
            .ok_or_else(|| Error::Setup("an export page without endCursor".into()))?
            .to_owned();
        cursors.push(Some(next.clone()));
        cursor = Some(next);
    }
    if cursors.len() != inputs.pages.len() {
        return Err(Error::Setup(format!(
            "the API has {} export pages, the database order {}",
            cursors.len(),
            inputs.pages.len()
        )));
    }
    inputs.cursors = cursors;
    Ok(())
}
