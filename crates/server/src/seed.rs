//! A deterministic data generator for benchmarks and load tests: `profilegraph seed`.
//!
//! The same size gives the same names, links and timestamps every time (a seeded RNG and
//! ids built from it), so runs on different machines or databases measure the same data.
//! Rows go in with multi-row INSERTs of a few hundred rows each, in one transaction per
//! batch, which loads M (10k profiles, 100k contact moments) in seconds.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use profilegraph_store::Db;
use profilegraph_store::bulk::{self, ProfileRow};
use profilegraph_store::membership::{self, ContactRow};
use profilegraph_store::tokens::{self, Scopes};
use profilegraph_store::workspaces;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::ActiveValue::Set;
use serde_json::json;
use uuid::Uuid;

use entity::{agents, channels, contact_moments, custom_fields, notes, profile_field_values};

use crate::error::Result;

/// How much data to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Profiles.
    pub profiles: usize,
    /// Contacts (about 95% of them in a profile).
    pub contacts: usize,
    /// Contact moments, spread over the contacts.
    pub moments: usize,
    /// Notes, spread over the profiles.
    pub notes: usize,
    /// Field values, spread over the profiles.
    pub field_values: usize,
}

impl Size {
    /// S: 1k profiles, 3k contacts, 10k contact moments.
    pub const S: Size = Size {
        profiles: 1_000,
        contacts: 3_000,
        moments: 10_000,
        notes: 2_000,
        field_values: 3_000,
    };
    /// M: 10k profiles, 30k contacts, 100k contact moments, 20k notes, 30k field values.
    pub const M: Size = Size {
        profiles: 10_000,
        contacts: 30_000,
        moments: 100_000,
        notes: 20_000,
        field_values: 30_000,
    };
    /// L: 100k profiles, 300k contacts, 1M contact moments.
    pub const L: Size = Size {
        profiles: 100_000,
        contacts: 300_000,
        moments: 1_000_000,
        notes: 200_000,
        field_values: 300_000,
    };

    /// `n` profiles with the same proportions as the presets (3 contacts, 10 moments, 2
    /// notes and 3 field values per profile).
    pub fn per_profile(n: usize) -> Size {
        Size {
            profiles: n,
            contacts: 3 * n,
            moments: 10 * n,
            notes: 2 * n,
            field_values: 3 * n,
        }
    }

    /// Parse `s`, `m` or `l`.
    pub fn parse(name: &str) -> Option<Size> {
        match name.to_ascii_lowercase().as_str() {
            "s" => Some(Size::S),
            "m" => Some(Size::M),
            "l" => Some(Size::L),
            _ => None,
        }
    }
}

/// What seeding made.
pub struct Seeded {
    /// The workspace's id.
    pub workspace_id: Uuid,
    /// Its slug.
    pub slug: String,
    /// A read,write,admin token for it.
    pub token: String,
}

/// Rows per INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters
/// for our widest table.
const BATCH: usize = 500;

const FIRST: [&str; 24] = [
    "Peter", "Maria", "Anna", "Jan", "Sophie", "Lucas", "Emma", "Noah", "Julia", "Daan", "Sara",
    "Liam", "Eva", "Finn", "Lotte", "Sem", "Tess", "Milan", "Zoë", "Levi", "Nina", "Bram", "Fleur",
    "Ruben",
];
const LAST: [&str; 20] = [
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
];
const SUBJECTS: [&str; 8] = [
    "Where is my order?",
    "Return label request",
    "Invoice question",
    "Delivery address change",
    "Product arrived damaged",
    "Opening hours",
    "Subscription cancellation",
    "Warranty claim",
];
const STATUSES: [&str; 3] = ["OPEN", "ASSIGNED", "CLOSED"];
const CHANNELS: [(&str, &str); 6] = [
    ("EMAIL", "Support e-mail"),
    ("WHATSAPP", "Support WhatsApp"),
    ("FACEBOOK_MESSENGER", "Facebook Messenger"),
    ("INSTAGRAM", "Instagram"),
    ("SMS", "SMS"),
    ("LIVE_CHAT", "Website chat"),
];

