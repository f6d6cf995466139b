//! The profilegraph server and its command line.

pub mod app;
pub mod cli;
pub mod config;
pub mod database;
pub mod demo;
pub mod error;
pub mod http;
pub mod live;
pub mod metrics;
pub mod quality;
pub mod retention;
pub mod seed;
pub mod shapes;
pub mod telemetry;
pub mod transfer;
pub mod webhooks;
pub mod workers;

pub use config::Config;
pub use error::{Error, Result};
