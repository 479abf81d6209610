//! The `crm-rules` command-line program: decisions from JSON records, and the
//! fixture runner.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use chrono::{DateTime, SubsecRound, Utc};
use clap::{Args, Parser, Subcommand};
use crm_rules::audit::{AuditKey, AuditLog, AuditPolicy, Entry};
use crm_rules::crm::{Format, Vocabularies};
use crm_rules::decide::{decide_all, DecisionKind, Reading};
use crm_rules::fixtures::{run_org, Summary};
use crm_rules::org::{OrgDir, OrgFile};
use crm_rules::{EngineSettings, Host, Limits};

/// A faster allocator than the system's under several deciding threads: records
/// are parsed, typed and answered with many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The example policy the program uses when given no org.
const EXAMPLE_POLICY: &str = include_str!("../../examples/strict/policy.json");

#[derive(Parser)]
#[command(
    name = "crm-rules",
    version,
    about = "Runs an organisation's CRM sales rules (a WebAssembly component) on CRM records"
)]
struct Cli {
    #[command(flatten)]
    org: OrgArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct OrgArgs {
    /// An org folder (with org.json, its policy and fixtures).
    #[arg(long, global = true, value_name = "DIR")]
    org_dir: Option<PathBuf>,
    /// A rule module (.wasm component); default: the built-in reference module.
    #[arg(long, global = true, value_name = "FILE")]
    module: Option<PathBuf>,
    /// The org policy (JSON); default: the example policy.
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The org id put in each decision's context.
    #[arg(long, global = true, value_name = "ID")]
    org: Option<String>,
    /// The decision time (RFC 3339); default: the current time.
    #[arg(long, global = true, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    /// The acting user.
    #[arg(long, global = true)]
    user: Option<String>,
    /// The acting team.
    #[arg(long, global = true)]
    team: Option<String>,
    /// Pretty-print decisions (one JSON document per record).
    #[arg(long, global = true)]
    pretty: bool,
    /// Append every decision to this audit log (JSON lines, hash-chained, MAC'd
    /// and signed; several processes may share one log).
    #[arg(long, global = true, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// The audit key (ed25519; created on first use, mode 0600) that extends,
    /// signs and verifies audit logs; default: `audit.key` in
    /// `$XDG_CONFIG_HOME/crm-rules` or `~/.config/crm-rules`.
    #[arg(long, global = true, value_name = "FILE")]
    audit_key: Option<PathBuf>,
    /// Folder of compiled modules; default: `$XDG_CACHE_HOME/crm-rules` or
    /// `~/.cache/crm-rules`.
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile modules every time; use no cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// The secret key that authenticates cached code (created on first use, mode
    /// 0600); default: `cache.key` in `$XDG_CONFIG_HOME/crm-rules` or
    /// `~/.config/crm-rules`. Never inside the cache folder.
    #[arg(long, global = true, value_name = "FILE")]
    cache_key: Option<PathBuf>,
    /// The records' CRM format; default: detected per record.
    #[arg(long, global = true, value_enum)]
    format: Option<Format>,
    /// What to print per record: the decision, the native CRM actions that apply
    /// it, or both.
    #[arg(long, global = true, value_enum, default_value_t = Emit::Decision)]
    emit: Emit,
    /// Threads deciding records of a JSON-lines input; default: one per core.
    #[arg(long, global = true, value_name = "N")]
    jobs: Option<usize>,
    /// Log to stderr: `-v` what the host does (cache, versions, module output),
    /// `-vv` more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// What to print per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    /// The decision.
    Decision,
    /// The native CRM actions (requests) that apply the decision.
    Native,
    /// Both.
    Both,
}

#[derive(Subcommand)]
enum Command {
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
    /// Show the module's hash, name, version and input query.
    Info,
    /// Module integrity: hash, keys, signatures.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Audit logs: verify the chain, show entries.
    #[command(subcommand)]
    Audit(AuditCommand),
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

#[derive(Subcommand)]
enum ModuleCommand {
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
enum AuditCommand {
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

/// Writes log records to stderr.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("crm_rules") {
            eprintln!(
                "{}: {}",
                record.level().as_str().to_lowercase(),
                record.args()
            );
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLog = StderrLog;

/// Text from records or modules, made safe for the terminal: control characters
/// shown as escapes, so no one can forge or hide the program's own lines.
fn shown(text: &str) -> String {
    crm_rules::guest_output::escape(text.as_bytes())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.org.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", shown(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn cache_dir(args: &OrgArgs) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    if let Some(dir) = &args.cache_dir {
        return Some(dir.clone());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("crm-rules"))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Module(command) => return module_command(command),
        Command::Audit(command) => return audit_command(command, &cli.org),
        _ => {}
    }
    let host = Host::with_settings(&EngineSettings {
        cache_dir: cache_dir(&cli.org),
        cache_key: cli.org.cache_key.clone(),
        ..EngineSettings::default()
    })?;
    let kind = match &cli.command {
        Command::Test { dirs, bless } => return test(&host, dirs, *bless),
        Command::Module(_) | Command::Audit(_) => unreachable!("handled above"),
        Command::Qualify { .. } => DecisionKind::Qualify,
        Command::Convert { .. } => DecisionKind::Convert,
        Command::Transition { .. } => DecisionKind::Transition,
        Command::Forecast { .. } => DecisionKind::Forecast,
        Command::Stages | Command::Info => DecisionKind::Stages,
    };
    let (org_id, audit_policy, vocabularies) = load_org(&host, &cli.org)?;
    let mut audit = match &cli.org.audit {
        Some(path) => Some(
            AuditLog::open(path, audit_key(&cli.org, AuditKey::load_or_create)?)
                .with_context(|| format!("cannot open audit log {}", path.display()))?,
        ),
        None => None,
    };
    let ctx = crm_rules::model::Context {
        org_id: org_id.clone(),
        now: cli.org.now.unwrap_or_else(|| Utc::now().trunc_subsecs(0)),
        user: cli.org.user.clone(),
        team: cli.org.team.clone(),
    };
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let print = |out: &mut dyn std::io::Write, value: &serde_json::Value| -> anyhow::Result<()> {
        let text = if cli.org.pretty {
            serde_json::to_string_pretty(value)?
        } else {
            serde_json::to_string(value)?
        };
        writeln!(out, "{text}")?;
        Ok(())
    };
    let to = match &cli.command {
        Command::Transition { to, .. } => to.clone(),
        _ => None,
    };
    let input = match cli.command {
        Command::Info => {
            let loaded = host.module(&org_id)?;
            print(&mut stdout, &serde_json::to_value(&loaded)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Stages => {
            let stages = host.stages(&ctx)?;
            print(&mut stdout, &serde_json::to_value(&stages.value)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Qualify { input }
        | Command::Convert { input }
        | Command::Transition { input, .. }
        | Command::Forecast { input } => input,
        Command::Test { .. } | Command::Module(_) | Command::Audit(_) => {
            unreachable!("handled above")
        }
    };
    let decision_name = format!("{kind:?}").to_lowercase();
    let (source_name, opened) = open_input(input.as_deref())?;
    // Native records keep only the custom fields the module reads.
    let reads: std::collections::HashSet<String> = host
        .module(&org_id)?
        .info
        .reads_custom_fields
        .into_iter()
        .collect();
    let reading = Reading {
        format: cli.org.format,
        vocabularies: &vocabularies,
        to: to.as_deref(),
        native_actions: cli.org.emit != Emit::Decision,
        keep_custom: Some(&reads),
    };
    let mut failed = 0usize;
    let mut handle = |answer: crm_rules::decide::Answer| -> anyhow::Result<()> {
        let mut line = serde_json::Map::new();
        line.insert("position".into(), answer.position.into());
        if let Some(id) = &answer.id {
            line.insert("id".into(), id.clone().into());
        }
        if let Some(format) = answer.format.filter(|f| *f != Format::Canonical) {
            line.insert("format".into(), format.as_str().into());
        }
        if let Some(log) = audit.as_mut() {
            let entry = Entry {
                decision: &decision_name,
                ctx: &ctx,
                record: answer.id.as_deref(),
                position: answer.position,
                input: &answer.input,
                by: answer.by.as_ref(),
                result: answer.result.as_ref(),
            };
            log.append(&entry, &audit_policy)
                .with_context(|| format!("cannot write audit log {}", log.path().display()))?;
        }
        match answer.result {
            Ok(decision) => {
                // The decision stays on the line when its actions cannot be made.
                if cli.org.emit != Emit::Native || matches!(answer.actions, Some(Err(_))) {
                    line.insert("decision".into(), decision);
                }
                match answer.actions {
                    Some(Ok(actions)) => {
                        line.insert("actions".into(), actions.into());
                    }
                    Some(Err(message)) => {
                        failed += 1;
                        let what = answer
                            .id
                            .as_deref()
                            .map(|id| format!(" (`{id}`)"))
                            .unwrap_or_default();
                        eprintln!(
                            "error: {}",
                            shown(&format!(
                                "{source_name}: record {}{what}: no native actions: {message}",
                                answer.position
                            ))
                        );
                        line.insert(
                            "error".into(),
                            serde_json::json!({ "kind": "native", "message": message }),
                        );
                    }
                    None => {}
                }
            }
            Err(error) => {
                failed += 1;
                eprintln!("error: {}", shown(&error.to_string()));
                line.insert("error".into(), error.to_json());
            }
        }
        print(&mut stdout, &serde_json::Value::Object(line))?;
        Ok(())
    };
    match opened {
        // A forecast attaches activity records to opportunities anywhere in the
        // input, so it reads the input whole.
        crm_rules::input::Opened::Lines(mut chunks) if kind != DecisionKind::Forecast => {
            let jobs = cli
                .org
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .max(1);
            let mut next_position = 1;
            loop {
                let lines = chunks
                    .next_chunk(CHUNK_LINES)
                    .with_context(|| format!("cannot read {source_name}"))?;
                if lines.is_empty() {
                    break;
                }
                let answers = decide_lines(
                    &host,
                    &ctx,
                    kind,
                    &reading,
                    &source_name,
                    &lines,
                    &mut next_position,
                    jobs,
                );
                for answer in answers {
                    handle(answer)?;
                }
            }
        }
        opened => {
            let text = match opened {
                crm_rules::input::Opened::Whole(text) => text,
                crm_rules::input::Opened::Lines(mut chunks) => {
                    let mut text = String::new();
                    loop {
                        let lines = chunks
                            .next_chunk(CHUNK_LINES)
                            .with_context(|| format!("cannot read {source_name}"))?;
                        if lines.is_empty() {
                            break;
                        }
                        for line in lines {
                            text.push_str(&line.text);
                        }
                    }
                    text
                }
            };
            let records =
                crm_rules::input::unwrap_collections(crm_rules::input::split(&source_name, &text)?);
            for answer in decide_all(&host, &ctx, kind, &reading, &source_name, records) {
                handle(answer)?;
            }
        }
    }
    stdout.flush()?;
    if let Some(log) = audit.as_mut() {
        log.sync()
            .with_context(|| format!("cannot write audit log {}", log.path().display()))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Lines read and decided at a time from a JSON-lines input.
const CHUNK_LINES: usize = 8192;

/// Parses and decides a chunk of JSON lines on `jobs` threads, in input order.
#[allow(clippy::too_many_arguments)]
fn decide_lines(
    host: &Host,
    ctx: &crm_rules::model::Context,
    kind: DecisionKind,
    reading: &Reading<'_>,
    source_name: &str,
    lines: &[crm_rules::input::Line],
    next_position: &mut usize,
    jobs: usize,
) -> Vec<crm_rules::decide::Answer> {
    let part = lines.len().div_ceil(jobs);
    // Parse in parallel, then number the records in input order.
    let mut parsed: Vec<Vec<crm_rules::input::Record<serde_json::Value>>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = lines
                .chunks(part)
                .map(|lines| {
                    scope.spawn(move || crm_rules::input::parse_lines(source_name, lines, 1))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a parsing thread does not panic"))
                .collect()
        });
    for records in &mut parsed {
        crm_rules::input::renumber(records, *next_position);
        *next_position += records.len();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parsed
            .into_iter()
            .map(|records| {
                scope.spawn(move || decide_all(host, ctx, kind, reading, source_name, records))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a deciding thread does not panic"))
            .collect()
    })
}

/// Opens a file or stdin; JSON lines are streamed.
fn open_input(
    path: Option<&Path>,
) -> anyhow::Result<(String, crm_rules::input::Opened<Box<dyn std::io::BufRead>>)> {
    let (name, reader): (String, Box<dyn std::io::BufRead>) = match path {
        None => (
            "stdin".to_owned(),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        ),
        Some(p) if p == Path::new("-") => (
            "stdin".to_owned(),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        ),
        Some(p) => {
            let file =
                std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            (
                p.display().to_string(),
                Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
            )
        }
    };
    let opened = crm_rules::input::open(reader).with_context(|| format!("cannot read {name}"))?;
    Ok((name, opened))
}

/// Loads the org the options name and returns its id, audit masking and CRM
/// vocabularies.
fn load_org(host: &Host, args: &OrgArgs) -> anyhow::Result<(String, AuditPolicy, Vocabularies)> {
    let mut org = match &args.org_dir {
        Some(dir) => OrgDir::read(dir)?,
        None => OrgDir {
            dir: PathBuf::from("."),
            file: OrgFile {
                org_id: "default".to_owned(),
                module: "reference".to_owned(),
                policy: "policy.json".to_owned(),
                limits: Limits::default(),
                version: None,
                sha256: None,
                trusted_keys: Vec::new(),
                signature: None,
                audit: AuditPolicy::default(),
                crm: Default::default(),
            },
            wasm: crm_rules::REFERENCE_MODULE.to_vec(),
            policy: EXAMPLE_POLICY.to_owned(),
            signature: None,
            vocabularies: Vocabularies::default(),
        },
    };
    if let Some(path) = &args.module {
        org.wasm = std::fs::read(path)
            .with_context(|| format!("cannot read module {}", path.display()))?;
        org.file.version = None;
        let sig = PathBuf::from(format!("{}.sig", path.display()));
        org.signature = std::fs::read_to_string(sig)
            .ok()
            .map(|s| s.trim().to_owned());
    }
    if let Some(path) = &args.policy {
        org.policy = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?;
        org.file.version = None;
    }
    if let Some(id) = &args.org {
        org.file.org_id = id.clone();
    }
    org.load_into(host)?;
    Ok((org.file.org_id, org.file.audit, org.vocabularies))
}

fn module_command(command: &ModuleCommand) -> anyhow::Result<ExitCode> {
    use crm_rules::integrity;
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    match command {
        ModuleCommand::Hash { module } => {
            println!("{}", integrity::module_hash(&read(module)?));
        }
        ModuleCommand::Keygen { secret } => {
            let (secret_hex, public_hex) = integrity::generate_key().map_err(anyhow::Error::msg)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(secret)
                .with_context(|| format!("cannot create {}", secret.display()))?;
            writeln!(file, "{secret_hex}")?;
            println!("{public_hex}");
        }
        ModuleCommand::Sign { module, key, out } => {
            let secret = std::fs::read_to_string(key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let signature =
                integrity::sign(secret.trim(), &read(module)?).map_err(anyhow::Error::msg)?;
            let out = out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.sig", module.display())));
            std::fs::write(&out, format!("{signature}\n"))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}", out.display());
        }
        ModuleCommand::Verify {
            module,
            public_key,
            signature,
        } => {
            let key = integrity::parse_public_key(public_key).map_err(anyhow::Error::msg)?;
            let sig_path = signature
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.sig", module.display())));
            let sig = std::fs::read_to_string(&sig_path)
                .with_context(|| format!("cannot read {}", sig_path.display()))?;
            return Ok(match integrity::verify(&key, &read(module)?, sig.trim()) {
                Ok(()) => {
                    println!("ok: {} is signed by {public_key}", module.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("FAILED: {}: {e}", module.display());
                    ExitCode::from(1)
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The audit key the options name (or the default one), read with `read`.
fn audit_key(
    args: &OrgArgs,
    read: fn(&Path) -> Result<AuditKey, crm_rules::key_file::KeyFileError>,
) -> anyhow::Result<AuditKey> {
    let path = match &args.audit_key {
        Some(path) => path.clone(),
        None => crm_rules::audit::default_key_file()?,
    };
    read(&path).with_context(|| format!("cannot use the audit key {}", path.display()))
}

fn audit_command(command: &AuditCommand, args: &OrgArgs) -> anyhow::Result<ExitCode> {
    use crm_rules::audit;
    match command {
        AuditCommand::Verify {
            log,
            public_key,
            expect,
            expect_head,
            expect_seq,
            open,
        } => {
            let verifier = match public_key {
                Some(hex) => audit::Verifier::Public(
                    crm_rules::integrity::parse_public_key(hex).map_err(anyhow::Error::msg)?,
                ),
                None => audit::Verifier::Key(audit_key(args, AuditKey::load)?),
            };
            let line = match (expect, expect_head, expect_seq) {
                (Some(file), _, _) => {
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    Some(
                        audit::Expected::from_line(&text)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
                    )
                }
                (None, Some(hash), Some(seq)) => Some(audit::Expected {
                    seq: *seq,
                    hash: hash.clone(),
                }),
                _ => None,
            };
            let expectations = audit::Expectations {
                line,
                open_end: *open,
            };
            Ok(match audit::verify(log, &verifier, &expectations) {
                Ok(found) => {
                    for warning in &found.warnings {
                        println!("warning: {warning}");
                    }
                    let signed = match found.last_checkpoint {
                        Some(seq) => format!("signed up to line {seq}"),
                        None => "no checkpoint".to_owned(),
                    };
                    println!(
                        "ok: {} entries, chain intact, {signed}, head {} (line {})",
                        found.entries, found.head, found.entries
                    );
                    ExitCode::SUCCESS
                }
                Err(broken) => {
                    println!("FAILED: {broken}");
                    ExitCode::from(1)
                }
            })
        }
        AuditCommand::Head { log } => {
            let text =
                std::fs::read(log).with_context(|| format!("cannot read {}", log.display()))?;
            let last = text
                .split(|b| *b == b'\n')
                .rfind(|line| !line.is_empty())
                .with_context(|| format!("{} is empty", log.display()))?;
            println!("{}", String::from_utf8_lossy(last));
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::PublicKey => {
            println!(
                "{}",
                audit_key(args, AuditKey::load_or_create)?.public_hex()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Show {
            log,
            for_org,
            record,
            since,
            until,
        } => {
            let filter = audit::Filter {
                org: for_org.clone(),
                record: record.clone(),
                since: *since,
                until: *until,
            };
            let lines = audit::show(log, &filter)
                .with_context(|| format!("cannot read {}", log.display()))?;
            let mut stdout = std::io::stdout().lock();
            for line in lines {
                writeln!(stdout, "{line}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn test(host: &Host, dirs: &[PathBuf], bless: bool) -> anyhow::Result<ExitCode> {
    let mut total = Summary::default();
    let mut stdout = std::io::stdout().lock();
    for root in dirs {
        let orgs = OrgDir::find(root)?;
        if orgs.is_empty() {
            bail!(
                "no org folder (with an org.json) at or below {}",
                root.display()
            );
        }
        for dir in orgs {
            match run_org(host, &dir, bless, &mut stdout) {
                Ok(summary) => {
                    total.passed += summary.passed;
                    total.failed += summary.failed;
                }
                Err(e) => {
                    total.failed += 1;
                    writeln!(stdout, "  FAIL    {}: {e:#}", dir.display())?;
                }
            }
        }
    }
    writeln!(stdout, "{} passed, {} failed", total.passed, total.failed)?;
    Ok(if total.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