/// Seed a new workspace named `name` with `size` worth of data. `progress` draws bars.
pub async fn generate(db: &Db, name: &str, size: Size, progress: bool) -> Result<Seeded> {
    // Seeded by the name: the same name and size give the same data, and two seeded
    // workspaces in one database never share ids.
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = StdRng::seed_from_u64(seed);
    let base: DateTime<FixedOffset> = Utc
        .with_ymd_and_hms(2026, 1, 1, 8, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
        .into();
    let id = move |rng: &mut StdRng, at: DateTime<FixedOffset>| -> Uuid {
        let bytes: [u8; 10] = rng.random();
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    };

    let txn = db.begin_write().await?;
    let workspace = workspaces::create_workspace(&txn, name).await?;
    let ws = workspace.id;
    let mut agent_ids = Vec::new();
    let mut agents = Vec::new();
    for i in 0..10 {
        let agent_id = id(&mut rng, base);
        agents.push(agents::ActiveModel {
            id: Set(agent_id),
            workspace_id: Set(ws),
            name: Set(format!("Agent {}", i + 1)),
            email: Set(format!("agent{}@{}.example", i + 1, workspace.slug)),
            created_at: Set(base),
        });
        agent_ids.push(agent_id);
    }
    bulk::insert_rows(&txn, agents).await?;
    let mut channel_ids = Vec::new();
    let mut channels = Vec::new();
    for (channel_type, channel_name) in CHANNELS {
        let channel_id = id(&mut rng, base);
        channels.push(channels::ActiveModel {
            id: Set(channel_id),
            workspace_id: Set(ws),
            channel_type: Set(channel_type.into()),
            name: Set(channel_name.into()),
            created_at: Set(base),
            updated_at: Set(base),
        });
        channel_ids.push((channel_id, channel_type));
    }
    bulk::insert_rows(&txn, channels).await?;
    let field_defs = [
        ("customer_number", "Customer number", "TEXT", json!([])),
        (
            "plan",
            "Plan",
            "SELECT",
            json!(["Free", "Pro", "Enterprise"]),
        ),
        ("vip", "VIP", "BOOLEAN", json!([])),
        ("lifetime_value", "Lifetime value", "NUMBER", json!([])),
        ("birthday", "Birthday", "DATE", json!([])),
        (
            "interests",
            "Interests",
            "MULTI_SELECT",
            json!(["Shoes", "Bags", "Sale"]),
        ),
    ];
    let mut fields = Vec::new();
    let mut field_rows = Vec::new();
    for (position, (key, label, field_type, options)) in field_defs.iter().enumerate() {
        let field_id = id(&mut rng, base);
        field_rows.push(custom_fields::ActiveModel {
            id: Set(field_id),
            workspace_id: Set(ws),
            key: Set((*key).into()),
            label: Set((*label).into()),
            field_type: Set((*field_type).into()),
            options: Set(options.clone()),
            validation: Set(None),
            required: Set(false),
            position: Set(i32::try_from(position).unwrap_or(0)),
            archived: Set(false),
            created_at: Set(base),
            updated_at: Set(base),
        });
        fields.push((field_id, *field_type));
    }
    bulk::insert_rows(&txn, field_rows).await?;
    let scopes: Scopes = "read,write,admin".parse().map_err(crate::Error::Usage)?;
    let token = tokens::create(&txn, ws, agent_ids.first().copied(), "seed", &scopes, None).await?;
    txn.commit().await?;

    let minutes = |n: usize| Duration::minutes(i64::try_from(n).unwrap_or(0));
    let total = size.profiles + size.contacts + size.moments + size.notes + size.field_values;
    let bar = if progress {
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>14} [{bar:40}] {pos}/{len} rows ({per_sec}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };

    // Profiles, created a few minutes apart over the year.
    bar.set_message("profiles");
    let mut profile_ids = Vec::with_capacity(size.profiles);
    let mut rows = Vec::with_capacity(BATCH);
    for i in 0..size.profiles {
        let at = base + minutes(i * 3);
        let pid = id(&mut rng, at);
        profile_ids.push(pid);
        let name = format!(
            "{} {} {}",
            FIRST[rng.random_range(0..FIRST.len())],
            LAST[rng.random_range(0..LAST.len())],
            i + 1
        );
        rows.push(ProfileRow {
            id: pid,
            name,
            created_at: at,
            updated_at: at + minutes(rng.random_range(0..10_000)),
        });
        if rows.len() == BATCH {
            flush(&mut rows, &bar, |rows| bulk::load_profiles(db, ws, rows)).await?;
        }
    }
    flush(&mut rows, &bar, |rows| bulk::load_profiles(db, ws, rows)).await?;

    // Contacts: dealt round-robin to the profiles; every 20th has no profile yet.
    bar.set_message("contacts");
    let mut contact_ids = Vec::with_capacity(size.contacts);
    let mut rows = Vec::with_capacity(BATCH);
    for i in 0..size.contacts {
        let (channel_id, channel_type) = channel_ids[i % channel_ids.len()];
        let profile_id =
            (i % 20 != 19 && !profile_ids.is_empty()).then(|| profile_ids[i % profile_ids.len()]);
        let at = base + minutes(i);
        let cid = id(&mut rng, at);
        contact_ids.push((cid, channel_id));
        let display_name = format!(
            "{} {}",
            FIRST[rng.random_range(0..FIRST.len())],
            LAST[rng.random_range(0..LAST.len())]
        );
        let identifier = match channel_type {
            "EMAIL" => format!("customer{i}@example.com"),
            "WHATSAPP" | "SMS" => format!("+316{:08}", i),
            other => format!("{}:{}", other.to_ascii_lowercase(), 1_000_000 + i),
        };
        rows.push(ContactRow {
            id: cid,
            channel_id,
            identifier,
            display_name,
            profile_id,
            at,
        });
        if rows.len() == BATCH {
            flush(&mut rows, &bar, |rows| {
                membership::load_contacts(db, ws, rows)
            })
            .await?;
        }
    }
    flush(&mut rows, &bar, |rows| {
        membership::load_contacts(db, ws, rows)
    })
    .await?;

    // Contact moments: spread over the contacts with a stride that is prime to the count,
    // so every contact gets its share without clustering.
    bar.set_message("moments");
    let mut rows = Vec::with_capacity(BATCH);
    for j in 0..size.moments {
        if contact_ids.is_empty() {
            break;
        }
        let (contact_id, channel_id) = contact_ids[(j * 7_919) % contact_ids.len()];
        let at = base + minutes(j) + Duration::seconds(rng.random_range(0..60));
        let status = STATUSES[rng.random_range(0..STATUSES.len())];
        let last = at + minutes(rng.random_range(1..2_000));
        rows.push(contact_moments::ActiveModel {
            id: Set(id(&mut rng, at)),
            workspace_id: Set(ws),
            contact_id: Set(contact_id),
            channel_id: Set(channel_id),
            subject: Set(SUBJECTS[rng.random_range(0..SUBJECTS.len())].into()),
            status: Set(status.into()),
            created_at: Set(at),
            closed_at: Set((status == "CLOSED").then_some(last)),
            last_message_at: Set(last),
        });
        if rows.len() == BATCH {
            flush(&mut rows, &bar, |rows| bulk::load_rows(db, rows)).await?;
        }
    }
    flush(&mut rows, &bar, |rows| bulk::load_rows(db, rows)).await?;

    bar.set_message("notes");
    let mut rows = Vec::with_capacity(BATCH);
    for k in 0..size.notes {
        if profile_ids.is_empty() {
            break;
        }
        let at = base + minutes(k * 2);
        rows.push(notes::ActiveModel {
            id: Set(id(&mut rng, at)),
            workspace_id: Set(ws),
            profile_id: Set(profile_ids[(k * 31) % profile_ids.len()]),
            author_id: Set(Some(agent_ids[k % agent_ids.len()])),
            body: Set(format!(
                "Note {}: customer asked about \"{}\".",
                k + 1,
                SUBJECTS[rng.random_range(0..SUBJECTS.len())]
            )),
            created_at: Set(at),
            updated_at: Set(at),
        });
        if rows.len() == BATCH {
            flush(&mut rows, &bar, |rows| bulk::load_rows(db, rows)).await?;
        }
    }
    flush(&mut rows, &bar, |rows| bulk::load_rows(db, rows)).await?;

    // Field values: profile p gets fields p, p+1, … so no (profile, field) pair repeats
    // while there are fewer values per profile than fields.
    bar.set_message("field values");
    let mut rows = Vec::with_capacity(BATCH);
    for v in 0..size.field_values {
        if profile_ids.is_empty() {
            break;
        }
        let profile_index = v % profile_ids.len();
        let round = v / profile_ids.len();
        if round >= fields.len() {
            break;
        }
        let (field_id, field_type) = fields[(profile_index + round) % fields.len()];
        let value = match field_type {
            "TEXT" => json!(format!("C-{:06}", profile_index + 1)),
            "SELECT" => json!(["Free", "Pro", "Enterprise"][rng.random_range(0..3)]),
            "BOOLEAN" => json!(rng.random_bool(0.2)),
            "NUMBER" => json!(rng.random_range(0..50_000)),
            "DATE" => json!(format!(
                "19{:02}-{:02}-{:02}",
                rng.random_range(50..99),
                rng.random_range(1..13),
                rng.random_range(1..29)
            )),
            _ => json!(["Shoes", "Sale"]),
        };
        rows.push(profile_field_values::ActiveModel {
            id: Set(id(&mut rng, base)),
            workspace_id: Set(ws),
            profile_id: Set(profile_ids[profile_index]),
            field_id: Set(field_id),
            value: Set(value),
            updated_at: Set(base),
        });
        if rows.len() == BATCH {
            flush(&mut rows, &bar, |rows| bulk::load_rows(db, rows)).await?;
        }
    }
    flush(&mut rows, &bar, |rows| bulk::load_rows(db, rows)).await?;
    bar.finish_with_message("done");

    Ok(Seeded {
        workspace_id: ws,
        slug: workspace.slug,
        token: token.plaintext,
    })
}

/// Hand a batch of rows to the store's bulk path and clear it.
async fn flush<R, F, Fut>(rows: &mut Vec<R>, bar: &ProgressBar, load: F) -> Result<()>
where
    F: FnOnce(Vec<R>) -> Fut,
    Fut: std::future::Future<Output = profilegraph_store::Result<()>>,
{
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len() as u64;
    load(std::mem::take(rows)).await?;
    bar.inc(n);
    Ok(())
}
