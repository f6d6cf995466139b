//! The command line: `serve` (the default), `migrate`, `schema`, `workspace`, `token`,
//! `demo`, `seed`, `export`, `import`.

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use profilegraph_store::tokens::{self, Scopes};
use profilegraph_store::workspaces;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::transfer::import::OnError;
use crate::transfer::{self, Format};
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
    /// Write every profile of a workspace (external id, name, field values, contacts and,
    /// in JSONL, notes) to a file or stdout, as it is read.
    Export {
        /// The workspace's slug.
        #[arg(long)]
        workspace: String,
        /// jsonl (one profile per line, with notes) or csv (a header row, one profile per
        /// row).
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Only profiles changed at or after this time (RFC 3339, e.g.
        /// 2026-12-01T00:00:00Z).
        #[arg(long)]
        updated_since: Option<String>,
        /// Write here instead of stdout.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// CSV for Excel: a byte order mark first, CRLF line ends.
        #[arg(long)]
        excel: bool,
    },
    /// Read profiles from a JSONL or CSV file (what `export` writes, or a spreadsheet):
    /// each row updates the profile with its external id, else the one its contacts belong
    /// to, else makes one. Safe to run twice.
    Import {
        /// The workspace's slug.
        #[arg(long)]
        workspace: String,
        /// jsonl or csv.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Check every row and report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// skip: a bad row is reported and the others go in (each profile its own
        /// transaction); abort: the whole import is one transaction, and nothing is
        /// written if any row is bad.
        #[arg(long, value_enum, default_value = "skip")]
        on_error: OnError,
        /// Make the channels the file names that the workspace doesn't have (in CSV, a
        /// column names the type as `contact:<name> (<TYPE>)`).
        #[arg(long)]
        create_channels: bool,
        /// The file, or `-` for stdin.
        file: String,
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
        Command::Export {
            workspace,
            format,
            updated_since,
            output,
            excel,
        } => {
            let updated_since = updated_since
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(&t).map_err(|_| {
                        Error::Usage(format!(
                            "--updated-since: `{t}` is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)"
                        ))
                    })
                })
                .transpose()?;
            let db = migrated(&config).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            let options = transfer::export::Options {
                format,
                updated_since,
                excel,
                progress: transfer::on_terminal(),
            };
            let started = std::time::Instant::now();
            let written = match output {
                Some(path) => {
                    let file = std::fs::File::create(&path).map_err(|e| {
                        Error::Usage(format!("cannot write {}: {e}", path.display()))
                    })?;
                    transfer::export::run(&db, workspace.id, &options, file).await?
                }
                None => {
                    // Buffered by `run`, so the unlocked handle costs nothing per line.
                    transfer::export::run(&db, workspace.id, &options, std::io::stdout()).await?
                }
            };
            eprintln!(
                "exported {written} profiles of `{}` in {:.1?}",
                workspace.slug,
                started.elapsed()
            );
            Ok(())
        }
        Command::Import {
            workspace,
            format,
            dry_run,
            on_error,
            create_channels,
            file,
        } => {
            let db = migrated(&config).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            import(
                &db,
                &workspace,
                format,
                dry_run,
                on_error,
                create_channels,
                &file,
            )
            .await
        }
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

async fn import(
    db: &profilegraph_store::Db,
    workspace: &entity::workspaces::Model,
    format: Format,
    dry_run: bool,
    on_error: OnError,
    create_channels: bool,
    file: &str,
) -> Result<()> {
    let options = transfer::import::Options {
        format,
        dry_run,
        on_error,
        create_channels,
        progress: transfer::on_terminal(),
    };
    let report = |failure: &transfer::import::Failure| eprintln!("{failure}");
    let started = std::time::Instant::now();
    let summary = if file == "-" {
        transfer::import::run(
            db,
            workspace.id,
            &options,
            std::io::stdin().lock(),
            None,
            report,
        )
        .await?
    } else {
        let opened = std::fs::File::open(file)
            .map_err(|e| Error::Usage(format!("cannot read {file}: {e}")))?;
        let size = opened.metadata().ok().map(|m| m.len());
        transfer::import::run(db, workspace.id, &options, opened, size, report).await?
    };
    if summary.notes_without_author > 0 {
        eprintln!(
            "{} notes name an author who is not an agent of `{}`; they have no author here",
            summary.notes_without_author, workspace.slug
        );
    }
    let counts = format!(
        "created {}, updated {}, unchanged {}, failed {}",
        summary.created, summary.updated, summary.unchanged, summary.failed
    );
    let channels = if summary.channels_created > 0 {
        format!("; {} channels created", summary.channels_created)
    } else {
        String::new()
    };
    if dry_run {
        println!("dry run, nothing written: would have {counts}{channels}");
    } else if !summary.written {
        println!("nothing written (--on-error abort): {counts}");
    } else {
        println!("{counts}{channels}");
    }
    eprintln!("in {:.1?}", started.elapsed());
    if summary.failed > 0 {
        return Err(Error::Usage(format!(
            "{} rows failed{}",
            summary.failed,
            if summary.written {
                "; the others went in"
            } else {
                ""
            }
        )));
    }
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
    if let Some(metrics) = prepared.metrics_addr {
        println!("Prometheus metrics on http://{metrics}/metrics");
    }
    if let Some(token) = &prepared.demo_token {
        println!(
            "This database was new, so the demo workspace was seeded. Its token (shown once), \
             for the header `Authorization: Bearer <token>`:"
        );
        println!("{token}");
    }
    app::run(listener, prepared.state, app::shutdown_signal()).await
}
