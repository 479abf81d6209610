//! A rule module that misbehaves on purpose. It follows the reference rules, except
//! that `qualify` does what the lead's id says:
//!
//! | id | what the module does |
//! |---|---|
//! | `loop` | loops forever |
//! | `recurse` | recurses without end |
//! | `alloc` | allocates without bound |
//! | `panic` | panics |
//! | `trap` | executes `unreachable` |
//! | `huge` | returns a 2 MiB answer |
//! | `print` | writes to stdout and stderr, then decides normally |
//! | `file`, `env`, `net`, `clock` | tries to read a file, the environment, the network, the clock, and reports what it got as a rule error |
//!
//! It also keeps a counter across calls, which shows whether instances are reused.
#![deny(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};

use guest_rules::model::{
    Candidate, Context, ConversionPlan, ErrorCode, Forecast, Lead, ModuleInfo, Opportunity,
    Qualification, RuleError, Stage, TransitionCheck,
};
use guest_rules::{Reference, RuleModule};

static CALLS: AtomicU64 = AtomicU64::new(0);

/// The misbehaving module.
pub struct Hostile {
    base: Reference,
}

fn report(what: &str, found: String) -> RuleError {
    RuleError::new(ErrorCode::Internal, format!("{what}: {found}"), None)
}

// Recursing without end is the point of this function.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64, trail: &mut [u64; 16]) -> u64 {
    trail[(depth % 16) as usize] = depth;
    recurse(depth + 1, trail) + trail[0]
}

impl RuleModule for Hostile {
    fn init(policy: &str) -> Result<Self, RuleError> {
        Ok(Hostile {
            base: Reference::init(policy)?,
        })
    }

    fn info(&self) -> ModuleInfo {
        let mut info = self.base.info();
        info.name = "hostile-rules".to_owned();
        info
    }

    fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        match lead.id.as_str() {
            "loop" => {
                let mut x: u64 = calls;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "recurse" => {
                let mut trail = [0u64; 16];
                let n = recurse(0, std::hint::black_box(&mut trail));
                Err(report("recurse", n.to_string()))
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the hostile module panics on purpose"),
            "trap" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[allow(unreachable_code)]
                Err(report("trap", "not on wasm32".into()))
            }
            "huge" => {
                let mut q = self.base.qualify(ctx, lead)?;
                q.reasons = vec!["x".repeat(1024); 2048];
                Ok(q)
            }
            "print" => {
                println!("hello from the module on stdout");
                eprintln!("hello from the module on stderr");
                self.base.qualify(ctx, lead)
            }
            "file" => Err(report(
                "file",
                match std::fs::read_to_string("/etc/passwd") {
                    Ok(text) => format!("READ {} bytes", text.len()),
                    Err(e) => format!("denied ({e})"),
                },
            )),
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                let args = std::env::args().count();
                Err(report(
                    "env",
                    format!("{} variables {vars:?}, {args} arguments", vars.len()),
                ))
            }
            "net" => Err(report(
                "net",
                match std::net::TcpStream::connect("127.0.0.1:22") {
                    Ok(_) => "CONNECTED".to_owned(),
                    Err(e) => format!("denied ({e})"),
                },
            )),
            "clock" => {
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(u64::MAX);
                Err(report("clock", format!("{wall} seconds since the epoch")))
            }
            "calls" => Err(report("calls", calls.to_string())),
            _ => self.base.qualify(ctx, lead),
        }
    }

    fn convert(
        &self,
        ctx: &Context,
        lead: &Lead,
        candidates: &[Candidate],
    ) -> Result<ConversionPlan, RuleError> {
        self.base.convert(ctx, lead, candidates)
    }

    fn stages(&self, ctx: &Context) -> Result<Vec<Stage>, RuleError> {
        self.base.stages(ctx)
    }

    fn check_transition(
        &self,
        ctx: &Context,
        opportunity: &Opportunity,
        to_stage: &str,
    ) -> Result<TransitionCheck, RuleError> {
        self.base.check_transition(ctx, opportunity, to_stage)
    }

    fn forecast(&self, ctx: &Context, opportunity: &Opportunity) -> Result<Forecast, RuleError> {
        self.base.forecast(ctx, opportunity)
    }
}

guest_rules::export_rule_module!(Hostile);
