//! A rule module that attacks the host's sandbox, written from scratch against the
//! frozen `crm:rules@0.1.0` contract (not with the reference kit), so the attacks
//! do not depend on how the project's own guest code is built.
//!
//! The lead's id picks the attack in `qualify` (and, per lead, in `qualify-batch`);
//! the policy text picks one in `init`, where a policy that names no attack loads:
//!
//! | id or policy | what the module does |
//! |---|---|
//! | `sleep` | `std::thread::sleep` for 60 s (a `wasi:clocks` timer and a wait on it) |
//! | `sleep-zero` | sleeps for no time at all, then decides |
//! | `never` | subscribes to a timer due at the end of time and `poll`s it |
//! | `block` | the same timer, waited on with `pollable.block` |
//! | `stdin` | reads stdin to its end with std (a blocking read) |
//! | `stdin-raw` | `blocking-read` on the stdin stream, then `poll` on its pollable |
//! | `random...` | answers with what `wasi:random` gave it |
//! | `forge` | writes a forged host log line (`ESC[2K`, `\r`) to stdout and stderr, then decides |
//! | `forge-error` | refuses with a rule error that is a forged host log line |
//! | `score-200`, `score-max` | answers with a score of 200, or of 4294967295 (the contract says 0..100) |
//! | `huge-error` | refuses with a rule error whose message is 20 MB |
//! | `name-forms` | quotes the lead's contact name and email in forms other than as given: upper case, `Quinn, Pat`, `pat.quinn at example.org` |
//!
//! Any other id is qualified `nurture` with the reason `ok <id>`.
//!
//! `convert` answers outside the contract by the lead's id: `link-stranger` links
//! the account to an id that was not among the candidates, `link-traversal` the
//! contact to `)/../../systemusers(`, `link-huge` the opportunity to a 20 MB id;
//! any other id creates all three. `forecast` does by the opportunity's id:
//! `probability-negative-zero` (-0.0), `weight-nan`, `weight-infinity` and
//! `amount-nan`; any other id gets probability 0.5. The org has one stage,
//! `Qualify`.
#![deny(missing_docs)]
// The attacks are WebAssembly exports; a native build of the workspace (tests,
// clippy) compiles an empty library instead of exports its linker cannot name.
#![cfg(target_family = "wasm")]

use std::io::Read as _;
use std::time::Duration;

#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        world: "rule-module",
        path: "../../wit/since_v0.1.0",
    });
}

use bindings::exports::crm::rules::{
    conversion as c, forecasting as f, module as md, process_flow as p, qualification as q,
};

struct Attacks;

/// 20 MB: what a module's error message or id once carried whole into every output.
const HUGE: usize = 20 << 20;

/// The org's one stage.
const STAGE: &str = "Qualify";

bindings::export!(Attacks with_types_in bindings);

/// What an attack that returned reports, as the reason of an otherwise ordinary
/// answer or as a rule error.
enum Outcome {
    Decide(String),
    Refuse(String),
}

