//! Webhooks on this server: the key that keeps the signing secrets, and the delivery
//! worker that sends the deliveries (see `profilegraph_store::webhooks` for the rules).

pub mod key;
pub mod send;
pub mod worker;

pub use key::load_key;
pub use worker::spawn;
