//! The program's command line: every command, flag and its help text.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use crm_rules::crm::Format;

#[derive(Parser)]
#[command(
    name = "crm-rules",
    version,
    about = "Runs an organisation's CRM sales rules (a WebAssembly component) on CRM records"
)]
pub struct Cli {
    #[command(flatten)]
    pub org: OrgArgs,
    #[command(subcommand)]
    pub command: Command,
}

fn format(text: &str) -> Result<Format, String> {
    text.parse()
}

#[derive(Args)]
pub struct OrgArgs {
    /// An org folder (with org.json, its policy and fixtures).
    #[arg(long, global = true, value_name = "DIR")]
    pub org_dir: Option<PathBuf>,
    /// A rule module (.wasm component); default: the built-in reference module.
    #[arg(long, global = true, value_name = "FILE")]
    pub module: Option<PathBuf>,
    /// The org policy (JSON); default: the example policy.
    #[arg(long, global = true, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The org id put in each decision's context.
    #[arg(long, global = true, value_name = "ID")]
    pub org: Option<String>,
    /// The decision time (RFC 3339); default: the current time.
    #[arg(long, global = true, value_name = "TIME")]
    pub now: Option<DateTime<Utc>>,
    /// The acting user.
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// The acting team.
    #[arg(long, global = true)]
    pub team: Option<String>,
    /// Pretty-print decisions (one JSON document per record).
    #[arg(long, global = true)]
    pub pretty: bool,
    /// Append every decision to this audit log (JSON lines, hash-chained, MAC'd
    /// and signed; several processes may share one log).
    #[arg(long, global = true, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// The audit key (ed25519; created on first use, mode 0600) that extends,
    /// signs and verifies audit logs; default: `audit.key` in
    /// `$XDG_CONFIG_HOME/crm-rules` or `~/.config/crm-rules`.
    #[arg(long, global = true, value_name = "FILE")]
    pub audit_key: Option<PathBuf>,
    /// Folder of compiled modules; default: `$XDG_CACHE_HOME/crm-rules` or
    /// `~/.cache/crm-rules`.
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The secret key that authenticates cached code (created on first use, mode
    /// 0600); default: `cache.key` in `$XDG_CONFIG_HOME/crm-rules` or
    /// `~/.config/crm-rules`. Never inside the cache folder.
    #[arg(long, global = true, value_name = "FILE")]
    pub cache_key: Option<PathBuf>,
    /// Compile modules every time; use no cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// The records' CRM format (canonical, dataverse, salesforce, hubspot);
    /// default: detected per record.
    #[arg(long, global = true, value_parser = format, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// What to print per record: the decision, the native CRM actions that apply
    /// it, or both.
    #[arg(long, global = true, value_enum, default_value_t = Emit::Decision)]
    pub emit: Emit,
    /// With native actions: group each record's requests into atomic sends (a
    /// Dataverse `$batch` change set, a Salesforce `/composite` with `allOrNone`,
    /// HubSpot batch endpoints).
    #[arg(long, global = true)]
    pub bundle: bool,
    /// Also name the module version that decided each record.
    #[arg(long, global = true)]
    pub provenance: bool,
    /// Threads deciding records of a JSON-lines input; default: one per core.
    #[arg(long, global = true, value_name = "N")]
    pub jobs: Option<usize>,
    /// The largest record, in bytes; a longer one fails alone.
    #[arg(long, global = true, value_name = "BYTES", default_value_t = crm_rules::pipeline::source::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
    /// Log to stderr: `-v` what the host does (cache, versions, module output),
    /// `-vv` more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// What to print per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// The decision.
    Decision,
    /// The native CRM actions (requests) that apply the decision.
    Native,
    /// Both.
    Both,
}

#[derive(Subcommand)]
pub enum Command {
    /// Qualify leads.
    Qualify {
        /// Records: a JSON object, array or JSON lines; `-` or nothing for stdin.
        input: Option<PathBuf>,
    },
    /// Plan conversions: records of `{"lead": ..., "candidates": [...]}`.
    Convert {
        /// Records file; `-` or nothing for stdin.
        input: Option<PathBuf>,
    },
    /// Check stage moves: records of `{"opportunity": ..., "to": "Propose"}`, or
    /// native opportunities with --to.
    Transition {
        /// Records file; `-` or nothing for stdin.
        input: Option<PathBuf>,
        /// The stage to move to, for records that do not say.
        #[arg(long)]
        to: Option<String>,
    },
    /// Forecast opportunities from their activities.
    Forecast {
        /// Records file; `-` or nothing for stdin.
        input: Option<PathBuf>,
    },
    /// List the org's stages and their steps.
    Stages,
    /// Show the module's hash, contract version, name, version and input query.
    Info,
    /// Module integrity: hash, keys, signatures.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Audit logs: verify the chain, show entries.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Start a rule module: a crate on the kit, an org folder and a fixture.
    New {
        /// The module's (crate's) name, e.g. `acme-rules`.
        name: String,
        /// The folder to create; default: NAME.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The kit's folder (`guest-rules` of a crm-rules checkout); default: the
        /// one this program was built from.
        #[arg(long, value_name = "DIR")]
        kit: Option<PathBuf>,
    },
    /// Build a rule-module crate into a component and put it in its org folder.
    Build {
        /// The crate's folder; default: the current one.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// What to build for: `import-free` (wasm32-unknown-unknown wrapped into a
        /// component that imports nothing: the fastest to instantiate) or
        /// `wasm32-wasip2` (std's WASI behaviour, e.g. printing to the host's log).
        #[arg(long, default_value = "import-free", value_name = "TARGET", value_parser = ["import-free", "wasm32-wasip2"])]
        target: String,
        /// The org folder to copy the module into; default: DIR/org when it has an
        /// org.json.
        #[arg(long, value_name = "DIR")]
        org: Option<PathBuf>,
    },
    /// Check the org's policy: rules on custom fields the module does not
    /// read, the mapping never fills or no fixture has; lines no score reaches;
    /// value names the contract does not have. Exits 1 when it finds any.
    Lint {
        /// The mapping of the org's history; default: `mapping.json` in the org
        /// folder, when there is one.
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
    },
    /// Run the org's rules over labelled history (CSV or JSON lines with a
    /// mapping) and report how they did against the outcomes.
    Backtest {
        #[command(flatten)]
        history: HistoryArgs,
        /// Also write a self-contained HTML report with plots.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Fit a new policy for the reference module on the older part of the
    /// history, and report old, new and baselines on the newer part.
    Calibrate {
        #[command(flatten)]
        history: HistoryArgs,
        /// Where to write the new policy.
        #[arg(long, value_name = "POLICY")]
        out: PathBuf,
        /// Also write the validation report of the new policy as HTML.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Training records a value needs to get points of its own (default: the
        /// mapping's `calibrate.min_count`, else 50).
        #[arg(long)]
        min_count: Option<usize>,
        /// L2 penalty of the logistic regression (default: the mapping's, else 1).
        #[arg(long)]
        alpha: Option<f64>,
        /// Points that double the odds of converting (default: the mapping's,
        /// else 10).
        #[arg(long)]
        points_per_doubling: Option<f64>,
        /// Points are multiples of this, e.g. 5 (default: the mapping's, else 1).
        #[arg(long)]
        points_step: Option<u32>,
        /// The seed of the split of records without dates (default: the
        /// mapping's, else 42).
        #[arg(long)]
        seed: Option<u64>,
        /// Lowest training precision of a hot lead (default: the mapping's,
        /// else 0.8).
        #[arg(long)]
        hot_precision: Option<f64>,
    },
    /// Run two versions over the same records and show what changes.
    Whatif {
        #[command(flatten)]
        history: HistoryArgs,
        /// The other policy (for the org's module, or --against-module).
        #[arg(long, value_name = "POLICY")]
        against: Option<PathBuf>,
        /// The other module (with --against, or the org's policy).
        #[arg(long, value_name = "FILE")]
        against_module: Option<PathBuf>,
        /// Changed records shown with both answers.
        #[arg(long, default_value_t = 10)]
        sample: usize,
    },
    /// Serve decisions over HTTP: every org folder under --orgs, per-org API keys,
    /// metrics, OpenAPI, hot reload.
    Serve(ServeArgs),
    /// API keys of the service: add (printed once, stored as a hash), list, remove.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the fixtures of org folders; exits non-zero when any fails.
    Test {
        /// Org folders, or folders holding org folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Rewrite each fixture's expectation from what the rules decide.
        #[arg(long)]
        bless: bool,
    },
}

/// The labelled history a backtest, calibration or what-if reads.
#[derive(Args)]
pub struct HistoryArgs {
    /// The data: CSV, or JSON lines (one object per line).
    pub data: PathBuf,
    /// How its columns map to records and outcomes; default: `mapping.json` in
    /// the org folder.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Print one JSON object instead of the summary table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum ModuleCommand {
    /// Print a module's SHA-256 (what an org pins in `sha256`).
    Hash {
        /// The `.wasm` component.
        module: PathBuf,
    },
    /// Make a signing key: writes the secret key (hex) to FILE, prints the public key.
    Keygen {
        /// Where to write the secret key; it must not exist.
        #[arg(long, value_name = "FILE")]
        secret: PathBuf,
    },
    /// Sign a module with a secret key; writes MODULE.sig (or --out).
    Sign {
        /// The `.wasm` component.
        module: PathBuf,
        /// The secret key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The signature file to write.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check a module's signature against a public key; exits 1 when it fails.
    Verify {
        /// The `.wasm` component.
        module: PathBuf,
        /// The public key (hex).
        #[arg(long, value_name = "HEX")]
        public_key: String,
        /// The signature file; default MODULE.sig.
        #[arg(long, value_name = "FILE")]
        signature: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check a log: chain, MACs (with the audit key) or checkpoint signatures
    /// (with --public-key), and its end; names the first bad line and exits 1.
    Verify {
        /// The audit log.
        log: PathBuf,
        /// Check with this public key (hex) instead of the audit key: only lines up
        /// to the last checkpoint can then be vouched for.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// A line the log must still contain, as saved by `audit head` (a file
        /// holding that line): catches a log cut back before it.
        #[arg(long, value_name = "FILE", conflicts_with = "expect_head")]
        expect: Option<PathBuf>,
        /// The hash the log's line --expect-seq must have (as printed by `audit
        /// verify` or `audit head`).
        #[arg(long, value_name = "HASH", requires = "expect_seq")]
        expect_head: Option<String>,
        /// The sequence number of the line with --expect-head.
        #[arg(long, value_name = "N", requires = "expect_head")]
        expect_seq: Option<u64>,
        /// The log's writer is still running: accept a log that does not end with
        /// a checkpoint.
        #[arg(long)]
        open: bool,
    },
    /// Print the log's last line (a checkpoint when its writer closed it), to keep
    /// elsewhere and pass to `audit verify --expect` later.
    Head {
        /// The audit log.
        log: PathBuf,
    },
    /// Print the public key of the audit key (creating the key if needed), for
    /// whoever verifies logs without the secret key.
    PublicKey,
    /// Print the entries of a log that match the filters.
    Show {
        /// The audit log.
        log: PathBuf,
        /// Only this org.
        #[arg(long = "for-org", value_name = "ID")]
        for_org: Option<String>,
        /// Only this record id.
        #[arg(long)]
        record: Option<String>,
        /// Only entries written at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Only entries written before this time (RFC 3339).
        #[arg(long)]
        until: Option<DateTime<Utc>>,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// The folder of org folders (each with an org.json); folders without one are
    /// skipped. Changes are picked up while the service runs.
    #[arg(long, value_name = "DIR")]
    pub orgs: PathBuf,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The API keys file (`crm-rules keys add`); without it the service only
    /// listens on a loopback address, and every route is open.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Append every decision to DIR/ORG.jsonl (hash-chained, synced before the
    /// answer is sent).
    #[arg(long, value_name = "DIR")]
    pub audit_dir: Option<PathBuf>,
    /// Rotate an org's audit log once it holds this many bytes: the full file
    /// is kept beside it as ORG.SEQ.jsonl and the chain goes on in a new
    /// ORG.jsonl (`audit verify ORG.jsonl` checks them all). 0: never.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 0,
        requires = "audit_dir"
    )]
    pub audit_rotate_bytes: u64,
    /// The largest request body of a decision, in bytes (413 above it).
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub max_body_bytes: usize,
    /// The largest uploaded module, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_module_bytes: usize,
    /// Requests handled at once; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_in_flight: usize,
    /// Seconds a request may take, reading its body included.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub deadline: f64,
    /// Seconds a client may take to send its request headers or body.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub read_timeout: f64,
    /// Seconds in-flight requests get to finish after a shutdown signal.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub shutdown_grace: f64,
    /// Threads serving HTTP; default: one per core.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Log as JSON lines (with timestamps), for a log collector.
    #[arg(long)]
    pub log_json: bool,
    /// Module versions kept per org: after an upload, the oldest that are not
    /// active are removed beyond this many.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub keep_versions: usize,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key for some orgs (or an admin key): prints it once, stores its hash.
    Add {
        /// The orgs the key reaches (their org ids).
        #[arg(required_unless_present = "admin")]
        orgs: Vec<String>,
        /// The keys file; created when missing.
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
        /// An admin key: every org, and the management routes.
        #[arg(long)]
        admin: bool,
        /// A note to tell keys apart (who holds it).
        #[arg(long)]
        note: Option<String>,
        /// The folder of org folders the service serves: every org named must
        /// be one of them.
        #[arg(long = "orgs", value_name = "DIR")]
        orgs_dir: Option<PathBuf>,
    },
    /// List the keys (ids, orgs, notes; never the keys themselves).
    List {
        /// The keys file.
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
    },
    /// Remove a key by its id.
    Remove {
        /// The key's id, as `keys list` shows it.
        id: String,
        /// The keys file.
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
    },
}
