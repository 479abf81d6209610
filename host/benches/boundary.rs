//! The cost of crossing into a rule module, by boundary shape.
//!
//! Run with `cargo bench -p crm-rules --bench boundary`. Prints the median time per
//! qualified lead for: the reference rules called natively; one component call per
//! lead; one batch call per 1,000 leads; and both call shapes when the module reads
//! all 20 custom fields of the lead (what a contract that copies the whole record
//! would pay) instead of the 2 it needs (the input query); and a fresh instance
//! for every call (`per_call` isolation) instead of a reused one.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crm_rules::model::{
    BudgetStatus, Context, Engagement, FieldValue, Lead, LeadSource, Money, Need, Timeframe,
};
use crm_rules::{Host, Limits, REFERENCE_MODULE};
use guest_rules::RuleModule as _;

const POLICY: &str = include_str!("../../examples/strict/policy.json");

/// A realistic lead: the contract's fields plus 20 custom text fields, as a CRM
/// record of ~30 fields would bring.
fn lead(i: usize) -> Lead {
    let mut custom = std::collections::BTreeMap::new();
    for f in 0..18 {
        custom.insert(
            format!("new_field_{f:02}"),
            FieldValue::Text(format!("value of custom field {f} on lead {i}")),
        );
    }
    custom.insert(
        "new_industry".to_owned(),
        FieldValue::Text("Government".to_owned()),
    );
    custom.insert("new_employees".to_owned(), FieldValue::Number(2500.0));
    Lead {
        id: format!("L-{i:07}"),
        company: Some("Northwind Traders".to_owned()),
        contact_name: Some("Robin Meyer".to_owned()),
        email: Some("robin.meyer@northwind.example".to_owned()),
        topic: Some("Fleet telematics for 400 vans".to_owned()),
        source: Some(LeadSource::WebForm),
        engagement: Engagement::Conversation,
        budget: Some(Money {
            amount: 120_000.0,
            currency: "EUR".to_owned(),
        }),
        budget_status: Some(BudgetStatus::CanBuy),
        decision_maker_known: Some(true),
        need: Some(Need::MustHave),
        timeframe: Some(Timeframe::ThisQuarter),
        estimated_value: None,
        estimated_close: None,
        existing_customer: false,
        custom,
    }
}

/// A policy whose custom rules read every custom field of [`lead`].
fn greedy_policy() -> String {
    let mut policy: serde_json::Value = serde_json::from_str(POLICY).expect("example policy");
    let rules = policy["qualification"]["custom_rules"]
        .as_array_mut()
        .expect("custom rules");
    for f in 0..18 {
        rules.push(serde_json::json!({
            "field": format!("new_field_{f:02}"), "equals": "never", "points": 1
        }));
    }
    policy.to_string()
}

/// Median over `rounds` of the time per item of `run`, which handles `items` items.
fn median(rounds: usize, items: usize, mut run: impl FnMut()) -> Duration {
    run(); // warm up
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed() / items as u32
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

fn main() {
    let ctx = |org: &str| Context {
        org_id: org.to_owned(),
        now: "2026-11-25T09:00:00Z".parse().expect("instant"),
        user: None,
        team: None,
    };
    let leads: Vec<Lead> = (0..1000).map(lead).collect();
    let host = Host::new().expect("engine");
    host.load("lean", REFERENCE_MODULE, POLICY, Limits::default())
        .expect("load");
    host.load(
        "greedy",
        REFERENCE_MODULE,
        &greedy_policy(),
        Limits::default(),
    )
    .expect("load");
    let per_call = Limits {
        isolation: crm_rules::Isolation::PerCall,
        ..Limits::default()
    };
    host.load("fresh", REFERENCE_MODULE, POLICY, per_call)
        .expect("load");
    let native = guest_rules::Reference::init(POLICY).expect("policy");
    let (lean, greedy, fresh) = (ctx("lean"), ctx("greedy"), ctx("fresh"));

    // `cargo bench --bench boundary -- WORD` runs only the rows whose name has WORD.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    type Row<'a> = (&'a str, Box<dyn FnMut() + 'a>);
    let rows: Vec<Row> = vec![
        (
            "native rules (no sandbox)",
            Box::new(|| {
                for l in &leads {
                    black_box(native.qualify(&lean, black_box(l)).expect("ok"));
                }
            }),
        ),
        (
            "component, call per lead, reads 2 custom fields",
            Box::new(|| {
                for l in &leads {
                    black_box(host.qualify(&lean, l).expect("ok"));
                }
            }),
        ),
        (
            "component, call per lead, reads all 20 custom fields",
            Box::new(|| {
                for l in &leads {
                    black_box(host.qualify(&greedy, l).expect("ok"));
                }
            }),
        ),
        (
            "component, fresh instance per call (per_call isolation)",
            Box::new(|| {
                for l in &leads {
                    black_box(host.qualify(&fresh, l).expect("ok"));
                }
            }),
        ),
        (
            "component, batch of 1000, reads 2 custom fields",
            Box::new(|| {
                black_box(host.qualify_batch(&lean, &leads).expect("ok"));
            }),
        ),
        (
            "component, batch of 1000, reads all 20 custom fields",
            Box::new(|| {
                black_box(host.qualify_batch(&greedy, &leads).expect("ok"));
            }),
        ),
    ];
    println!("qualify, median per lead over 21 rounds of 1000 leads");
    for (name, mut run) in rows {
        if only.as_deref().is_some_and(|word| !name.contains(word)) {
            continue;
        }
        let time = median(21, leads.len(), &mut run);
        println!("{name:<55} {:>10.2} us", time.as_secs_f64() * 1e6);
    }
}
