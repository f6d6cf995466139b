//! Suggestions: which profile a contact probably belongs to, and which profiles are
//! probably the same person.
//!
//! Three reasons, each found by an exact index look-up on both databases, then scored
//! here (the same code for SQLite and PostgreSQL, so both answer the same):
//!
//! - `SAME_EMAIL` / `SAME_PHONE`: a contact of the profile has the same normalised e-mail
//!   address or E.164 number on another channel. Every contact stores its identifier in
//!   that form as `match_key` (`email:…`, `phone:…`), indexed by workspace.
//! - `SIMILAR_NAME`: the names are alike. A name is folded (lower case, accents and
//!   punctuation dropped, words sorted), so case, accents and word order never hide a
//!   match; every profile also stores its folded name with one letter left out, once per
//!   letter (`profile_name_keys`), and a look-up with the other name's same forms finds
//!   every name one small typo away (a letter missing, extra, wrong or two swapped). The
//!   candidates are then scored word by word ([`name_similarity`]).

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use entity::{contacts, profile_name_keys as keys, profiles};

use crate::Db;
use crate::contacts::identifier;
use crate::error::Result;

/// Why a profile is suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A contact of it has the same e-mail address on another channel.
    SameEmail,
    /// A contact of it has the same phone number on another channel.
    SamePhone,
    /// Its name is like the contact's display name (or the other profile's name).
    SimilarName,
}

/// One suggested profile: how likely it is the one (0 to 1) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The profile.
    pub profile: profiles::Model,
    /// How likely, 0 to 1.
    pub score: f64,
    /// Why, at least one reason, in a fixed order.
    pub reasons: Vec<Reason>,
}

/// The most suggestions one call returns.
pub const MAX_SUGGESTIONS: usize = 20;

/// How alike two names must be ([`name_similarity`]) to count as `SIMILAR_NAME`.
pub const NAME_THRESHOLD: f64 = 0.8;

/// At most this many profiles per look-up are scored: a name shared by more profiles
/// than that says little about any one of them.
const CANDIDATES: u64 = 200;

/// How much each reason says on its own; several combine as independent evidence.
fn weight(reason: Reason, name_similarity: f64) -> f64 {
    match reason {
        Reason::SameEmail => 0.95,
        Reason::SamePhone => 0.9,
        // 0.5 at the threshold, up to 0.85 for the same name: many people share a name,
        // few share an address or a number.
        Reason::SimilarName => 0.5 + (name_similarity - NAME_THRESHOLD) * 1.75,
    }
}

/// The identifier as the suggestions compare it, whatever the channel: `email:` and the
/// normalised address, `phone:` and the E.164 number, or `None` for other identifiers
/// (platform ids).
pub fn match_key(identifier: &str) -> Option<String> {
    if let Some(address) = identifier::email(identifier) {
        return Some(format!("email:{address}"));
    }
    identifier::e164(identifier).map(|number| format!("phone:{number}"))
}

/// The reason a shared `match_key` gives.
fn reason_of(match_key: &str) -> Reason {
    if match_key.starts_with("phone:") {
        Reason::SamePhone
    } else {
        Reason::SameEmail
    }
}

/// Letters that carry no accent to take off but have a plain spelling.
fn plain(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// The words of a name, folded: lower case, accents dropped ("Núñez" is "nunez"),
/// split at everything that is not a letter or digit ("Bakker, Peter." is "bakker",
/// "peter").
pub fn name_words(name: &str) -> Vec<String> {
    let mut folded = String::with_capacity(name.len());
    for c in name.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        for lower in c.to_lowercase() {
            match plain(lower) {
                Some(spelled) => folded.push_str(spelled),
                None => folded.push(lower),
            }
        }
    }
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The most words of a name that are looked at, and the longest key stored.
const MAX_WORDS: usize = 8;
const MAX_KEY: usize = 200;

/// Words sorted and joined: the name with case, accents, punctuation and word order gone.
fn key_of(mut words: Vec<String>) -> Option<String> {
    words.retain(|w| !w.is_empty());
    if words.is_empty() {
        return None;
    }
    words.sort();
    let key: String = words.join(" ");
    Some(key.chars().take(MAX_KEY).collect())
}

/// What `profile_name_keys` holds for a name: its folded form, and that form with each
/// one letter left out (the words sorted again). Two names one small typo apart share a
/// key: a missing or extra letter leaves the shorter one's form, a wrong letter or two
/// swapped ones leave the same form when that letter is left out of both.
///
/// A name with no letter or digit has no keys, and neither does one that is only digits
/// (a phone number used as a display name says nothing about a name).
pub fn name_keys(name: &str) -> Vec<String> {
    let mut words = name_words(name);
    words.truncate(MAX_WORDS);
    if !words.iter().any(|w| w.chars().any(char::is_alphabetic)) {
        return Vec::new();
    }
    let mut out = BTreeSet::new();
    if let Some(key) = key_of(words.clone()) {
        out.insert(key);
    }
    for (i, word) in words.iter().enumerate() {
        let chars: Vec<char> = word.chars().collect();
        for skip in 0..chars.len() {
            let shorter: String = chars
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != skip)
                .map(|(_, c)| *c)
                .collect();
            let mut variant = words.clone();
            variant[i] = shorter;
            if let Some(key) = key_of(variant) {
                out.insert(key);
            }
        }
    }
    out.into_iter().collect()
}

