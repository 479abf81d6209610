//! Embedding crm-rules in your middleware: load an org folder, decide one lead, a
//! batch, and a record straight from Salesforce's REST API with the requests that
//! apply the decision. Run it from the repository's root:
//!
//! ```sh
//! cargo run --release -p crm-rules --example embed
//! ```

use std::error::Error;
use std::sync::Arc;

use crm_rules::model::Lead;
use crm_rules::pipeline::Emit;
use crm_rules::render::Renderer;
use crm_rules::{DecideOptions, Host, InputRef, Kind, Org};

fn main() -> Result<(), Box<dyn Error>> {
    // One host per process: it compiles each module once and shares it between
    // orgs and threads (it is `Send + Sync`).
    let host = Arc::new(Host::new()?);

    // An org folder: `org.json` names the module, its policy and limits.
    let org = Org::load(host.clone(), "examples/strict".as_ref())?;
    let module = org.info()?;
    println!(
        "org {} runs {} {} ({})",
        org.id(),
        module.info.name,
        module.version,
        module.contract
    );

    // One lead, in the contract's types. The decision time is an input, so the
    // same lead gets the same decision tomorrow.
    let options = DecideOptions::at("2026-11-25T09:00:00Z".parse()?);
    let ctx = org.context(&options);
    let lead: Lead = serde_json::from_str(
        r#"{"id": "L-1", "company": "Northwind", "email": "robin@northwind.example", "source": "web_form",
            "budget_status": "can_buy", "decision_maker_known": true,
            "need": "must_have", "timeframe": "this_quarter"}"#,
    )?;
    let decided = host.qualify(&ctx, &lead)?;
    // Reasons come back as codes; render them when a person reads them.
    let text = Renderer::new(&decided.facts, InputRef::Qualify(&lead)).qualification(&decided);
    println!(
        "L-1: {} (by version {})",
        serde_json::to_string(&text)?,
        decided.by.version
    );

    // A batch, as JSON lines: one call into the module for all of them, one
    // output line per record in input order. A record that cannot be read gets an
    // error line of its own; the others are decided.
    let batch = br#"{"id": "L-2", "email": "kim@contoso.example", "source": "trade_show", "budget_status": "no_committed_budget"}
{"id": "L-3", "email": "lee@fabrikam.example", "source": "web_form", "timeframe": "immediate", "need": "must_have"}
{"id": "L-4", "budget_status": 7}
"#;
    let output = org.decide(Kind::Qualify, batch, &options)?;
    print!("{}", String::from_utf8_lossy(&output.text));
    for failure in &output.failures {
        println!("  record {} failed: {}", failure.position, failure.error);
    }

    // A Salesforce SOQL response as the API returns it, and the requests that
    // apply each decision in Salesforce.
    let salesforce = std::fs::read("examples/native/salesforce-leads.json")?;
    let native = DecideOptions {
        emit: Emit {
            native: true,
            ..Emit::default()
        },
        ..options
    };
    let output = org.decide(Kind::Qualify, &salesforce, &native)?;
    for line in String::from_utf8_lossy(&output.text).lines() {
        let line: serde_json::Value = serde_json::from_str(line)?;
        let requests = line["actions"].as_array().map_or(0, Vec::len);
        println!(
            "{}: {} -> {requests} Salesforce request(s)",
            line["id"], line["decision"]["outcome"]
        );
    }
    Ok(())
}
