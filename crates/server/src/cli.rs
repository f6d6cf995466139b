//! The command line: `serve` (the default), `migrate`, `schema`, `workspace`, `token`, `demo`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use profilegraph_store::tokens::{self, Scopes};
use profilegraph_store::workspaces;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::{app, database, demo, telemetry};

/// profilegraph: the GraphQL API for customer profiles of an omnichannel inbox.
#[derive(Debug, Parser)]
#[command(name = "profilegraph", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    /// What to do; `serve` when none is given.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates first; seeds the demo on a brand-new database).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Seed the demo workspace into the configured database and print a token for it.
    Demo,
    /// Generate a deterministic benchmark workspace (s: 1k profiles, m: 10k, l: 100k) and
    /// print a token for it.
    Seed {
        /// s, m or l.
        #[arg(long, default_value = "s")]
        size: String,
        /// The new workspace's name.
        #[arg(long, default_value = "Bench Company")]
        name: String,
        /// Also add this many labelled duplicates (see the README's suggestion quality)
        /// and report how well the suggestions find them: precision at 1, recall at 5.
        #[arg(long, default_value_t = 0)]
        duplicates: usize,
    },
}

/// `profilegraph workspace …`
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace; prints its slug.
    Create {
        /// The company's name.
        #[arg(long)]
        name: String,
    },
}

/// `profilegraph token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; prints it alone on the last line. It is shown only once.
    Create {
        /// The slug of the workspace the token belongs to.
        #[arg(long)]
        workspace: String,
        /// Comma-separated scopes: read, write, admin.
        #[arg(long, default_value = "read")]
        scopes: String,
        /// A label to recognise the token by (e.g. the integration's name).
        #[arg(long, default_value = "api token")]
        name: String,
        /// Days until the token expires; never when omitted.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a workspace's tokens: prefix, name, scopes and times (never the secret).
    List {
        /// The workspace's slug.
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a token; it stops working at once.
    Revoke {
        /// The workspace's slug.
        #[arg(long)]
        workspace: String,
        /// The token's display prefix as `token list` shows it (e.g. `pgr_AbCd1234`).
        #[arg(long)]
        prefix: String,
    },
}

/// Parse the command line, run it, and turn the outcome into an exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.config);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One plain line for the person or script that ran the command; not a log
            // event as well, which would say the same thing a second time.
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Run one parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config).await,
        Command::Migrate => {
            migrated(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Schema => {
            print!("{}", profilegraph_schema::sdl());
            Ok(())
        }
        Command::Workspace(WorkspaceCommand::Create { name }) => {
            let db = migrated(&config).await?;
            let workspace = workspaces::create_workspace(&db.conn, &name).await?;
            println!("{}", workspace.slug);
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            workspace,
            scopes,
            name,
            expires_in_days,
        }) => {
            let scopes: Scopes = scopes.parse().map_err(Error::Usage)?;
            let db = migrated(&config).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            let expires_at = expires_in_days
                .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let token =
                tokens::create(&db.conn, workspace.id, None, &name, &scopes, expires_at).await?;
            eprintln!(
                "token {} for workspace {} with scopes {}; store it now, it is not shown again:",
                token.row.display_prefix, workspace.slug, scopes
            );
            println!("{}", token.plaintext);
            Ok(())
        }
        Command::Token(TokenCommand::List { workspace }) => {
            let db = migrated(&config).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            let fmt = |t: Option<chrono::DateTime<chrono::FixedOffset>>| {
                t.map_or_else(
                    || "-".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M").to_string(),
                )
            };
            println!(
                "{:<14} {:<20} {:<18} {:<16} {:<16} {:<16} {:<16}",
                "PREFIX", "NAME", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "REVOKED"
            );
            for token in tokens::list(&db.conn, workspace.id).await? {
                println!(
                    "{:<14} {:<20} {:<18} {:<16} {:<16} {:<16} {:<16}",
                    token.display_prefix,
                    token.name,
                    token.scopes,
                    fmt(Some(token.created_at)),
                    fmt(token.last_used_at),
                    fmt(token.expires_at),
                    fmt(token.revoked_at),
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { workspace, prefix }) => {
            let db = migrated(&config).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            let token = tokens::revoke(&db.conn, workspace.id, &prefix).await?;
            println!("revoked {} ({})", token.display_prefix, token.name);
            Ok(())
        }
        Command::Seed {
            size,
            name,
            duplicates,
        } => seed(&config, &size, &name, duplicates).await,
        Command::Demo => {
            let db = migrated(&config).await?;
            let seeded = demo::seed(&db).await?;
            eprintln!(
                "demo workspace `{}` seeded; a read,write,admin token for it:",
                seeded.slug
            );
            println!("{}", seeded.token);
            Ok(())
        }
    }
}

async fn seed(config: &Config, size: &str, name: &str, duplicates: usize) -> Result<()> {
    let size = crate::seed::Size::parse(size)
        .ok_or_else(|| Error::Usage(format!("unknown size `{size}` (expected s, m or l)")))?;
    let db = migrated(config).await?;
    let started = std::time::Instant::now();
    let seeded = crate::seed::generate(&db, name, size, true).await?;
    eprintln!(
        "seeded workspace `{}` ({} profiles, {} contacts, {} contact moments, {} notes, {} field values) in {:.1?}; a read,write,admin token for it:",
        seeded.slug,
        size.profiles,
        size.contacts,
        size.moments,
        size.notes,
        size.field_values,
        started.elapsed()
    );
    if duplicates > 0 {
        let cases =
            crate::quality::seed_labelled(&db, seeded.workspace_id, duplicates, 0x5eed).await?;
        let started = std::time::Instant::now();
        let quality = crate::quality::evaluate(&db, seeded.workspace_id, &cases).await?;
        eprintln!(
            "labelled duplicates: {} contacts; precision@1 {:.3}, recall@5 {:.3} ({:.1?})",
            quality.queries,
            quality.precision_at_1,
            quality.recall_at_5,
            started.elapsed()
        );
        for miss in quality.misses.iter().take(20) {
            eprintln!("  missed: {miss}");
        }
    }
    println!("{}", seeded.token);
    Ok(())
}

async fn find_workspace(
    db: &profilegraph_store::Db,
    slug: &str,
) -> Result<entity::workspaces::Model> {
    workspaces::find_by_slug(&db.conn, slug)
        .await?
        .ok_or_else(|| Error::Usage(format!("no workspace with slug `{slug}`")))
}

async fn migrated(config: &Config) -> Result<profilegraph_store::Db> {
    database::check_url(&config.database_url)?;
    let conn = database::connect(config).await?;
    database::migrate(&conn).await?;
    Ok(profilegraph_store::Db::new(conn))
}

async fn serve(config: &Config) -> Result<()> {
    let prepared = app::prepare(config).await?;
    let listener = app::bind(config).await?;
    let addr = listener.local_addr()?;
    println!("profilegraph is listening on http://{addr}/graphql (GraphiQL: open it in a browser)");
    if let Some(token) = &prepared.demo_token {
        println!(
            "This database was new, so the demo workspace was seeded. Its token (shown once), \
             for the header `Authorization: Bearer <token>`:"
        );
        println!("{token}");
    }
    app::run(listener, prepared.state, app::shutdown_signal()).await
}
