//! Batched loads of channels by id.

crate::by_id!(
    /// A channel by id.
    ChannelId => channels, channels
);
