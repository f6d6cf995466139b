//! A labelled set of duplicates for measuring the suggestions: `profilegraph seed
//! --duplicates N`.
//!
//! Each case is a profile and a new contact that writes in, labelled with the profile it
//! belongs to, or with none. The cases follow the product's rules for what makes two
//! identities one person, written down here on their own (not derived from the matcher):
//!
//! - a name variant on a new channel: other case, accents dropped, "Last, First", one
//!   small typo (a letter missing, doubled, swapped with its neighbour or replaced), or
//!   an abbreviation written without its dot ("Søren M." and "søren m");
//! - the same phone number on WhatsApp and by SMS, written another way;
//! - the same e-mail address by e-mail and in the website chat, in other case;
//! - near misses: a different person who shares a first or a last name with a profile,
//!   on a number and address of their own: no profile is theirs.
//!
//! [`evaluate`] asks the store for each contact's suggestions and reports precision at 1
//! (of the contacts that got a suggestion, how often the first was right) and recall at 5
//! (of the contacts that have a profile, how often it was among the first five).

use chrono::{DateTime, Duration, FixedOffset};
use profilegraph_store::Db;
use profilegraph_store::bulk::{self, ProfileRow};
use profilegraph_store::membership::{self, ContactRow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::Result;

/// First names of the labelled people: no two of them one small typo apart.
const FIRST: [&str; 30] = [
    "José",
    "Raphaël",
    "Søren",
    "Chloé",
    "Björn",
    "Ünal",
    "Agnieszka",
    "François",
    "Małgorzata",
    "Renée",
    "Jürgen",
    "Inés",
    "Łukasz",
    "Anaïs",
    "Mónica",
    "Héloïse",
    "Tomáš",
    "Dagný",
    "Fatima",
    "Kwame",
    "Oluwaseun",
    "Priyanka",
    "Hiroshi",
    "Siobhán",
    "Ólafur",
    "Benedikt",
    "Ximena",
    "Thandiwe",
    "Gaëlle",
    "Radosław",
];
/// Last names of the labelled people: likewise.
const LAST: [&str; 30] = [
    "Núñez",
    "Müller",
    "Øvergaard",
    "Dvořák",
    "García",
    "Kowalczyk",
    "Lefèvre",
    "Ångström",
    "Şahin",
    "O'Connor",
    "van der Meer",
    "de la Cruz",
    "Nakamura",
    "Okonkwo",
    "Fernández",
    "Schröder",
    "Lindqvist",
    "Petrović",
    "Brennan",
    "Castellanos",
    "Abernathy",
    "Wróblewski",
    "Delacroix",
    "Haraldsdóttir",
    "Mbeki",
    "Quintero",
    "Rosenthal",
    "Szabó",
    "Trujillo",
    "Vasquez-Ortega",
];

/// What kind of case a labelled contact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    /// A variant of the profile's name, on a new channel identity.
    NameVariant,
    /// The profile's phone number on another channel.
    SamePhone,
    /// The profile's e-mail address on another channel.
    SameEmail,
    /// Someone else, sharing a word of a profile's name.
    NearMiss,
}

/// One labelled contact: the profile it belongs to, if any.
#[derive(Debug, Clone)]
pub struct Case {
    /// The contact that wrote in.
    pub contact_id: Uuid,
    /// The profile it belongs to; `None` for a near miss.
    pub truth: Option<Uuid>,
    /// What kind of case it is.
    pub kind: CaseKind,
    /// Its display name, for the report.
    pub display_name: String,
}

/// Letters in the plain spelling of their accented forms, for "accents dropped".
fn without_accents(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'å' => 'a',
            'Å' | 'Á' => 'A',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'É' => 'E',
            'í' | 'ï' | 'î' => 'i',
            'Í' => 'I',
            'ó' | 'ö' | 'ô' => 'o',
            'Ó' | 'Ö' => 'O',
            'ú' | 'ü' => 'u',
            'Ü' => 'U',
            'ñ' => 'n',
            'ç' => 'c',
            'ř' => 'r',
            'ć' => 'c',
            'ş' => 's',
            'Ş' => 'S',
            'š' => 's',
            'ł' => 'l',
            'Ł' => 'L',
            'ø' => 'o',
            'Ø' => 'O',
            'ý' => 'y',
            other => other,
        })
        .collect()
}

