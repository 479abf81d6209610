//! crm-rules side by side with its alternatives, in the same run: the reference
//! rules compiled natively (the guest crate called as a Rust library) and GoRules
//! zen-engine evaluating an equivalent decision model.
//!
//! ```sh
//! cargo run --release --manifest-path bench/Cargo.toml --target-dir target -- [SECTION...]
//! ```
//!
//! Sections: `warm`, `isolated`, `batch`, `cold`, `memory` (default: all). Every
//! figure is a median; BENCHMARKS.md explains each one and reports a run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crm_rules::model::{
    Activity, ActivityKind, BudgetStatus, Candidate, Context, Engagement, FieldValue, Lead,
    LeadSource, Money, Need, Opportunity, RecordKind, Timeframe,
};
use crm_rules::{EngineSettings, Host, Isolation, Limits, REFERENCE_MODULE};
use guest_rules::RuleModule as _;
use serde_json::{json, Value};

// The same allocator as the crm-rules program, so pipelines compare like for like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POLICY: &str = include_str!("../../examples/strict/policy.json");

fn ctx(org: &str) -> Context {
    Context {
        org_id: org.to_owned(),
        now: "2026-11-25T09:00:00Z".parse().expect("instant"),
        user: None,
        team: None,
    }
}

/// The realistic lead: the contract's 15 fields filled plus 15 custom fields (two
/// of which the strict policy reads), ~30 fields as a CRM record brings them.
fn lead(i: usize) -> Lead {
    let mut custom = std::collections::BTreeMap::new();
    for f in 0..13 {
        custom.insert(
            format!("new_field_{f:02}"),
            FieldValue::Text(format!("value of custom field {f} on lead {i}")),
        );
    }
    custom.insert("new_industry".into(), FieldValue::Text("Government".into()));
    custom.insert("new_employees".into(), FieldValue::Number(2500.0));
    let sources = [
        LeadSource::WebForm,
        LeadSource::Partner,
        LeadSource::TradeShow,
    ];
    Lead {
        id: format!("L-{i:07}"),
        company: Some("Northwind Traders".into()),
        contact_name: Some("Robin Meyer".into()),
        email: Some("robin.meyer@northwind.example".into()),
        topic: Some("Fleet telematics for 400 vans".into()),
        source: Some(sources[i % 3]),
        engagement: Engagement::Conversation,
        budget: Some(Money {
            amount: 120_000.0,
            currency: "EUR".into(),
        }),
        budget_status: Some(if i.is_multiple_of(2) {
            BudgetStatus::CanBuy
        } else {
            BudgetStatus::MayBuy
        }),
        decision_maker_known: Some(!i.is_multiple_of(5)),
        need: Some(Need::MustHave),
        timeframe: Some(Timeframe::ThisQuarter),
        estimated_value: Some(Money {
            amount: 90_000.0,
            currency: "EUR".into(),
        }),
        estimated_close: "2027-03-31".parse().ok(),
        existing_customer: false,
        custom,
    }
}

/// An opportunity in Propose with 20 activities across the four stages.
fn opportunity(i: usize) -> Opportunity {
    let stages = ["Qualify", "Develop", "Propose", "Close"];
    let kinds = [
        ActivityKind::Call,
        ActivityKind::Meeting,
        ActivityKind::Email,
        ActivityKind::Task,
    ];
    Opportunity {
        id: format!("O-{i:07}"),
        name: "Fleet telematics".into(),
        stage: "Propose".into(),
        amount: Some(Money {
            amount: 90_000.0,
            currency: "EUR".into(),
        }),
        close_date: "2027-03-31".parse().ok(),
        filled: [
            "parentcontactid",
            "parentaccountid",
            "purchasetimeframe",
            "budgetamount",
            "purchaseprocess",
            "decisionmaker",
            "description",
            "customerneed",
            "proposedsolution",
            "identifycustomercontacts",
            "identifycompetitors",
        ]
        .map(String::from)
        .to_vec(),
        activities: (0..20)
            .map(|a| Activity {
                id: format!("A-{i}-{a}"),
                kind: kinds[a % 4],
                stage: stages[(a * 3 / 20).min(2)].into(),
                rating: (1 + (a + i) % 5) as u8,
                completed: a < 17,
                on: "2026-10-01".parse().ok(),
            })
            .collect(),
        custom: Default::default(),
    }
}