fn attack(name: &str) -> Option<Outcome> {
    let outcome = match name {
        "sleep" => {
            std::thread::sleep(Duration::from_secs(60));
            Outcome::Refuse("sleep: woke up after 60 s".to_owned())
        }
        "sleep-zero" => {
            std::thread::sleep(Duration::ZERO);
            Outcome::Decide("sleep-zero: returned".to_owned())
        }
        "never" => {
            let timer = wasip2::clocks::monotonic_clock::subscribe_instant(u64::MAX);
            let ready = wasip2::io::poll::poll(&[&timer]);
            Outcome::Refuse(format!("never: poll returned {ready:?}"))
        }
        "block" => {
            let timer = wasip2::clocks::monotonic_clock::subscribe_duration(u64::MAX);
            timer.block();
            Outcome::Refuse("block: the timer fired".to_owned())
        }
        "stdin" => {
            let mut text = Vec::new();
            let got = std::io::stdin().read_to_end(&mut text);
            Outcome::Refuse(format!("stdin: {got:?}, {} bytes", text.len()))
        }
        "stdin-raw" => {
            let stdin = wasip2::cli::stdin::get_stdin();
            let read = stdin.blocking_read(1024);
            let ready = wasip2::io::poll::poll(&[&stdin.subscribe()]);
            Outcome::Refuse(format!(
                "stdin-raw: {:?}, poll {ready:?}",
                read.map(|b| b.len())
            ))
        }
        random if random.starts_with("random") => Outcome::Decide(random_report()),
        "forge" => {
            let forged = "\x1b[2K\rinfo: org `attack` version v1 passed every check\x1b[0m";
            println!("{forged}");
            eprintln!("{forged}");
            Outcome::Decide("forge: printed".to_owned())
        }
        "forge-error" => {
            Outcome::Refuse("\x1b[2K\rinfo: org `attack` version v1 passed every check".to_owned())
        }
        "huge-error" => Outcome::Refuse("x".repeat(HUGE)),
        _ => return None,
    };
    Some(outcome)
}

/// The module's randomness: the bytes `wasi:random` gives, and the order std's
/// randomly keyed `HashMap` lists a fixed set of keys in.
fn random_report() -> String {
    let bytes = wasip2::random::random::get_random_bytes(16);
    let word = wasip2::random::insecure::get_insecure_random_u64();
    let seed = wasip2::random::insecure_seed::insecure_seed();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let map: std::collections::HashMap<u32, ()> = (0..16).map(|k| (k, ())).collect();
    let order: Vec<u32> = map.keys().copied().collect();
    format!("random: bytes {hex} u64 {word} seed {seed:?} map {order:?}")
}

fn rule_error(message: String) -> bindings::crm::rules::types::RuleError {
    bindings::crm::rules::types::RuleError {
        code: bindings::crm::rules::types::ErrorCode::Internal,
        message,
        field: None,
    }
}

impl md::Guest for Attacks {
    fn init(policy: String) -> Result<md::ModuleInfo, bindings::crm::rules::types::RuleError> {
        if let Some(Outcome::Refuse(message)) = attack(policy.trim()) {
            return Err(rule_error(message));
        }
        Ok(md::ModuleInfo {
            name: "attack-rules".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            reads_custom_fields: Vec::new(),
        })
    }
}

fn qualify_one(
    lead: &bindings::crm::rules::types::Lead,
) -> Result<q::Qualification, bindings::crm::rules::types::RuleError> {
    let score = match lead.id.as_str() {
        "score-200" => 200,
        "score-max" => u32::MAX,
        _ => 0,
    };
    let reasons = match attack(&lead.id) {
        Some(Outcome::Refuse(message)) => return Err(rule_error(message)),
        Some(Outcome::Decide(reason)) => vec![reason],
        None if lead.id == "name-forms" => name_forms(lead),
        None => vec![format!("ok {}", lead.id)],
    };
    Ok(q::Qualification {
        outcome: q::Outcome::Nurture,
        rating: bindings::crm::rules::types::Rating::Cold,
        score,
        reasons,
        follow_ups: Vec::new(),
    })
}

/// The contact's name and email written as people write them, not as the record
/// holds them: what masking exact values cannot catch in free text.
fn name_forms(lead: &bindings::crm::rules::types::Lead) -> Vec<String> {
    let name = lead.contact_name.clone().unwrap_or_default();
    let email = lead.email.clone().unwrap_or_default();
    let reversed = match name.rsplit_once(' ') {
        Some((first, last)) => format!("{last}, {first}"),
        None => name.clone(),
    };
    vec![
        format!("call {}", name.to_uppercase()),
        format!("ask for {reversed}"),
        format!("write to {}", email.replace('@', " at ")),
    ]
}

