//! Webhooks: the profile events pushed to the endpoints a workspace registers, signed to
//! the Standard Webhooks 1.0 spec and delivered at least once.
//!
//! - [`endpoints`]: registering, changing and deleting endpoints; their secrets.
//! - [`secrets`]: making, encrypting and signing with the secrets.
//! - [`address`]: where a webhook may go (the SSRF rules).
//! - [`deliveries`]: deliveries derived from the event log, claimed with a lease,
//!   finished by the receiver's answer.
//! - [`schedule`]: the retry schedule and the worker's clock.
//!
//! The sending itself (HTTP) is the server's; everything it decides by is here.

pub mod address;
pub mod deliveries;
pub mod endpoints;
pub mod schedule;
pub mod secrets;

use crate::events::EventKind;

pub use deliveries::{DeliveryStatus, Verdict};
pub use schedule::Clock;
pub use secrets::{Secret, SecretKey};

/// The `type` of a webhook carrying an event of `kind`: the thing it happened to, a dot,
/// and what happened, in lower case (`profile.renamed`, `contact.attached`).
pub fn webhook_type(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ProfileCreated => "profile.created",
        EventKind::ProfileRenamed => "profile.renamed",
        EventKind::ProfileDeleted => "profile.deleted",
        EventKind::FieldsChanged => "profile.fields_changed",
        EventKind::ContactAttached => "contact.attached",
        EventKind::ContactDetached => "contact.detached",
        EventKind::NoteCreated => "note.created",
        EventKind::NoteUpdated => "note.updated",
        EventKind::NoteDeleted => "note.deleted",
        EventKind::ContactMomentStarted => "contact_moment.started",
        EventKind::ContactMomentUpdated => "contact_moment.updated",
        EventKind::ExternalIdChanged => "profile.external_id_changed",
        EventKind::ProfilesMerged => "profile.merged",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_type() {
        let mut types: Vec<&str> = EventKind::ALL.into_iter().map(webhook_type).collect();
        types.sort();
        types.dedup();
        assert_eq!(types.len(), EventKind::ALL.len());
        assert!(
            types
                .iter()
                .all(|t| t.contains('.') && *t == t.to_lowercase())
        );
    }
}