fn candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            id: "A-1".into(),
            kind: RecordKind::Account,
            name: "Northwind Traders".into(),
            email: None,
            active: false,
            account_id: None,
        },
        Candidate {
            id: "C-1".into(),
            kind: RecordKind::Contact,
            name: "Robin Meyer".into(),
            email: Some("robin.meyer@northwind.example".into()),
            active: true,
            account_id: Some("A-1".into()),
        },
        Candidate {
            id: "O-1".into(),
            kind: RecordKind::Opportunity,
            name: "Old deal".into(),
            email: None,
            active: false,
            account_id: Some("A-1".into()),
        },
    ]
}

/// Median of `rounds` rounds of the time per item of `run` (which does `items`).
fn per_item(rounds: usize, items: usize, mut run: impl FnMut()) -> Duration {
    run();
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

fn us(d: Duration) -> String {
    format!("{:.3} us", d.as_secs_f64() * 1e6)
}

fn row(name: &str, ours: Duration, others: &[(&str, Duration)]) {
    let mut line = format!("{name:<44} {:>12}", us(ours));
    for (label, other) in others {
        line.push_str(&format!(
            "   {label} {:>10} ({:.2}x ours)",
            us(*other),
            other.as_secs_f64() / ours.as_secs_f64()
        ));
    }
    println!("{line}");
}

// ---- zen-engine -----------------------------------------------------------------

/// The strict policy's qualification as a JDM graph: an expression node sums the
/// points (the same table of points per source, engagement, budget, authority,
/// need, timeframe and the two custom rules), two first-hit decision tables give
/// the outcome and the rating.
fn zen_qualification() -> zen_engine::Decision {
    let points = |field: &str, table: &[(&str, u32)]| -> String {
        let mut expr = String::new();
        for (value, p) in table {
            expr.push_str(&format!("{field} == \"{value}\" ? {p} : "));
        }
        expr.push('0');
        expr
    };
    let source = points(
        "source",
        &[
            ("web_form", 30),
            ("phone_inquiry", 25),
            ("employee_referral", 25),
            ("external_referral", 20),
            ("partner", 20),
            ("word_of_mouth", 15),
            ("seminar", 15),
            ("advertisement", 10),
            ("public_relations", 10),
            ("trade_show", 10),
            ("other", 5),
        ],
    );
    let engagement = points(
        "engagement",
        &[
            ("content", 5),
            ("inquiry", 10),
            ("conversation", 15),
            ("evaluation", 25),
            ("proposal", 30),
            ("contract", 35),
        ],
    );
    let budget = points(
        "budget_status",
        &[("may_buy", 5), ("can_buy", 10), ("will_buy", 15)],
    );
    let need = points(
        "need",
        &[("must_have", 15), ("should_have", 10), ("good_to_have", 5)],
    );
    let timeframe = points(
        "timeframe",
        &[
            ("immediate", 15),
            ("this_quarter", 12),
            ("next_quarter", 8),
            ("this_year", 4),
        ],
    );
    let score = format!(
        "min([100, ({source}) + ({engagement}) + ({budget}) + (decision_maker_known == true ? 10 : 0) \
         + ({need}) + ({timeframe}) + (existing_customer == true ? 10 : 0) \
         + (new_industry == \"Government\" ? 5 : 0) + (new_employees >= 1000 ? 5 : 0)])"
    );
    let known = "budget_status != null and decision_maker_known == true and need != null \
                 and timeframe != null and timeframe != \"unknown\"";
    let graph = json!({
        "nodes": [
            { "id": "in", "name": "lead", "type": "inputNode", "content": {} },
            { "id": "score", "name": "score", "type": "expressionNode", "content": {
                "passThrough": true,
                "expressions": [
                    { "id": "x1", "key": "score", "value": score },
                    { "id": "x2", "key": "known", "value": known }
                ] } },
            { "id": "outcome", "name": "outcome", "type": "decisionTableNode", "content": {
                "hitPolicy": "first", "passThrough": true,
                "inputs": [
                    { "id": "n", "name": "Need", "field": "need" },
                    { "id": "k", "name": "Known", "field": "known" },
                    { "id": "s", "name": "Score", "field": "score" }
                ],
                "outputs": [ { "id": "o", "name": "Outcome", "field": "outcome" } ],
                "rules": [
                    { "_id": "r1", "n": "\"no_need\"", "k": "", "s": "", "o": "\"disqualified\"" },
                    { "_id": "r2", "n": "", "k": "false", "s": "", "o": "\"needs_information\"" },
                    { "_id": "r3", "n": "", "k": "", "s": ">= 60", "o": "\"qualified\"" },
                    { "_id": "r4", "n": "", "k": "", "s": "", "o": "\"nurture\"" }
                ] } },
            { "id": "rating", "name": "rating", "type": "decisionTableNode", "content": {
                "hitPolicy": "first", "passThrough": true,
                "inputs": [ { "id": "s", "name": "Score", "field": "score" } ],
                "outputs": [ { "id": "r", "name": "Rating", "field": "rating" } ],
                "rules": [
                    { "_id": "h", "s": ">= 70", "r": "\"hot\"" },
                    { "_id": "w", "s": ">= 40", "r": "\"warm\"" },
                    { "_id": "c", "s": "", "r": "\"cold\"" }
                ] } },
            { "id": "out", "name": "out", "type": "outputNode", "content": {} }
        ],
        "edges": [
            { "id": "e1", "sourceId": "in", "targetId": "score" },
            { "id": "e2", "sourceId": "score", "targetId": "outcome" },
            { "id": "e3", "sourceId": "outcome", "targetId": "rating" },
            { "id": "e4", "sourceId": "rating", "targetId": "out" }
        ]
    });
    decision_of(graph)
}

/// The activity-weighted forecast as a JDM graph: one expression per stage (count
/// and mean rating of its completed activities), then the weighted sum.
fn zen_forecast() -> zen_engine::Decision {
    let weights = [
        ("Qualify", 1.0),
        ("Develop", 2.0),
        ("Propose", 3.0),
        ("Close", 4.0),
    ];
    let mut expressions = Vec::new();
    let mut total = Vec::new();
    for (i, (stage, weight)) in weights.iter().enumerate() {
        let done = format!("filter(activities, #.stage == \"{stage}\" and #.completed)");
        expressions.push(json!({ "id": format!("n{i}"), "key": format!("n{i}"), "value": format!("len({done})") }));
        expressions.push(json!({ "id": format!("m{i}"), "key": format!("m{i}"),
            "value": format!("$.n{i} > 0 ? sum(map({done}, (#.rating - 1) / 4)) / $.n{i} : 0") }));
        total.push(format!("{weight} * $.m{i}"));
    }
    let sum_weights: f64 = weights.iter().map(|(_, w)| w).sum();
    expressions.push(json!({ "id": "p", "key": "probability", "value": format!("({}) / {sum_weights}", total.join(" + ")) }));
    expressions
        .push(json!({ "id": "v", "key": "weighted_value", "value": "amount * $.probability" }));
    let graph = json!({
        "nodes": [
            { "id": "in", "name": "opportunity", "type": "inputNode", "content": {} },
            { "id": "f", "name": "forecast", "type": "expressionNode", "content": {
                "passThrough": false, "expressions": expressions } },
            { "id": "out", "name": "out", "type": "outputNode", "content": {} }
        ],
        "edges": [
            { "id": "e1", "sourceId": "in", "targetId": "f" },
            { "id": "e2", "sourceId": "f", "targetId": "out" }
        ]
    });
    decision_of(graph)
}

fn decision_of(graph: Value) -> zen_engine::Decision {
    let content: zen_engine::model::DecisionContent =
        serde_json::from_value(graph).expect("a valid JDM graph");
    let mut decision = match content {
        zen_engine::model::DecisionContent::Graph(graph) => zen_engine::Decision::from(graph),
        zen_engine::model::DecisionContent::Policy(_) => unreachable!("a graph"),
    };
    decision.compile();
    decision
}

fn zen_lead(l: &Lead) -> Value {
    let custom = |name: &str| match l.custom.get(name) {
        Some(FieldValue::Text(t)) => json!(t),
        Some(FieldValue::Number(n)) => json!(n),
        _ => Value::Null,
    };
    json!({
        "source": l.source.map(|s| s.as_str()),
        "engagement": l.engagement.as_str(),
        "budget_status": l.budget_status.map(|s| s.as_str()),
        "decision_maker_known": l.decision_maker_known,
        "need": l.need.map(|s| s.as_str()),
        "timeframe": l.timeframe.map(|s| s.as_str()),
        "existing_customer": l.existing_customer,
        "new_industry": custom("new_industry"),
        "new_employees": custom("new_employees"),
    })
}

fn zen_opportunity(o: &Opportunity) -> Value {
    json!({
        "amount": o.amount.as_ref().map(|m| m.amount),
        "activities": o.activities.iter().map(|a| json!({
            "stage": a.stage, "rating": a.rating, "completed": a.completed
        })).collect::<Vec<_>>()
    })
}

fn block_on<F: std::future::Future>(rt: &tokio::runtime::Runtime, f: F) -> F::Output {
    rt.block_on(f)
}

// ---- sections -------------------------------------------------------------------

fn warm() {
    println!("\n## Per decision, warm (instance reused, default limits), median of 21 rounds");
    let host = Host::new().expect("engine");
    host.load("strict", REFERENCE_MODULE, POLICY, Limits::default())
        .expect("load");
    let c = ctx("strict");
    let native = guest_rules::Reference::init(POLICY).expect("policy");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let leads: Vec<Lead> = (0..1000).map(lead).collect();
    let opportunities: Vec<Opportunity> = (0..200).map(opportunity).collect();
    let cands = candidates();

    // zen's answer on the same lead must be ours, or the comparison is void.
    let zq = zen_qualification();
    for l in leads.iter().take(20) {
        let ours = native.qualify(&c, l).expect("ok");
        let theirs = block_on(&rt, zq.evaluate(zen_lead(l).into()))
            .expect("zen")
            .result
            .to_value();
        assert_eq!(
            theirs["score"].as_f64(),
            Some(f64::from(ours.score)),
            "score of {}",
            l.id
        );
        assert_eq!(theirs["rating"], ours.rating.as_str(), "rating of {}", l.id);
        let outcome = serde_json::to_value(&ours).expect("json")["outcome"].clone();
        assert_eq!(theirs["outcome"], outcome, "outcome of {}", l.id);
    }
    let zf = zen_forecast();
    for o in opportunities.iter().take(20) {
        let ours = native.forecast(&c, o).expect("ok");
        let theirs = block_on(&rt, zf.evaluate(zen_opportunity(o).into()))
            .expect("zen")
            .result
            .to_value();
        let p = theirs["probability"].as_f64().expect("probability");
        assert!(
            (p - ours.probability).abs() < 1e-4,
            "{p} vs {}",
            ours.probability
        );
    }
    // zen takes its input as its own `Variable`; building it from JSON is part of
    // its cost, as building the WIT record is part of ours.
    let zen_inputs: Vec<Value> = leads.iter().map(zen_lead).collect();
    let zen_opps: Vec<Value> = opportunities.iter().map(zen_opportunity).collect();

    let n = leads.len();
    let ours = per_item(21, n, || {
        for l in &leads {
            black_box(host.qualify(&c, l).expect("ok"));
        }
    });
    let nat = per_item(21, n, || {
        for l in &leads {
            black_box(native.qualify(&c, l).expect("ok"));
        }
    });
    let zen = per_item(21, n, || {
        for v in &zen_inputs {
            black_box(block_on(&rt, zq.evaluate(v.clone().into())).expect("zen"));
        }
    });
    row(
        "qualify (lead of ~30 fields)",
        ours,
        &[("native", nat), ("zen-engine", zen)],
    );
    let batch = per_item(21, n, || {
        black_box(host.qualify_batch(&c, &leads).expect("ok"));
    });
    row(
        "qualify, batch call of 1,000",
        batch,
        &[("native", nat), ("zen-engine", zen)],
    );

    // Conversion is asked of qualified leads.
    let qualified: Vec<Lead> = leads
        .iter()
        .filter(|l| l.decision_maker_known == Some(true))
        .cloned()
        .collect();
    let q = qualified.len();
    let ours = per_item(21, q, || {
        for l in &qualified {
            black_box(host.convert(&c, l, &cands).expect("ok"));
        }
    });
    let nat = per_item(21, q, || {
        for l in &qualified {
            black_box(native.convert(&c, l, &cands).expect("ok"));
        }
    });
    row("convert (lead + 3 candidates)", ours, &[("native", nat)]);

    let m = opportunities.len();
    let ours = per_item(21, m, || {
        for o in &opportunities {
            black_box(host.check_transition(&c, o, "Close").expect("ok"));
        }
    });
    let nat = per_item(21, m, || {
        for o in &opportunities {
            black_box(native.check_transition(&c, o, "Close").expect("ok"));
        }
    });
    row(
        "transition (20 activities, to Close)",
        ours,
        &[("native", nat)],
    );

    let ours = per_item(21, m, || {
        for o in &opportunities {
            black_box(host.forecast(&c, o).expect("ok"));
        }
    });
    let nat = per_item(21, m, || {
        for o in &opportunities {
            black_box(native.forecast(&c, o).expect("ok"));
        }
    });
    let zen = per_item(21, m, || {
        for v in &zen_opps {
            black_box(block_on(&rt, zf.evaluate(v.clone().into())).expect("zen"));
        }
    });
    row(
        "forecast (20 activities)",
        ours,
        &[("native", nat), ("zen-engine", zen)],
    );
    let batch = per_item(21, m, || {
        black_box(host.forecast_batch(&c, &opportunities).expect("ok"));
    });
    row(
        "forecast, batch call of 200",
        batch,
        &[("native", nat), ("zen-engine", zen)],
    );
}

fn isolated() {
    println!(
        "\n## Per decision, isolated (fresh instance per call, pooling allocator, all limits on)"
    );
    let host = Host::new().expect("engine");
    let limits = Limits {
        isolation: Isolation::PerCall,
        ..Limits::default()
    };
    host.load("fresh", REFERENCE_MODULE, POLICY, limits)
        .expect("load");
    let c = ctx("fresh");
    let leads: Vec<Lead> = (0..200).map(lead).collect();
    for l in &leads {
        host.qualify(&c, l).expect("ok");
    }
    let mut times: Vec<Duration> = Vec::with_capacity(2000);
    for _ in 0..10 {
        for l in &leads {
            let start = Instant::now();
            black_box(host.qualify(&c, l).expect("ok"));
            times.push(start.elapsed());
        }
    }
    times.sort();
    let pct = |p: usize| times[times.len() * p / 100];
    println!(
        "qualify, fresh instance: median {}   p90 {}   p99 {}   ({} calls)",
        us(pct(50)),
        us(pct(90)),
        us(pct(99)),
        times.len()
    );
}

fn cold() {
    println!("\n## Cold start: loading the reference module (621 KiB) with the strict policy");
    let dir = std::env::temp_dir().join(format!("crm-rules-bench-cache-{}", std::process::id()));
    let cached = EngineSettings {
        cache_dir: Some(dir.clone()),
        ..EngineSettings::default()
    };
    let load = |settings: &EngineSettings| {
        let host = Host::with_settings(settings).expect("host");
        let start = Instant::now();
        host.load("org", REFERENCE_MODULE, POLICY, Limits::default())
            .expect("load");
        start.elapsed()
    };
    let mut compile: Vec<Duration> = (0..3).map(|_| load(&EngineSettings::default())).collect();
    load(&cached);
    let mut from_cache: Vec<Duration> = (0..21).map(|_| load(&cached)).collect();
    compile.sort();
    from_cache.sort();
    println!("first compile      median {}", us(compile[1]));
    println!("precompiled cache  median {}", us(from_cache[10]));
    // A second org with the same module in the same process shares the compiled code.
    let host = Host::with_settings(&cached).expect("host");
    host.load("org-0", REFERENCE_MODULE, POLICY, Limits::default())
        .expect("load");
    let mut shared: Vec<Duration> = (1..22)
        .map(|i| {
            let start = Instant::now();
            host.load(
                &format!("org-{i}"),
                REFERENCE_MODULE,
                POLICY,
                Limits::default(),
            )
            .expect("load");
            start.elapsed()
        })
        .collect();
    shared.sort();
    println!(
        "same module, another org, same process  median {}",
        us(shared[10])
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn memory() {
    println!("\n## Memory: resident set with 1 and with 1,000 orgs loaded (one decided lead each)");
    let base = rss_kib();
    let dir = std::env::temp_dir().join(format!("crm-rules-bench-mem-{}", std::process::id()));
    let host = Host::with_settings(&EngineSettings {
        cache_dir: Some(dir.clone()),
        ..EngineSettings::default()
    })
    .expect("host");
    let policy: Value = serde_json::from_str(POLICY).expect("policy");
    let l = lead(1);
    let report = |n: usize| {
        println!(
            "{n:>5} orgs: {:>8.1} MiB resident ({:.1} MiB over an empty process)",
            rss_kib() as f64 / 1024.0,
            rss_kib().saturating_sub(base) as f64 / 1024.0
        );
    };
    for i in 0..1000 {
        // Each org its own policy (its own name and qualification line).
        let mut p = policy.clone();
        p["name"] = json!(format!("Org {i}"));
        p["qualification"]["qualify_at"] = json!(40 + i % 40);
        let org = format!("org-{i}");
        host.load(&org, REFERENCE_MODULE, &p.to_string(), Limits::default())
            .expect("load");
        host.qualify(&ctx(&org), &l).expect("decided");
        if i == 0 {
            report(1);
        }
    }
    report(1000);
    let _ = std::fs::remove_dir_all(dir);
}

/// One Salesforce REST Lead of ~30 fields (~800 bytes), BANT in the custom fields
/// the strict org's vocabulary maps.
fn salesforce_lead(i: usize) -> String {
    let sources = [
        "Web",
        "Partner",
        "Trade Show",
        "External Referral",
        "Advertisement",
    ];
    let statuses = ["Open - Not Contacted", "Working - Contacted"];
    let budget = ["No Committed Budget", "May Buy", "Can Buy", "Will Buy"];
    let need = ["Must have", "Should have", "Good to have", "No need"];
    let timeframe = [
        "Immediate",
        "This Quarter",
        "Next Quarter",
        "This Year",
        "Unknown",
    ];
    let id = format!("00Q5g{i:013}");
    json!({
        "attributes": { "type": "Lead", "url": format!("/services/data/v62.0/sobjects/Lead/{id}") },
        "Id": id,
        "FirstName": "Robin", "LastName": format!("Meyer {i}"),
        "Company": format!("Northwind Traders {}", i % 997),
        "Title": "Head of Fleet Operations",
        "Email": format!("robin.meyer{i}@northwind.example"),
        "Phone": "+49 30 1234567", "MobilePhone": "+49 170 7654321",
        "Website": "https://northwind.example",
        "LeadSource": sources[i % sources.len()],
        "Status": statuses[i % 2],
        "Industry": if i.is_multiple_of(7) { "Government" } else { "Transportation" },
        "NumberOfEmployees": 50 + (i * 37) % 5000,
        "AnnualRevenue": 1_000_000 + (i * 7919) % 90_000_000,
        "CurrencyIsoCode": "EUR",
        "Street": "Unter den Linden 1", "City": "Berlin", "State": "Berlin",
        "PostalCode": "10117", "Country": "Germany",
        "Description": "Asked for a demo of fleet telematics after the spring webinar.",
        "Topic__c": "Fleet telematics",
        "Budget__c": 50_000 + (i % 20) * 5_000,
        "Budget_Status__c": budget[i % 4],
        "Decision_Maker_Known__c": !i.is_multiple_of(3),
        "Need__c": need[i % 4],
        "Purchase_Timeframe__c": timeframe[i % 5],
        "IsConverted": false,
        "CreatedDate": "2026-10-01T08:30:00.000+0000",
        "LastModifiedDate": "2026-11-20T16:45:12.000+0000",
        "OwnerId": "0055g00000AbCdEAAZ"
    })
    .to_string()
}

fn generate(n: usize, path: &std::path::Path) {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..n {
        writeln!(out, "{}", salesforce_lead(i)).expect("write");
    }
    out.flush().expect("flush");
}

/// Runs `work` over `items` split across `threads` threads; returns the wall time.
fn parallel<T: Sync>(items: &[T], threads: usize, work: impl Fn(&[T]) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for part in items.chunks(items.len().div_ceil(threads)) {
            let work = &work;
            scope.spawn(move || work(part));
        }
    });
    start.elapsed()
}

fn batch() {
    let n: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("\n## Batch: {n} generated Salesforce leads (JSON lines), {threads} threads");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = std::env::temp_dir().join(format!("crm-rules-bench-leads-{n}.jsonl"));
    if !file.exists() {
        generate(n, &file);
    }
    let bytes = std::fs::metadata(&file).expect("file").len();
    println!(
        "input: {:.0} MiB, {:.0} bytes per record",
        bytes as f64 / 1048576.0,
        bytes as f64 / n as f64
    );
    let text = std::fs::read_to_string(&file).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let org = crm_rules::org::OrgDir::read(&root.join("examples/strict")).expect("strict org");
    let c = ctx(&org.file.org_id);
    // Both pipelines keep the custom fields the rules read, as the program does.
    let keep: std::collections::HashSet<String> =
        ["new_industry", "new_employees"].map(String::from).into();
    let reader = crm_rules::crm::Reader {
        vocabularies: &org.vocabularies,
        today: c.now.date_naive(),
        keep_custom: Some(&keep),
    };
    let read_lead = |line: &str| -> Lead {
        let value: Value = serde_json::from_str(line).expect("json");
        let native = crm_rules::crm::Native::parse(crm_rules::crm::Format::Salesforce, &value)
            .expect("native");
        reader.lead(&native).expect("lead")
    };
    let rate = |d: Duration| {
        format!(
            "{:>10.0} records/s  ({:.2} us per record)",
            n as f64 / d.as_secs_f64(),
            d.as_secs_f64() * 1e6 / n as f64
        )
    };

    // 1. Parsing alone: every line into a serde_json::Value.
    let parse = parallel(&lines, threads, |part| {
        for l in part {
            black_box(serde_json::from_str::<Value>(l).expect("json"));
        }
    });
    println!("parse JSON only                           {}", rate(parse));
    // 2. Parsing and reading into the contract's types (no rules).
    let read = parallel(&lines, threads, |part| {
        for l in part {
            black_box(read_lead(l));
        }
    });
    println!("parse + read into Lead                    {}", rate(read));
    // 3. The native pipeline: parse, read, the same rules compiled natively, decision to JSON.
    let native = guest_rules::Reference::init(POLICY).expect("policy");
    let nat = parallel(&lines, threads, |part| {
        for l in part {
            let q = native.qualify(&c, &read_lead(l)).expect("decided");
            black_box(serde_json::to_string(&q).expect("json"));
        }
    });
    println!("native pipeline (parse, read, rules, JSON){}", rate(nat));
    // 4. Ours, input already parsed: the component in batch calls of 1,000.
    let host = Host::new().expect("engine");
    org.load_into(&host).expect("load");
    let leads: Vec<Lead> = lines.iter().map(|l| read_lead(l)).collect();
    let parsed = parallel(&leads, threads, |part| {
        for chunk in part.chunks(1000) {
            for d in host.qualify_batch(&c, chunk).expect("batch") {
                black_box(serde_json::to_string(&d.expect("decided").value).expect("json"));
            }
        }
    });
    println!("ours, input already parsed (batch calls)  {}", rate(parsed));
    drop(leads);
    // 5. Ours end to end: the program, from the file to decisions on stdout.
    let program = root.join("target/release/crm-rules");
    let start = Instant::now();
    let status = std::process::Command::new(&program)
        .args([
            "--org-dir",
            "examples/strict",
            "--now",
            "2026-11-25T09:00:00Z",
            "qualify",
        ])
        .arg(&file)
        .current_dir(&root)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the crm-rules program (cargo build --release -p crm-rules)");
    let e2e = start.elapsed();
    assert!(status.success(), "crm-rules failed: {status}");
    println!("ours end to end (crm-rules qualify FILE)  {}", rate(e2e));
    println!(
        "ratios: end to end / native pipeline {:.2}x; end to end / parse only {:.2}x",
        e2e.as_secs_f64() / nat.as_secs_f64(),
        e2e.as_secs_f64() / parse.as_secs_f64()
    );
}

/// Calls one decision in a loop for a profiler (`spin qualify|transition|forecast`).
fn spin(what: &str) {
    let host = Host::new().expect("engine");
    host.load("strict", REFERENCE_MODULE, POLICY, Limits::default())
        .expect("load");
    let c = ctx("strict");
    let leads: Vec<Lead> = (0..1000).map(lead).collect();
    let opportunities: Vec<Opportunity> = (0..200).map(opportunity).collect();
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        match what {
            "load" => {
                let dir = std::env::temp_dir().join("crm-rules-bench-spin-cache");
                let cached = EngineSettings {
                    cache_dir: Some(dir),
                    ..EngineSettings::default()
                };
                let h = Host::with_settings(&cached).expect("host");
                black_box(
                    h.load("org", REFERENCE_MODULE, POLICY, Limits::default())
                        .ok(),
                );
            }
            "transition" => opportunities.iter().for_each(|o| {
                black_box(host.check_transition(&c, o, "Close").ok());
            }),
            "forecast" => opportunities.iter().for_each(|o| {
                black_box(host.forecast(&c, o).ok());
            }),
            _ => leads.iter().for_each(|l| {
                black_box(host.qualify(&c, l).ok());
            }),
        }
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("spin") {
        spin(&std::env::args().nth(2).unwrap_or_default());
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wants = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    if wants("warm") {
        warm();
    }
    if wants("isolated") {
        isolated();
    }
    if wants("batch") {
        batch();
    }
    if wants("cold") {
        cold();
    }
    if wants("memory") {
        memory();
    }
}
