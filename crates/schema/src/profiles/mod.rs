//! Profiles: the customer as a person, grouping their contacts across channels.

pub mod loaders;
mod mutation;
mod query;
mod types;

pub use mutation::ProfileMutation;
pub use query::ProfileQuery;
pub use types::{ChannelContacts, Profile, ProfileConnection};
