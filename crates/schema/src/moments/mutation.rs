//! Contact moment mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use profilegraph_store::moments as store;
use profilegraph_store::text::Subject;

use super::{ContactMoment, ContactMomentStatus};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};

/// A new ticket with a contact.
#[derive(InputObject)]
pub struct StartContactMomentInput {
    /// The contact to open it with; the ticket runs on the contact's channel.
    pub contact_id: ID,
    /// What it is about, 1 to 500 characters.
    pub subject: String,
}

/// Changes to a ticket; omitted settings stay.
#[derive(InputObject)]
pub struct UpdateContactMomentInput {
    /// The contact moment.
    pub id: ID,
    /// A new status. Closing stamps `closedAt`; reopening clears it.
    pub status: Option<ContactMomentStatus>,
    /// A new subject, 1 to 500 characters.
    pub subject: Option<String>,
}

/// The result of a contact moment mutation.
#[derive(SimpleObject)]
pub struct ContactMomentPayload {
    /// The contact moment as it is now.
    pub contact_moment: ContactMoment,
}

/// Contact moment mutations.
#[derive(Default)]
pub struct MomentMutation;

#[Object]
impl MomentMutation {
    /// Open a new ticket with a contact on that contact's channel (the "+" beside a
    /// profile's contact). It starts OPEN.
    async fn start_contact_moment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact and the subject.")] input: StartContactMomentInput,
    ) -> Result<ContactMomentPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let contact_id = ids::decode_as(NodeKind::Contact, &input.contact_id, "input.contactId")?;
        let subject = Subject::parse(&input.subject, "input.subject")?;
        let moment = store::start(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            contact_id,
            subject,
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(ContactMomentPayload {
            contact_moment: ContactMoment(moment),
        })
    }

    /// Change a ticket's status or subject.
    async fn update_contact_moment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact moment and what to change.")] input: UpdateContactMomentInput,
    ) -> Result<ContactMomentPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let id = ids::decode_as(NodeKind::ContactMoment, &input.id, "input.id")?;
        let subject = input
            .subject
            .map(|s| Subject::parse(&s, "input.subject"))
            .transpose()?;
        let moment = store::update(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            id,
            input.status.map(Into::into),
            subject,
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(ContactMomentPayload {
            contact_moment: ContactMoment(moment),
        })
    }
}
