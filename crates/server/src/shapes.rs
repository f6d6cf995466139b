//! The query shapes the batching tests and the benchmark run: what a profile page, a
//! look-up list, a partner export and a write look like on the wire.

/// Q1, the profile page.
pub const Q1_PROFILE_PAGE: &str = r#"query ProfilePage($id: ID!) {
  profile(id: $id) {
    name version
    fields { field { key label type } value }
    contactsByChannel { channel { type name } contacts { identifier displayName } }
    contactMoments(first: 20) {
      totalCount
      edges { node { subject status lastMessageAt channel { name } contact { displayName } } }
    }
    notes(first: 10) { edges { node { body createdAt author { name } } } }
  }
}"#;

/// Q2, the look-up list.
pub const Q2_LOOKUP: &str = r#"query Lookup($q: String) {
  profiles(first: 20, search: $q) {
    totalCount
    edges { node { name contacts { identifier channel { type } } } }
  }
}"#;

/// Q3, a partner's export page.
pub const Q3_EXPORT: &str = r#"query Export($cursor: String) {
  profiles(first: 100, after: $cursor) {
    pageInfo { endCursor hasNextPage }
    edges { node {
      name updatedAt
      fields { field { key } value }
      contacts {
        identifier channel { type name }
        contactMoments(first: 10) { edges { node { subject status lastMessageAt } } }
      }
      notes(first: 10) { edges { node { body author { name } } } }
    } }
  }
}"#;

/// Q4a, moving a contact to another profile.
pub const Q4_MOVE_CONTACT: &str = r#"mutation Move($profileId: ID!, $contactId: ID!) {
  attachContact(input: { profileId: $profileId, contactId: $contactId, move: true }) {
    profile { version } contact { id }
  }
}"#;

/// Q4b, adding a note.
pub const Q4_CREATE_NOTE: &str = r#"mutation Note($profileId: ID!, $body: String!) {
  createNote(input: { profileId: $profileId, body: $body }) { note { id createdAt } }
}"#;
