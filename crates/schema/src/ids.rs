//! Opaque Relay global ids: `base64url("<Type>:<uuid>")`.
//!
//! Clients must treat them as opaque; we keep the type inside so `node(id:)` can tell a
//! profile from a contact, and so an id of one type passed where another is expected is
//! simply not found.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The kinds of entity that have a global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Workspace,
    Agent,
    Channel,
    Contact,
    Profile,
    CustomField,
    Note,
    ContactMoment,
    ProfileEvent,
    WebhookEndpoint,
    WebhookDelivery,
}

impl NodeKind {
    const ALL: [NodeKind; 11] = [
        NodeKind::Workspace,
        NodeKind::Agent,
        NodeKind::Channel,
        NodeKind::Contact,
        NodeKind::Profile,
        NodeKind::CustomField,
        NodeKind::Note,
        NodeKind::ContactMoment,
        NodeKind::ProfileEvent,
        NodeKind::WebhookEndpoint,
        NodeKind::WebhookDelivery,
    ];

    /// The GraphQL type name, which is also the tag inside the id.
    pub fn type_name(self) -> &'static str {
        match self {
            NodeKind::Workspace => "Workspace",
            NodeKind::Agent => "Agent",
            NodeKind::Channel => "Channel",
            NodeKind::Contact => "Contact",
            NodeKind::Profile => "Profile",
            NodeKind::CustomField => "CustomField",
            NodeKind::Note => "Note",
            NodeKind::ContactMoment => "ContactMoment",
            NodeKind::ProfileEvent => "ProfileEvent",
            NodeKind::WebhookEndpoint => "WebhookEndpoint",
            NodeKind::WebhookDelivery => "WebhookDelivery",
        }
    }
}

/// Encode the global id of a row.
pub fn encode(kind: NodeKind, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.type_name())))
}

/// Decode any global id, or `None` if it is not one of ours.
pub fn decode(id: &str) -> Option<(NodeKind, Uuid)> {
    let raw = URL_SAFE_NO_PAD.decode(id.trim_end_matches('=')).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (tag, uuid) = text.split_once(':')?;
    let kind = NodeKind::ALL.into_iter().find(|k| k.type_name() == tag)?;
    Some((kind, Uuid::parse_str(uuid).ok()?))
}

/// Decode an id argument that must be of `kind`.
///
/// An id that is not a global id at all is BAD_USER_INPUT (the caller made a mistake);
/// a well-formed id of another type is NOT_FOUND, exactly like an id that does not exist.
pub fn decode_as(kind: NodeKind, id: &ID, field: &str) -> Result<Uuid> {
    match decode(id) {
        Some((found, uuid)) if found == kind => Ok(uuid),
        Some(_) => Err(Error::not_found(kind.type_name())),
        None => Err(Error::bad_input(
            field,
            format!("`{}` is not a valid {} id", id.as_str(), kind.type_name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use profilegraph_store::StoreError;

    use super::*;

    #[test]
    fn round_trips_and_keeps_the_type() {
        let uuid = Uuid::now_v7();
        let id = encode(NodeKind::Profile, uuid);
        assert_eq!(decode(&id), Some((NodeKind::Profile, uuid)));
        assert_eq!(
            decode_as(NodeKind::Profile, &id, "id").unwrap(),
            uuid,
            "decodes as its own type"
        );
        assert!(matches!(
            decode_as(NodeKind::Contact, &id, "id"),
            Err(Error::Store(StoreError::NotFound("Contact")))
        ));
        assert!(matches!(
            decode_as(NodeKind::Contact, &ID::from("garbage!"), "input.id"),
            Err(Error::Store(StoreError::BadInput { .. }))
        ));
    }
}
