//! PostgreSQL's `LISTEN`: every server on the database hears of every numbering of new
//! events (see `profilegraph_store::events::numbering`, which sends the `NOTIFY`), and pokes its
//! [`Hub`] for the workspace named. A notification sent while the listening connection
//! is down is lost to it, so after a reconnect every watched workspace is caught up from
//! its last delivered `seq`.

use std::sync::Arc;
use std::time::Duration;

use profilegraph_store::events::CHANNEL;
use sea_orm::sqlx::postgres::PgListener;
use uuid::Uuid;

use super::Hub;

/// Listen on `database_url` for as long as the server runs.
pub fn spawn(database_url: String, hub: Arc<Hub>) {
    tokio::spawn(async move {
        loop {
            match listen(&database_url, &hub).await {
                Ok(()) => {}
                Err(err) => tracing::warn!(error = %err, "the event listener lost PostgreSQL"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            // Whatever was announced while it was away.
            hub.poke_all().await;
        }
    });
}

async fn listen(database_url: &str, hub: &Arc<Hub>) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen(CHANNEL).await?;
    tracing::debug!("listening for profile events");
    // Events committed while it was connecting.
    hub.poke_all().await;
    loop {
        // `None`: the connection broke; the next call reconnects, and what was sent
        // meanwhile is caught up below.
        match listener.try_recv().await? {
            Some(notification) => {
                if let Ok(workspace_id) = Uuid::parse_str(notification.payload()) {
                    let hub = hub.clone();
                    tokio::spawn(async move { hub.poke(workspace_id).await });
                }
            }
            None => {
                tracing::warn!("the event listener reconnects to PostgreSQL");
                hub.poke_all().await;
            }
        }
    }
}
