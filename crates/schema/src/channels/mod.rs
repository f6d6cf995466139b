//! Channels: the inbound lines of a workspace (an e-mail address, a WhatsApp number, …).

pub mod joined;
pub mod loaders;
mod mutation;
mod query;
mod types;

pub use mutation::ChannelMutation;
pub use query::ChannelQuery;
pub use types::{Channel, ChannelType};
