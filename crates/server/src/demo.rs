//! The demo workspace, from the product text: Peter B. wrote in on Facebook Messenger and
//! on WhatsApp, so two contacts exist, grouped in one profile; plus a note, a few custom
//! fields with values, contact moments on each channel, and Maria, whose e-mail contact
//! has no profile yet (the "Add profile" flow starts there).

use chrono::Duration;
use profilegraph_store::tokens::{self, Scopes};
use profilegraph_store::{Db, WriteTxn};

use profilegraph_store::bulk;
use profilegraph_store::channels::ChannelType;
use profilegraph_store::contacts::{self, identifier::Identifier};
use profilegraph_store::membership;
use profilegraph_store::text::Name;
use profilegraph_store::workspaces;
use sea_orm::ActiveValue::Set;
use serde_json::json;
use uuid::Uuid;

use entity::{agents, channels, contact_moments, custom_fields, notes, profile_field_values};

use crate::error::Result;

/// What seeding made.
pub struct Seeded {
    /// The demo workspace's slug.
    pub slug: String,
    /// A `read,write,admin` token for it.
    pub token: String,
}

/// Seed the demo workspace in one transaction and mint a token for it.
pub async fn seed(db: &Db) -> Result<Seeded> {
    let txn = db.begin_write().await?;
    let workspace = workspaces::create_workspace(&txn, "Demo Company").await?;
    let ws = workspace.id;
    let now = profilegraph_store::now();
    let at = |minutes_ago: i64| -> chrono::DateTime<chrono::FixedOffset> {
        now - Duration::minutes(minutes_ago)
    };

    let agent_id = Uuid::now_v7();
    let agent = agents::ActiveModel {
        id: Set(agent_id),
        workspace_id: Set(ws),
        name: Set("Anna de Vries".into()),
        email: Set("anna@demo.example".into()),
        created_at: Set(at(60 * 24 * 30)),
    };
    bulk::insert_rows(&txn, vec![agent]).await?;

    let messenger = channel(
        &txn,
        ws,
        "FACEBOOK_MESSENGER",
        "Facebook Messenger",
        at(43_200),
    )
    .await?;
    let whatsapp = channel(&txn, ws, "WHATSAPP", "Support WhatsApp", at(43_200)).await?;
    let email = channel(&txn, ws, "EMAIL", "Support e-mail", at(43_200)).await?;

    let peter = profilegraph_store::profiles::insert(
        &txn,
        ws,
        Name::parse("Peter B.", "name")?,
        None,
        at(2_000),
    )
    .await?;

    let peter_fb = contact(
        &txn,
        ws,
        (messenger, ChannelType::FacebookMessenger),
        "fb:4820193384710",
        "Peter B.",
        Some(peter.id),
        at(3_000),
    )
    .await?;
    let peter_wa = contact(
        &txn,
        ws,
        (whatsapp, ChannelType::Whatsapp),
        "+31612345678",
        "Peter",
        Some(peter.id),
        at(2_500),
    )
    .await?;
    let maria = contact(
        &txn,
        ws,
        (email, ChannelType::Email),
        "maria.k@example.com",
        "Maria K.",
        None,
        at(90),
    )
    .await?;

    moment(
        &txn,
        ws,
        peter_fb,
        messenger,
        "Where is my order #1042?",
        "CLOSED",
        at(3_000),
        Some(at(2_900)),
    )
    .await?;
    moment(
        &txn,
        ws,
        peter_fb,
        messenger,
        "Can I change the delivery address?",
        "CLOSED",
        at(2_200),
        Some(at(2_100)),
    )
    .await?;
    moment(
        &txn,
        ws,
        peter_wa,
        whatsapp,
        "Order #1042 arrived damaged",
        "ASSIGNED",
        at(400),
        None,
    )
    .await?;
    moment(
        &txn,
        ws,
        peter_wa,
        whatsapp,
        "Return label request",
        "OPEN",
        at(30),
        None,
    )
    .await?;
    moment(
        &txn,
        ws,
        maria,
        email,
        "Question about your opening hours",
        "OPEN",
        at(90),
        None,
    )
    .await?;

    let customer_number = field(
        &txn,
        ws,
        "customer_number",
        "Customer number",
        "TEXT",
        json!([]),
        0,
    )
    .await?;
    let plan = field(
        &txn,
        ws,
        "plan",
        "Plan",
        "SELECT",
        json!(["Free", "Pro", "Enterprise"]),
        1,
    )
    .await?;
    let vip = field(&txn, ws, "vip", "VIP", "BOOLEAN", json!([]), 2).await?;
    field(&txn, ws, "birthday", "Birthday", "DATE", json!([]), 3).await?;
    let mut values = Vec::new();
    for (field_id, value) in [
        (customer_number, json!("C-10042")),
        (plan, json!("Pro")),
        (vip, json!(true)),
    ] {
        values.push(profile_field_values::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(ws),
            profile_id: Set(peter.id),
            field_id: Set(field_id),
            value: Set(value),
            updated_at: Set(at(1_900)),
        });
    }
    bulk::insert_rows(&txn, values).await?;

    let note = notes::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws),
        profile_id: Set(peter.id),
        author_id: Set(Some(agent_id)),
        body: Set("Prefers WhatsApp. Order #1042 arrived damaged; a replacement was sent.".into()),
        created_at: Set(at(350)),
        updated_at: Set(at(350)),
    };
    bulk::insert_rows(&txn, vec![note]).await?;

    let scopes: Scopes = "read,write,admin".parse().map_err(crate::Error::Usage)?;
    let token = tokens::create(&txn, ws, Some(agent_id), "demo", &scopes, None).await?;
    txn.commit().await?;
    Ok(Seeded {
        slug: workspace.slug,
        token: token.plaintext,
    })
}

