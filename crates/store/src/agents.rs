//! Agents: the people of a workspace who answer conversations and write notes.

crate::sql::by_ids!(
    /// Agents of the workspace by id (the missing ones left out).
    agents
);
