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
//! | `huge` | returns an answer of over 2 MiB (a reason quoting a 2 MiB text) |
//! | `print` | writes to stdout and stderr, then decides normally |
//! | `file`, `env`, `net`, `clock` | tries to read a file, the environment, the network, the clock, and reports what it got as a rule error |
//! | `calls` | reports how many times `qualify` ran in this instance, as a rule error |
//!
//! The counter lives across calls, which shows whether instances are reused. To
//! see the lead's id, the module adds it to what `qualify` reads.
#![deny(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};

use guest_rules::contract::*;
use guest_rules::{Reference, RuleModule, TemplateId};

static CALLS: AtomicU64 = AtomicU64::new(0);

/// The misbehaving module.
pub struct Hostile {
    base: Reference,
    /// `{0}`: quotes its argument, to make an answer as large as wanted.
    quote: TemplateId,
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
    fn init(_org_id: &str, policy: &str) -> Result<Self, RuleError> {
        let mut base = Reference::parse(policy)?;
        base.reads_mut().qualify(LeadTexts::ID);
        let quote = base.templates_mut().add("hostile.quote", "{0}")?;
        Ok(Hostile { base, quote })
    }

    fn base(&self) -> &Reference {
        &self.base
    }

    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            name: "hostile-rules".to_owned(),
            ..self.base.info()
        }
    }

    fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        match lead.id.as_deref().unwrap_or_default() {
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
                let text = Arg::Text("x".repeat(2 << 20));
                q.reasons.push(self.quote.reason(vec![text]));
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
}

guest_rules::export_rule_module!(Hostile);
