use migration::{Migrator, MigratorTrait};
#[tokio::main]
async fn main() -> Result<(), sea_orm::DbErr> {
    let url = std::env::var("DATABASE_URL").unwrap_or_default();
    let db = sea_orm::Database::connect(url).await?;
    Migrator::up(&db, None).await
}