/// The edit distance of two words: insertions, deletions, substitutions and swaps of
/// two neighbouring letters each cost one (optimal string alignment).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

/// How alike two words are, 0 to 1. Numbers must be equal.
fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let numeric = |w: &str| w.chars().all(|c| c.is_ascii_digit());
    if numeric(a) || numeric(b) {
        return 0.0;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len()).max(1);
    1.0 - edit_distance(&a, &b) as f64 / longest as f64
}

/// How alike two names are, 0 to 1, whatever their case, accents, punctuation and word
/// order: the words are paired best first, each pair counts by how alike its words are,
/// weighed by their length, and a word left without a partner counts as nothing.
/// "Peter B." and "peter b" are 1; "Bakker, Peter" and "Peter Bakker" are 1; "Peter
/// Bakkre" and "Peter Bakker" are about 0.85; "Peter Visser" and "Peter Bakker" about 0.6.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (name_words(a), name_words(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let len = |w: &String| w.chars().count() as f64;
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            let s = word_similarity(x, y);
            // A pair less alike than this is two different words, not a typo.
            if s >= 0.5 {
                pairs.push((s, i, j));
            }
        }
    }
    pairs.sort_by(|p, q| q.0.total_cmp(&p.0).then(p.1.cmp(&q.1)).then(p.2.cmp(&q.2)));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut matched = 0.0;
    let mut total = 0.0;
    for (s, i, j) in pairs {
        if used_a[i] || used_b[j] {
            continue;
        }
        used_a[i] = true;
        used_b[j] = true;
        let w = len(&a[i]).max(len(&b[j]));
        matched += s * w;
        total += w;
    }
    total += a
        .iter()
        .zip(&used_a)
        .filter(|(_, used)| !**used)
        .map(|(w, _)| len(w))
        .sum::<f64>();
    total += b
        .iter()
        .zip(&used_b)
        .filter(|(_, used)| !**used)
        .map(|(w, _)| len(w))
        .sum::<f64>();
    if total == 0.0 { 0.0 } else { matched / total }
}

/// The rows of `profile_name_keys` for a profile called `name`.
pub fn key_rows(workspace_id: Uuid, profile_id: Uuid, name: &str) -> Vec<keys::ActiveModel> {
    name_keys(name)
        .into_iter()
        .map(|key| keys::ActiveModel {
            profile_id: Set(profile_id),
            key: Set(key),
            workspace_id: Set(workspace_id),
        })
        .collect()
}

/// Store the name keys of a profile called `name`, replacing any it had, inside the
/// caller's transaction: every write of a profile's name calls this.
pub async fn index_name<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    name: &str,
    replace: bool,
) -> Result<()> {
    if replace {
        keys::Entity::delete_many()
            .filter(keys::Column::WorkspaceId.eq(workspace_id))
            .filter(keys::Column::ProfileId.eq(profile_id))
            .exec(txn)
            .await?;
    }
    crate::bulk::insert_rows(txn, key_rows(workspace_id, profile_id, name)).await
}

/// Give every profile without name keys its keys (profiles written before the keys
/// existed), a batch at a time; returns how many profiles were indexed.
pub async fn backfill(db: &Db) -> Result<u64> {
    let mut done = 0;
    loop {
        let missing = Query::select()
            .column(keys::Column::ProfileId)
            .from(keys::Entity)
            .and_where(
                Expr::col((keys::Entity, keys::Column::ProfileId))
                    .equals((profiles::Entity, profiles::Column::Id)),
            )
            .to_owned();
        let batch: Vec<(Uuid, Uuid, String)> = profiles::Entity::find()
            .select_only()
            .column(profiles::Column::Id)
            .column(profiles::Column::WorkspaceId)
            .column(profiles::Column::Name)
            .filter(Expr::exists(missing).not())
            .limit(500)
            .into_tuple()
            .all(&db.conn)
            .await?;
        let n = batch.len() as u64;
        // A name with no keys (no letters) is looked at once per call, not in a loop.
        let rows: Vec<keys::ActiveModel> = batch
            .iter()
            .flat_map(|(id, ws, name)| key_rows(*ws, *id, name))
            .collect();
        if rows.is_empty() {
            return Ok(done);
        }
        let txn = db.begin_write().await?;
        crate::bulk::insert_rows(&txn, rows).await?;
        txn.commit().await?;
        done += n;
        if n < 500 {
            return Ok(done);
        }
    }
}