/// One small typo in the longest word of `name`: a letter left out, doubled, swapped
/// with the next one, or replaced by its neighbour in the alphabet.
fn with_typo(name: &str, rng: &mut StdRng) -> String {
    let mut words: Vec<Vec<char>> = name.split(' ').map(|w| w.chars().collect()).collect();
    let Some((index, _)) = words.iter().enumerate().max_by_key(|(_, w)| w.len()) else {
        return name.to_owned();
    };
    let word = &mut words[index];
    if word.len() < 3 {
        return name.to_owned();
    }
    // Not the first letter, so the typo is inside the word, where people make them.
    let at = rng.random_range(1..word.len().max(2) - 1);
    match rng.random_range(0..4) {
        0 => {
            word.remove(at);
        }
        1 => word.insert(at, word[at]),
        2 if at + 1 < word.len() && word[at] != word[at + 1] => word.swap(at, at + 1),
        _ => {
            let c = word[at];
            word[at] = if c.is_ascii_lowercase() && c != 'z' {
                char::from(c as u8 + 1)
            } else {
                'x'
            };
        }
    }
    words
        .into_iter()
        .map(|w| w.into_iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The name-variant rule for case `i`.
fn variant(first: &str, last: &str, i: usize, rng: &mut StdRng) -> (String, String) {
    let full = format!("{first} {last}");
    match i % 5 {
        0 => (full.clone(), full.to_uppercase()),
        1 => (full.clone(), without_accents(&full).to_lowercase()),
        2 => (full, format!("{last}, {first}")),
        3 => (full.clone(), with_typo(&full, rng)),
        _ => {
            let initial: String = last.chars().take(1).collect();
            (
                format!("{first} {initial}."),
                format!("{} {}", first.to_lowercase(), initial.to_lowercase()),
            )
        }
    }
}

/// Add `n` labelled cases to workspace `workspace_id` (which has the seed's channels),
/// deterministically from `seed`. Returns the labels.
pub async fn seed_labelled(db: &Db, workspace_id: Uuid, n: usize, seed: u64) -> Result<Vec<Case>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let channels = entity::channels::Entity::find()
        .filter(entity::channels::Column::WorkspaceId.eq(workspace_id))
        .all(&db.conn)
        .await?;
    let channel = |channel_type: &str| -> Result<Uuid> {
        channels
            .iter()
            .find(|c| c.channel_type == channel_type)
            .map(|c| c.id)
            .ok_or_else(|| {
                crate::Error::Usage(format!("the workspace has no {channel_type} channel"))
            })
    };
    let (email, whatsapp, sms, chat) = (
        channel("EMAIL")?,
        channel("WHATSAPP")?,
        channel("SMS")?,
        channel("LIVE_CHAT")?,
    );
    let base: DateTime<FixedOffset> = profilegraph_store::now();
    let at = |k: usize| base + Duration::seconds(i64::try_from(k).unwrap_or(0));

    // Every (first, last) pair, in a shuffled order: the people, then the near misses.
    let mut pairs: Vec<(usize, usize)> = (0..FIRST.len())
        .flat_map(|f| (0..LAST.len()).map(move |l| (f, l)))
        .collect();
    for i in (1..pairs.len()).rev() {
        pairs.swap(i, rng.random_range(0..=i));
    }
    let n = n.min(pairs.len() / 2);
    let people = &pairs[..n];
    let mut spare: Vec<(usize, usize)> = pairs[n..].to_vec();

    let mut names = std::collections::HashSet::new();
    let mut profiles = Vec::new();
    let mut members = Vec::new();
    let mut queries = Vec::new();
    let mut cases = Vec::new();
    for (i, &(f, l)) in people.iter().enumerate() {
        let (first, last) = (FIRST[f], LAST[l]);
        let profile_id = Uuid::now_v7();
        let number = format!("+4479{:08}", 10_000_000 + i);
        let address = format!(
            "{}.{}@example.org",
            without_accents(first).to_lowercase(),
            without_accents(last)
                .to_lowercase()
                .replace([' ', '\''], "")
        );
        let contact_id = Uuid::now_v7();
        // Which rule this case follows: 60% name variants, 15% each the same phone or
        // e-mail address, 10% a near miss next to it.
        let kind = match i % 20 {
            0..=11 => CaseKind::NameVariant,
            12..=14 => CaseKind::SamePhone,
            15..=17 => CaseKind::SameEmail,
            _ => CaseKind::NearMiss,
        };
        let (mut profile_name, mut display_name) = match kind {
            CaseKind::NameVariant => variant(first, last, i, &mut rng),
            _ => (format!("{first} {last}"), String::new()),
        };
        // Two people abbreviated alike ("Søren M." for Müller and for Mbeki) can't be
        // told apart by anyone: the second keeps their full name, in other case.
        if !names.insert(without_accents(&profile_name).to_lowercase()) {
            (profile_name, display_name) = variant(first, last, 0, &mut rng);
        }
        profiles.push(ProfileRow {
            id: profile_id,
            name: profile_name,
            created_at: at(i),
            updated_at: at(i),
        });
        // The profile's own identities: its phone on WhatsApp and its address by e-mail.
        for (channel_id, identifier) in [(whatsapp, number.clone()), (email, address.clone())] {
            members.push(ContactRow {
                id: Uuid::now_v7(),
                channel_id,
                identifier,
                display_name: first.to_owned(),
                profile_id: Some(profile_id),
                at: at(i),
            });
        }
        let query = match kind {
            CaseKind::NameVariant => ContactRow {
                id: contact_id,
                channel_id: whatsapp,
                identifier: format!("+4478{:08}", 10_000_000 + i),
                display_name,
                profile_id: None,
                at: at(i),
            },
            // The same number by SMS, as a person types it, shown as the number.
            CaseKind::SamePhone => {
                let written = format!("0044 79{} {}", &number[5..9], &number[9..]);
                ContactRow {
                    id: contact_id,
                    channel_id: sms,
                    identifier: profilegraph_store::contacts::identifier::e164(&written)
                        .unwrap_or(written.clone()),
                    display_name: written,
                    profile_id: None,
                    at: at(i),
                }
            }
            // The same address in the website chat, in other case, by an unnamed visitor.
            CaseKind::SameEmail => ContactRow {
                id: contact_id,
                channel_id: chat,
                identifier: address.to_uppercase(),
                display_name: format!("Visitor {}", 1000 + i),
                profile_id: None,
                at: at(i),
            },
            // Someone else who shares this person's first or last name.
            CaseKind::NearMiss => {
                // Nobody of the set has their name; when no such name is left, any name
                // nobody has (there are as many spare names as people, and a tenth of
                // the cases are near misses).
                let other = match spare.iter().position(|(of, ol)| (*of == f) != (*ol == l)) {
                    Some(at) => spare.swap_remove(at),
                    None => spare.pop().unwrap_or((f, l)),
                };
                ContactRow {
                    id: contact_id,
                    channel_id: whatsapp,
                    identifier: format!("+4477{:08}", 10_000_000 + i),
                    display_name: format!("{} {}", FIRST[other.0], LAST[other.1]),
                    profile_id: None,
                    at: at(i),
                }
            }
        };
        cases.push(Case {
            contact_id,
            truth: (kind != CaseKind::NearMiss).then_some(profile_id),
            kind,
            display_name: query.display_name.clone(),
        });
        queries.push(query);
    }
    for batch in profiles.chunks(500) {
        bulk::load_profiles(db, workspace_id, batch.to_vec()).await?;
    }
    for batch in members.chunks(500).chain(queries.chunks(500)) {
        membership::load_contacts(db, workspace_id, batch.to_vec()).await?;
    }
    Ok(cases)
}

/// How well the suggestions did on a labelled set.
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    /// Labelled contacts asked about.
    pub queries: usize,
    /// Of those with a profile, how many had it among the first five.
    pub recall_at_5: f64,
    /// Of those that got any suggestion, how many had the right one first.
    pub precision_at_1: f64,
    /// The cases that went wrong: the display name, the kind, and what came first.
    pub misses: Vec<String>,
}