async fn channel(
    txn: &WriteTxn,
    ws: Uuid,
    channel_type: &str,
    name: &str,
    at: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let row = channels::ActiveModel {
        id: Set(id),
        workspace_id: Set(ws),
        channel_type: Set(channel_type.into()),
        name: Set(name.into()),
        created_at: Set(at),
        updated_at: Set(at),
    };
    bulk::insert_rows(txn, vec![row]).await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn contact(
    txn: &WriteTxn,
    ws: Uuid,
    (channel_id, channel_type): (Uuid, ChannelType),
    identifier: &str,
    display_name: &str,
    profile_id: Option<Uuid>,
    at: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Uuid> {
    let identifier = Identifier::parse(identifier, channel_type, "identifier")?;
    let row = contacts::insert(txn, ws, channel_id, &identifier, display_name, at).await?;
    if let Some(profile_id) = profile_id {
        membership::join_new_profile(txn, ws, profile_id, row.id).await?;
    }
    Ok(row.id)
}

#[allow(clippy::too_many_arguments)]
async fn moment(
    txn: &WriteTxn,
    ws: Uuid,
    contact_id: Uuid,
    channel_id: Uuid,
    subject: &str,
    status: &str,
    at: chrono::DateTime<chrono::FixedOffset>,
    closed_at: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> Result<()> {
    let row = contact_moments::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws),
        contact_id: Set(contact_id),
        channel_id: Set(channel_id),
        subject: Set(subject.into()),
        status: Set(status.into()),
        created_at: Set(at),
        closed_at: Set(closed_at),
        last_message_at: Set(closed_at.unwrap_or(at)),
    };
    bulk::insert_rows(txn, vec![row]).await?;
    Ok(())
}

async fn field(
    txn: &WriteTxn,
    ws: Uuid,
    key: &str,
    label: &str,
    field_type: &str,
    options: serde_json::Value,
    position: i32,
) -> Result<Uuid> {
    let now = profilegraph_store::now();
    let id = Uuid::now_v7();
    let row = custom_fields::ActiveModel {
        id: Set(id),
        workspace_id: Set(ws),
        key: Set(key.into()),
        label: Set(label.into()),
        field_type: Set(field_type.into()),
        options: Set(options),
        validation: Set(None),
        required: Set(false),
        position: Set(position),
        archived: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    bulk::insert_rows(txn, vec![row]).await?;
    Ok(id)
}