/// Evidence for one candidate profile.
#[derive(Debug, Default)]
struct Evidence {
    reasons: BTreeSet<Reason>,
    name_similarity: f64,
}

/// Profiles of the workspace (but `exclude`) with a name key among `name_keys`: one
/// look-up in the keys' index, nothing joined (the names come with the candidates'
/// rows, see [`rank`]).
async fn by_name_keys(
    db: &Db,
    workspace_id: Uuid,
    name_keys: Vec<String>,
    exclude: &[Uuid],
) -> Result<Vec<Uuid>> {
    if name_keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = keys::Entity::find()
        .select_only()
        .column(keys::Column::ProfileId)
        .distinct()
        .filter(keys::Column::WorkspaceId.eq(workspace_id))
        .filter(keys::Column::Key.is_in(name_keys))
        .limit(CANDIDATES);
    if !exclude.is_empty() {
        select = select.filter(keys::Column::ProfileId.is_not_in(exclude.to_vec()));
    }
    Ok(select.into_tuple().all(&db.conn).await?)
}

/// Profiles of the workspace (but `exclude`) with a contact (other than `not_contact`)
/// whose match key is among `match_keys`, with that key.
async fn by_match_keys(
    db: &Db,
    workspace_id: Uuid,
    match_keys: Vec<String>,
    exclude: &[Uuid],
) -> Result<Vec<(Uuid, String)>> {
    if match_keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = contacts::Entity::find()
        .select_only()
        .column(contacts::Column::ProfileId)
        .column(contacts::Column::MatchKey)
        .filter(contacts::Column::WorkspaceId.eq(workspace_id))
        .filter(contacts::Column::MatchKey.is_in(match_keys))
        .filter(contacts::Column::ProfileId.is_not_null())
        .limit(CANDIDATES);
    if !exclude.is_empty() {
        select = select.filter(contacts::Column::ProfileId.is_not_in(exclude.to_vec()));
    }
    let rows: Vec<(Option<Uuid>, Option<String>)> = select.into_tuple().all(&db.conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(p, k)| Some((p?, k?)))
        .collect())
}

