//! Profiles: the customer as a person, grouping their contacts across channels.

mod mutation;
mod query;
pub mod store;
mod types;

pub use mutation::ProfileMutation;
pub use query::ProfileQuery;
pub use types::{ChannelContacts, Profile, ProfileConnection};
