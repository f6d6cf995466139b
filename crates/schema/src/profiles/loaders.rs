//! Batched loads of profiles by id.

crate::by_id!(
    /// A profile by id.
    ProfileId => profiles, profiles
);