/// Load the candidates (those with an identifier in common, `evidence`, and those with
/// a name key in common, `by_name`) in one statement, score their names against `name`,
/// and return them best first, at most `first`.
async fn rank(
    db: &Db,
    workspace_id: Uuid,
    mut evidence: HashMap<Uuid, Evidence>,
    name: Option<&str>,
    by_name: Vec<Uuid>,
    first: usize,
) -> Result<Vec<Suggestion>> {
    let mut ids: Vec<Uuid> = evidence.keys().copied().chain(by_name).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: HashMap<Uuid, profiles::Model> = crate::profiles::by_ids(db, workspace_id, ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    if let Some(name) = name {
        for (id, profile) in &rows {
            let similarity = name_similarity(name, &profile.name);
            if similarity >= NAME_THRESHOLD {
                let e = evidence.entry(*id).or_default();
                e.reasons.insert(Reason::SimilarName);
                e.name_similarity = e.name_similarity.max(similarity);
            }
        }
    }
    let mut scored: Vec<(Uuid, f64, Vec<Reason>)> = evidence
        .into_iter()
        .filter(|(_, e)| !e.reasons.is_empty())
        .map(|(id, e)| {
            let doubt: f64 = e
                .reasons
                .iter()
                .map(|r| 1.0 - weight(*r, e.name_similarity))
                .product();
            let score = ((1.0 - doubt) * 1000.0).round() / 1000.0;
            (id, score.clamp(0.0, 1.0), e.reasons.into_iter().collect())
        })
        .collect();
    // Best first; of equals, the profile changed last, then by id, so the order is stable.
    scored.sort_by(|a, b| {
        b.1.total_cmp(&a.1).then_with(|| {
            let at = |id: &Uuid| rows.get(id).map(|p| p.updated_at);
            at(&b.0).cmp(&at(&a.0)).then(b.0.cmp(&a.0))
        })
    });
    Ok(scored
        .into_iter()
        .filter_map(|(id, score, reasons)| {
            rows.get(&id).map(|profile| Suggestion {
                profile: profile.clone(),
                score,
                reasons,
            })
        })
        .take(first.min(MAX_SUGGESTIONS))
        .collect())
}

/// The profiles `contact` most likely belongs to, best first: never its own profile,
/// never another workspace's.
pub async fn for_contact(
    db: &Db,
    workspace_id: Uuid,
    contact: &contacts::Model,
    first: usize,
) -> Result<Vec<Suggestion>> {
    if first == 0 {
        return Ok(Vec::new());
    }
    let exclude: Vec<Uuid> = contact.profile_id.into_iter().collect();
    let mut evidence: HashMap<Uuid, Evidence> = HashMap::new();
    if let Some(key) = &contact.match_key {
        for (id, key) in by_match_keys(db, workspace_id, vec![key.clone()], &exclude).await? {
            evidence
                .entry(id)
                .or_default()
                .reasons
                .insert(reason_of(&key));
        }
    }
    // A display name that is only the identifier says nothing about the person's name.
    let name = (contact.display_name != contact.identifier).then_some(&*contact.display_name);
    let by_name = match name {
        Some(name) => by_name_keys(db, workspace_id, name_keys(name), &exclude).await?,
        None => Vec::new(),
    };
    rank(db, workspace_id, evidence, name, by_name, first).await
}

/// Other profiles that are likely the same person as `profile`, best first.
pub async fn duplicates_of(
    db: &Db,
    workspace_id: Uuid,
    profile: &profiles::Model,
    first: usize,
) -> Result<Vec<Suggestion>> {
    if first == 0 {
        return Ok(Vec::new());
    }
    let exclude = vec![profile.id];
    let mut evidence: HashMap<Uuid, Evidence> = HashMap::new();
    let own_keys: Vec<String> = contacts::Entity::find()
        .select_only()
        .column(contacts::Column::MatchKey)
        .filter(contacts::Column::WorkspaceId.eq(workspace_id))
        .filter(contacts::Column::ProfileId.eq(profile.id))
        .filter(contacts::Column::MatchKey.is_not_null())
        .into_tuple::<Option<String>>()
        .all(&db.conn)
        .await?
        .into_iter()
        .flatten()
        .collect();
    for (id, key) in by_match_keys(db, workspace_id, own_keys, &exclude).await? {
        evidence
            .entry(id)
            .or_default()
            .reasons
            .insert(reason_of(&key));
    }
    let by_name = by_name_keys(db, workspace_id, name_keys(&profile.name), &exclude).await?;
    rank(
        db,
        workspace_id,
        evidence,
        Some(&profile.name),
        by_name,
        first,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_case_accents_punctuation_and_order() {
        assert_eq!(name_words("José Núñez"), ["jose", "nunez"]);
        assert_eq!(name_words("Bakker, Peter."), ["bakker", "peter"]);
        assert_eq!(name_words("Straße Øre"), ["strasse", "ore"]);
        assert_eq!(name_similarity("Peter B.", "peter b"), 1.0);
        assert_eq!(name_similarity("José Núñez", "Jose Nunez"), 1.0);
        assert_eq!(name_similarity("Bakker, Peter", "Peter Bakker"), 1.0);
    }

    #[test]
    fn small_typos_stay_alike_and_other_people_do_not() {
        assert!(name_similarity("Peter Bakkre", "Peter Bakker") >= NAME_THRESHOLD);
        assert!(name_similarity("Petr Bakker", "Peter Bakker") >= NAME_THRESHOLD);
        assert!(name_similarity("Peter Visser", "Peter Bakker") < NAME_THRESHOLD);
        assert!(name_similarity("Maria Bakker", "Peter Bakker") < NAME_THRESHOLD);
        assert!(name_similarity("Peter Bakker 12", "Peter Bakker 13") < NAME_THRESHOLD);
    }

    #[test]
    fn names_one_typo_apart_share_a_key() {
        let shares = |a: &str, b: &str| {
            let a: BTreeSet<String> = name_keys(a).into_iter().collect();
            name_keys(b).iter().any(|k| a.contains(k))
        };
        assert!(shares("Peter Bakker", "Bakker, Peter"));
        assert!(shares("Peter Bakker", "Peter Bakkr"));
        assert!(shares("Peter Bakker", "Peter Bakekr"));
        assert!(shares("Peter Bakker", "Peter Vakker"));
        assert!(shares("Peter Bakker", "Peter Baskker"));
        assert!(shares("José Núñez", "jose nunez"));
        assert!(!shares("Peter Bakker", "Peter Visser"));
        assert!(name_keys("+31612345678").is_empty());
        assert!(name_keys("!!!").is_empty());
    }

    #[test]
    fn identifiers_match_by_address_or_number() {
        assert_eq!(
            match_key(" Peter.B@Example.com").as_deref(),
            Some("email:peter.b@example.com")
        );
        assert_eq!(
            match_key("+31 6 1234 5678").as_deref(),
            Some("phone:+31612345678")
        );
        assert_eq!(match_key("fb:123456"), None);
    }
}