/// Ask for each labelled contact's first five suggestions and score them.
pub async fn evaluate(db: &Db, workspace_id: Uuid, cases: &[Case]) -> Result<Quality> {
    let (mut with_truth, mut found, mut suggested, mut right_first) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for case in cases {
        let Some(contact) =
            profilegraph_store::contacts::by_ids(db, workspace_id, vec![case.contact_id])
                .await?
                .into_iter()
                .next()
        else {
            continue;
        };
        let top =
            profilegraph_store::suggestions::for_contact(db, workspace_id, &contact, 5).await?;
        let first = top.first().map(|s| s.profile.id);
        if case.truth.is_some() {
            with_truth += 1;
            if top.iter().any(|s| Some(s.profile.id) == case.truth) {
                found += 1;
            }
        }
        if first.is_some() {
            suggested += 1;
            if first == case.truth {
                right_first += 1;
            }
        }
        if first != case.truth {
            misses.push(format!(
                "{:?} {:?}: first {:?}",
                case.kind,
                case.display_name,
                top.first().map(|s| s.profile.name.clone())
            ));
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Ok(Quality {
        queries: cases.len(),
        recall_at_5: ratio(found, with_truth),
        precision_at_1: ratio(right_first, suggested),
        misses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Levenshtein distance, for checking the lists.
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for j in 0..b.len() {
                let here = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != b[j]))
                    .min(row[j] + 1)
                    .min(here + 1);
                prev = here;
            }
        }
        row[b.len()]
    }

    #[test]
    fn no_two_names_are_one_typo_apart() {
        for list in [&FIRST[..], &LAST[..]] {
            for (i, a) in list.iter().enumerate() {
                for b in &list[i + 1..] {
                    let (a, b) = (
                        without_accents(a).to_lowercase(),
                        without_accents(b).to_lowercase(),
                    );
                    assert!(distance(&a, &b) > 2, "{a} {b}");
                }
            }
        }
    }

    #[test]
    fn variants_follow_the_rules() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(variant("José", "Núñez", 0, &mut rng).1, "JOSÉ NÚÑEZ");
        assert_eq!(variant("José", "Núñez", 1, &mut rng).1, "jose nunez");
        assert_eq!(variant("José", "Núñez", 2, &mut rng).1, "Núñez, José");
        assert_eq!(
            variant("Søren", "Müller", 4, &mut rng),
            ("Søren M.".to_owned(), "søren m".to_owned())
        );
        let typo = variant("Agnieszka", "Kowalczyk", 3, &mut rng).1;
        assert_ne!(typo, "Agnieszka Kowalczyk");
        assert!(
            typo.len().abs_diff("Agnieszka Kowalczyk".len()) <= 1,
            "{typo}"
        );
    }
}