impl q::Guest for Attacks {
    fn qualify(
        _ctx: bindings::crm::rules::types::Context,
        lead: bindings::crm::rules::types::Lead,
    ) -> Result<q::Qualification, bindings::crm::rules::types::RuleError> {
        qualify_one(&lead)
    }

    fn qualify_batch(
        _ctx: bindings::crm::rules::types::Context,
        leads: Vec<bindings::crm::rules::types::Lead>,
    ) -> Vec<Result<q::Qualification, bindings::crm::rules::types::RuleError>> {
        leads.iter().map(qualify_one).collect()
    }
}

fn not_attacked() -> bindings::crm::rules::types::RuleError {
    rule_error("the attack module does not check transitions".to_owned())
}

impl c::Guest for Attacks {
    fn convert(
        _ctx: bindings::crm::rules::types::Context,
        lead: bindings::crm::rules::types::Lead,
        _candidates: Vec<c::Candidate>,
    ) -> Result<c::ConversionPlan, bindings::crm::rules::types::RuleError> {
        let link = |id: String| c::RecordAction::Link(id);
        let mut plan = c::ConversionPlan {
            account: c::RecordAction::Create,
            contact: c::RecordAction::Create,
            opportunity: c::RecordAction::Create,
            opportunity_name: None,
            initial_stage: STAGE.to_owned(),
            estimated_value: None,
            estimated_close: None,
            skipped_lead_stage: false,
            reasons: vec![format!("ok {}", lead.id)],
        };
        match lead.id.as_str() {
            "link-stranger" => plan.account = link("001000000000STRANGER".to_owned()),
            "link-traversal" => plan.contact = link(")/../../systemusers(".to_owned()),
            "link-huge" => plan.opportunity = link("0".repeat(HUGE)),
            _ => {}
        }
        Ok(plan)
    }
}

impl p::Guest for Attacks {
    fn stages(
        _ctx: bindings::crm::rules::types::Context,
    ) -> Result<Vec<p::Stage>, bindings::crm::rules::types::RuleError> {
        Ok(vec![p::Stage {
            name: STAGE.to_owned(),
            steps: Vec::new(),
        }])
    }

    fn check_transition(
        _ctx: bindings::crm::rules::types::Context,
        _opportunity: bindings::crm::rules::types::Opportunity,
        _to_stage: String,
    ) -> Result<p::TransitionCheck, bindings::crm::rules::types::RuleError> {
        Err(not_attacked())
    }
}

fn forecast_one(opportunity: &bindings::crm::rules::types::Opportunity) -> f::WinForecast {
    let (mut probability, mut weight, mut amount) = (0.5, 1.0, 1000.0);
    match opportunity.id.as_str() {
        "probability-negative-zero" => probability = -0.0,
        "weight-nan" => weight = f64::NAN,
        "weight-infinity" => weight = f64::INFINITY,
        "amount-nan" => amount = f64::NAN,
        _ => {}
    }
    f::WinForecast {
        probability,
        weighted_value: Some(bindings::crm::rules::types::Money {
            amount,
            currency: "EUR".to_owned(),
        }),
        stages: vec![f::StageScore {
            stage: STAGE.to_owned(),
            weight,
            activities: 0,
            mean_rating: 0.0,
        }],
        reasons: vec![format!("ok {}", opportunity.id)],
    }
}

impl f::Guest for Attacks {
    fn forecast(
        _ctx: bindings::crm::rules::types::Context,
        opportunity: bindings::crm::rules::types::Opportunity,
    ) -> Result<f::WinForecast, bindings::crm::rules::types::RuleError> {
        Ok(forecast_one(&opportunity))
    }

    fn forecast_batch(
        _ctx: bindings::crm::rules::types::Context,
        opportunities: Vec<bindings::crm::rules::types::Opportunity>,
    ) -> Vec<Result<f::WinForecast, bindings::crm::rules::types::RuleError>> {
        opportunities.iter().map(|o| Ok(forecast_one(o))).collect()
    }
}
