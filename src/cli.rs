//! The `inlet` command line: `serve`, `clients create`, `token`, `version`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigArgs};
use crate::flows::schema_policy::SchemaPolicy;
use crate::identity::{clients, keys, tokens::TokenSigner};

#[derive(Parser, Debug)]
#[command(
    name = "inlet",
    version,
    about = "Ingest PostgreSQL and Redshift tables into a Delta Lake"
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP service.
    Serve,
    /// Manage API clients.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Mint an access token for a registered client.
    Token {
        /// The IMS org the client belongs to, e.g. ABC123@AdobeOrg.
        #[arg(long)]
        org: String,
        /// The client id printed by `inlet clients create`.
        #[arg(long)]
        client_id: String,
        /// How long the token is valid, e.g. 1h, 30m, 7d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Copy one table into a Delta table (replacing its contents), without a server.
    Copy {
        /// PostgreSQL URL (postgres://user:pw@host:5432/db?sslmode=...) or connection
        /// string (Server=...;Database=...;UID=...;Password=...). Prefer the environment
        /// variable: a password on the command line is visible to other users.
        #[arg(long, env = "INLET_SOURCE", hide_env_values = true)]
        source: String,
        /// The table, as schema.table.
        #[arg(long)]
        table: String,
        /// The Delta table to write: a directory, or s3://bucket/prefix/name.
        #[arg(long)]
        to: String,
        /// Partitions to read in parallel [default: the number of cores].
        #[arg(long)]
        partitions: Option<usize>,
        /// Leave out rows holding a value the lake cannot hold exactly (a NaN decimal, an
        /// infinite date, ...), counting and naming them, instead of failing the copy.
        #[arg(long)]
        skip_bad_rows: bool,
        /// When the table exists and the source's columns differ from it: `propagate` (new
        /// columns added, types widened, dropped columns kept as NULL), `pause` (refuse any
        /// change) or `ignore` (new columns left out); a narrowed type is always refused.
        #[arg(long, default_value = "propagate", value_parser = schema_policy)]
        schema_policy: SchemaPolicy,
        /// Give the table the source's columns as they are now, whatever changed.
        #[arg(long)]
        replace_schema: bool,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand, Debug)]
enum ClientsCommand {
    /// Register a client; prints its id and secret (shown only this once) as JSON.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "default")]
        name: String,
    },
}

/// Runs the command line and turns failures into a message and a non-zero exit.
pub fn main() -> ExitCode {
    crate::install_crypto_provider();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("inlet: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Serve => crate::app::serve(config).await,
        Command::Clients {
            command: ClientsCommand::Create { org, name },
        } => {
            let store = crate::state::open_store(&config).await?;
            let (client, secret) = clients::register(&store, &org, &name).await?;
            let out = serde_json::json!({
                "client_id": client.client_id,
                "client_secret": secret.expose(),
                "org": client.org,
                "name": client.name,
            });
            println!("{out}");
            Ok(())
        }
        Command::Token { org, client_id, ttl } => {
            let store = crate::state::open_store(&config).await?;
            match store.get_client(&client_id).await? {
                Some(client) if client.org == org => {}
                Some(_) => bail!("client {client_id} does not belong to org {org}"),
                None => bail!("no client {client_id} is registered (see `inlet clients create`)"),
            }
            let key = keys::load_or_create(config.token_key.as_ref(), &config.data_dir, keys::TOKEN_KEY_FILE)?;
            println!("{}", TokenSigner::new(&key).mint(&client_id, &org, ttl));
            Ok(())
        }
        Command::Copy {
            source,
            table,
            to,
            partitions,
            skip_bad_rows,
            schema_policy,
            replace_schema,
        } => {
            let request = crate::copy::CopyRequest {
                source: crate::secret::Secret::new(source),
                table,
                to,
                partitions: partitions.unwrap_or(config.source_partitions),
                batch_rows: config.batch_rows,
                skip_bad_rows,
                schema_policy,
                replace_schema,
            };
            let report = crate::copy::copy(request).await?;
            let seconds = report.elapsed.as_secs_f64();
            println!(
                "copied {} rows ({:.1} MB from the source) in {seconds:.2} s: {:.0} rows/s, {:.1} MB/s; {} files, table version {} at {}",
                report.rows,
                report.source_bytes as f64 / 1e6,
                report.rows as f64 / seconds,
                report.source_bytes as f64 / 1e6 / seconds,
                report.files,
                report.table_version,
                report.location
            );
            for change in &report.schema_changes {
                println!("schema change: {} ({})", change.describe(), change.action.as_str());
            }
            if report.skipped_rows > 0 {
                let rows = if report.skipped_rows == 1 { "row" } else { "rows" };
                println!(
                    "skipped {} {rows} holding a value the lake cannot hold exactly:",
                    report.skipped_rows
                );
                for row in &report.skipped {
                    println!("  {row}");
                }
                let more = report.skipped_rows - report.skipped.len() as u64;
                if more > 0 {
                    println!("  and {more} more");
                }
            }
            Ok(())
        }
        Command::Version => {
            println!("inlet {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

/// Reads `--schema-policy`.
fn schema_policy(text: &str) -> Result<SchemaPolicy, String> {
    SchemaPolicy::parse(text).ok_or_else(|| format!("must be {}", SchemaPolicy::NAMES))
}
