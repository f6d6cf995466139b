//! Contacts: one customer identity on one channel (an e-mail address, a phone number, a
//! platform id), and how they join and leave profiles
//! (`profilegraph_store::membership`).

pub mod loaders;
mod mutation;
mod query;
mod types;

pub use mutation::ContactMutation;
pub use query::ContactQuery;
pub use types::{Contact, ContactConnection};
