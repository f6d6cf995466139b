//! Channels: the inbound lines of a workspace (an e-mail address, a WhatsApp number, …).
//!
//! Contacts and contact moments almost always get shown with their channel, so the
//! statements that load them join it ([`WithChannel`]): no query shape needs a separate
//! round for channels, and the number of statements a request runs doesn't depend on how
//! batches happen to line up in time.

use sea_orm::sea_query::SelectStatement;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QueryResult,
};
use uuid::Uuid;

use entity::channels;

use crate::Db;
use crate::error::{Result, StoreError};
use crate::text::Name;

/// The kind of line a channel is. Stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelType {
    /// E-mail.
    Email,
    /// WhatsApp.
    Whatsapp,
    /// Facebook Messenger.
    FacebookMessenger,
    /// Instagram direct messages.
    Instagram,
    /// Text messages.
    Sms,
    /// Phone calls.
    Voice,
    /// The website chat widget.
    LiveChat,
    /// Telegram.
    Telegram,
    /// Any other integration.
    Custom,
}

impl ChannelType {
    /// Every type.
    pub const ALL: [ChannelType; 9] = [
        ChannelType::Email,
        ChannelType::Whatsapp,
        ChannelType::FacebookMessenger,
        ChannelType::Instagram,
        ChannelType::Sms,
        ChannelType::Voice,
        ChannelType::LiveChat,
        ChannelType::Telegram,
        ChannelType::Custom,
    ];

    /// The type a stored (or typed) upper-case name stands for; `None` for any other text.
    pub fn parse(value: &str) -> Option<Self> {
        ChannelType::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Email => "EMAIL",
            ChannelType::Whatsapp => "WHATSAPP",
            ChannelType::FacebookMessenger => "FACEBOOK_MESSENGER",
            ChannelType::Instagram => "INSTAGRAM",
            ChannelType::Sms => "SMS",
            ChannelType::Voice => "VOICE",
            ChannelType::LiveChat => "LIVE_CHAT",
            ChannelType::Telegram => "TELEGRAM",
            ChannelType::Custom => "CUSTOM",
        }
    }

    /// Read the stored form. Unknown values (none are written) read as CUSTOM rather than
    /// failing the whole response.
    pub fn from_db(value: &str) -> Self {
        match value {
            "EMAIL" => ChannelType::Email,
            "WHATSAPP" => ChannelType::Whatsapp,
            "FACEBOOK_MESSENGER" => ChannelType::FacebookMessenger,
            "INSTAGRAM" => ChannelType::Instagram,
            "SMS" => ChannelType::Sms,
            "VOICE" => ChannelType::Voice,
            "LIVE_CHAT" => ChannelType::LiveChat,
            "TELEGRAM" => ChannelType::Telegram,
            _ => ChannelType::Custom,
        }
    }
}

/// The prefix of the channel's columns in a joined row.
const PREFIX: &str = "ch_";

/// A row and its channel, read in the same statement.
#[derive(Debug, Clone)]
pub struct WithChannel<M> {
    /// The row (a contact or a contact moment).
    pub row: M,
    /// Its channel.
    pub channel: channels::Model,
}

impl<M: FromQueryResult> FromQueryResult for WithChannel<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(WithChannel {
            row: M::from_query_result(res, pre)?,
            channel: channels::Model::from_query_result(res, PREFIX)?,
        })
    }
}

/// Select the channel's columns into `select`, which joins `channels`.
pub(crate) fn select_channel_columns(select: &mut SelectStatement) {
    crate::sql::select_prefixed(select, channels::Entity, PREFIX);
}

crate::sql::by_ids!(
    /// Channels of the workspace by id (the missing ones left out).
    channels
);

/// Every channel of the workspace, by type then name.
pub async fn list(db: &Db, workspace_id: Uuid) -> Result<Vec<channels::Model>> {
    Ok(channels::Entity::find()
        .filter(channels::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(channels::Column::ChannelType)
        .order_by_asc(channels::Column::Name)
        .order_by_asc(channels::Column::Id)
        .all(&db.conn)
        .await?)
}

/// Add a channel.
pub async fn create(
    db: &Db,
    workspace_id: Uuid,
    channel_type: ChannelType,
    name: Name,
) -> Result<channels::Model> {
    create_in(&db.conn, workspace_id, channel_type, name).await
}

/// [`create`] inside the caller's transaction (an import that is one transaction).
pub async fn create_in<C: sea_orm::ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    channel_type: ChannelType,
    name: Name,
) -> Result<channels::Model> {
    let now = crate::db::now();
    Ok(channels::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        channel_type: Set(channel_type.as_str().to_owned()),
        name: Set(name.into_inner()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Rename a channel.
pub async fn rename(db: &Db, workspace_id: Uuid, id: Uuid, name: Name) -> Result<channels::Model> {
    let channel = channels::Entity::find_by_id(id)
        .filter(channels::Column::WorkspaceId.eq(workspace_id))
        .one(&db.conn)
        .await?
        .ok_or(StoreError::NotFound("Channel"))?;
    let mut active: channels::ActiveModel = channel.into();
    active.name = Set(name.into_inner());
    active.updated_at = Set(crate::db::now());
    Ok(active.update(&db.conn).await?)
}
