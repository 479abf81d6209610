//! Native CRM records in, native actions out: Dataverse, Salesforce and HubSpot
//! records through the real program and the real reference module.

use std::process::Output;

use crm_rules::crm::{CrmConfig, Vocabularies};
use crm_rules::decision::Kind;
use crm_rules::org::OrgDir;
use crm_rules::pipeline::{Emit, Pipeline, Reading, Records};
use crm_rules::Host;
use serde_json::{json, Value};
use support::root;

#[path = "support.rs"]
mod support;

/// Runs the program at the fixtures' decision time, compiling the module afresh.
fn cli(args: &[&str], stdin: Option<&str>) -> Output {
    let mut all = vec!["--now", "2026-11-25T09:00:00Z", "--no-cache"];
    all.extend_from_slice(args);
    support::cli(&all, stdin)
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

fn fixture_input(name: &str) -> Value {
    let path = root().join("examples/strict/fixtures").join(name);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
        .expect("fixture JSON");
    doc["input"].clone()
}

#[test]
fn the_same_lead_from_three_crms_gets_the_same_decision() {
    let host = Host::new().expect("host");
    let org = OrgDir::read(&root().join("examples/strict")).expect("strict org");
    org.load_into(&host).expect("load");
    let ctx = crm_rules::model::Context {
        org_id: org.file.org_id.clone(),
        now: "2026-11-25T09:00:00Z".parse().expect("instant"),
        user: None,
        team: None,
    };
    let pipeline = Pipeline {
        decider: &host,
        ctx: &ctx,
        reading: Reading {
            kind: Kind::Qualify,
            format: None,
            vocabularies: &org.vocabularies,
            to: None,
            keep_custom: None,
            today: ctx.now.date_naive(),
        },
        emit: Emit::default(),
        audit: None,
        source_name: "fixture",
    };
    let decisions: Vec<Value> = [
        "32-native-dataverse-lead.json",
        "33-native-salesforce-lead.json",
        "34-native-hubspot-contact.json",
    ]
    .iter()
    .map(|name| {
        let text = fixture_input(name).to_string();
        let records = Records::of_text(&text).expect("records");
        let output = pipeline.run(&records).expect("the org is loaded");
        assert_eq!(output.failed, 0, "{name}: {:?}", output.failures);
        let line: Value = serde_json::from_slice(&output.text).expect("one line");
        line["decision"].clone()
    })
    .collect();
    assert_eq!(decisions[0]["outcome"], "qualified");
    assert_eq!(
        decisions[0], decisions[1],
        "Dataverse and Salesforce differ"
    );
    assert_eq!(decisions[0], decisions[2], "Dataverse and HubSpot differ");
}

/// The service answered 500 for every record of a request whose org was unloaded
/// meanwhile: the pipeline turned the batch's error into one per record, as an
/// internal error. The org's absence is now the run's error, as itself.
#[test]
fn a_batch_for_an_org_that_is_gone_fails_as_itself_not_per_record() {
    let host = Host::new().expect("host");
    let vocabularies = crm_rules::crm::Vocabularies::default();
    let ctx = support::ctx("nobody-here");
    let pipeline = Pipeline {
        decider: &host,
        ctx: &ctx,
        reading: Reading {
            kind: Kind::Qualify,
            format: None,
            vocabularies: &vocabularies,
            to: None,
            keep_custom: None,
            today: ctx.now.date_naive(),
        },
        emit: Emit::default(),
        audit: None,
        source_name: "request",
    };
    let text = r#"[{"id": "L-1", "source": "web_form"}, {"id": "L-2", "source": "web_form"}]"#;
    let records = Records::of_text(text).expect("records");
    match pipeline.run(&records) {
        Err(crm_rules::Error::UnknownOrg { org }) => assert_eq!(org, "nobody-here"),
        other => panic!("expected the unknown org, got {other:?}"),
    }
    match pipeline.run_split(&records, 2) {
        Err(e) => assert_eq!(e.code(), "host"),
        Ok(output) => panic!("decided without an org: {output:?}"),
    }
}

#[test]
fn the_public_salesforce_samples_are_read_without_error() {
    let samples = root().join("examples/loose/samples");
    // Leads are qualified, opportunities forecast and moved: no record is refused.
    for (command, file, extra) in [
        ("qualify", "minlopro-Leads.json", None),
        ("forecast", "minlopro-Opportunities.json", None),
        ("forecast", "lwc-recipes-Opportunities.json", None),
        (
            "transition",
            "lwc-recipes-Opportunities.json",
            Some("Negotiation"),
        ),
    ] {
        let path = samples.join(file);
        let mut args = vec![
            "--org-dir",
            "examples/loose",
            command,
            path.to_str().unwrap(),
        ];
        if let Some(to) = extra {
            args.extend(["--to", to]);
        }
        let out = cli(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{command} {file}: {stderr}");
        let decided = lines(&out);
        let expected = std::fs::read_to_string(&path).unwrap();
        let expected: Value = serde_json::from_str(&expected).unwrap();
        assert_eq!(
            decided.len(),
            expected["records"].as_array().unwrap().len(),
            "{file}"
        );
        assert!(decided
            .iter()
            .all(|l| l["format"] == "salesforce" && l.get("decision").is_some()));
    }
    // Accounts and contacts are read as conversion candidates.
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(samples.join(f)).unwrap()).unwrap()
    };
    let mut candidates: Vec<Value> = Vec::new();
    for f in [
        "minlopro-Accounts.json",
        "lwc-recipes-Accounts.json",
        "minlopro-Contacts.json",
    ] {
        candidates.extend(read(f)["records"].as_array().unwrap().iter().cloned());
    }
    let mut lead = read("minlopro-Leads.json")["records"][0].clone();
    lead["Company"] = json!("Demizz");
    let input = json!({"lead": lead, "candidates": candidates}).to_string();
    let out = cli(&["--org-dir", "examples/loose", "convert"], Some(&input));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result = lines(&out);
    // The lead is not qualified under loose rules: a rule refusal, not a reading error.
    let error = &result[0]["error"];
    assert!(
        result[0].get("decision").is_some() || error["code"] == "not_qualified",
        "{result:?} {stderr}"
    );
}

#[test]
fn a_native_batch_with_one_broken_record_names_it_and_decides_the_rest() {
    let batch = json!({
        "@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#leads",
        "value": [
            {"leadid": "a1", "fullname": "One", "leadsourcecode": 8, "statuscode": 1},
            {"leadid": "a2", "fullname": "Two", "budgetamount": "lots"},
            {"leadid": "a3", "fullname": "Three", "leadsourcecode": 99},
            {"leadid": "a4", "fullname": "Four", "need": 0, "budgetstatus": 3}
        ]
    })
    .to_string();
    let out = cli(&["--org-dir", "examples/strict", "qualify"], Some(&batch));
    assert_eq!(out.status.code(), Some(1), "some records failed");
    let result = lines(&out);
    assert_eq!(result.len(), 4);
    assert!(result[0].get("decision").is_some());
    assert_eq!(result[1]["id"], "a2");
    assert_eq!(result[1]["error"]["field"], "value[1].budgetamount");
    assert_eq!(result[2]["error"]["field"], "value[2].leadsourcecode");
    assert!(result[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("99"));
    assert!(result[3].get("decision").is_some());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("record 2 (`a2`) at `value[1].budgetamount`"),
        "{stderr}"
    );
}

#[test]
fn activity_records_join_their_opportunity_and_orphans_are_named() {
    let input = [
        json!({"@odata.context": "https://x/api/data/v9.2/$metadata#opportunities/$entity",
               "opportunityid": "o1", "name": "Deal", "salesstage": 2, "estimatedvalue": 1000}),
        json!({"@odata.context": "https://x/api/data/v9.2/$metadata#phonecalls/$entity",
               "activityid": "p1", "_regardingobjectid_value": "o1", "statecode": 1,
               "actualend": "2026-10-01T10:00:00Z", "new_salesstage": 0, "new_rating": 5}),
        json!({"@odata.context": "https://x/api/data/v9.2/$metadata#tasks/$entity",
               "activityid": "t1", "_regardingobjectid_value": "o1", "statecode": 1,
               "actualend": "2026-11-01T10:00:00Z", "new_rating": 4}),
        json!({"@odata.context": "https://x/api/data/v9.2/$metadata#tasks/$entity",
               "activityid": "t2", "_regardingobjectid_value": "o9", "new_rating": 4}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let out = cli(
        &["--org-dir", "examples/strict", "forecast", "--emit", "both"],
        Some(&input),
    );
    let result = lines(&out);
    assert_eq!(result.len(), 2, "{result:?}");
    let stages = result[0]["decision"]["stages"].as_array().unwrap();
    assert_eq!(
        stages[0]["activities"], 1,
        "the phone call counts under Qualify"
    );
    assert_eq!(
        stages[2]["activities"], 1,
        "the task takes the opportunity's stage, Propose"
    );
    assert_eq!(
        result[0]["actions"][0]["path"],
        "/api/data/v9.2/opportunities(o1)"
    );
    assert!(result[0]["actions"][0]["body"]["closeprobability"].is_i64());
    assert_eq!(result[1]["id"], "t2");
    assert!(result[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("o9"));
}

#[test]
fn native_actions_are_grouped_per_record() {
    let soql = json!({"totalSize": 2, "done": true, "records": [
        {"attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q1"},
         "Id": "00Q1", "LastName": "Ames", "Company": "Ames Co", "LeadSource": "Web",
         "Status": "Open - Not Contacted"},
        {"attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q2"},
         "Id": "00Q2", "LastName": "Bo", "Company": "Bo AB", "LeadSource": "Partner",
         "Status": "Working - Contacted", "Region__c": "EMEA"}
    ]})
    .to_string();
    let out = cli(
        &["--org-dir", "examples/loose", "qualify", "--emit", "native"],
        Some(&soql),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = lines(&out);
    assert_eq!(result.len(), 2);
    for (line, id) in result.iter().zip(["00Q1", "00Q2"]) {
        assert!(line.get("decision").is_none(), "native only");
        let actions = line["actions"].as_array().unwrap();
        assert!(!actions.is_empty());
        for action in actions {
            let path = action["path"].as_str().unwrap();
            assert!(path.starts_with("/services/data/v62.0/sobjects/"), "{path}");
        }
        assert!(actions.iter().any(|a| a["path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Lead/{id}"))
            || a["body"]["WhoId"] == id));
    }
}

#[test]
fn a_forced_format_reads_the_record_as_told() {
    let hubspot = json!({"id": "51", "properties": {"email": "a@b.example"}}).to_string();
    let out = cli(&["qualify", "--format", "salesforce"], Some(&hubspot));
    assert_eq!(out.status.code(), Some(1));
    let result = lines(&out);
    assert_eq!(result[0]["error"]["field"], "attributes.type");
    let out = cli(&["qualify", "--format", "hubspot"], Some(&hubspot));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out)[0]["format"], "hubspot");
}

#[test]
fn unknown_shapes_are_clear_errors() {
    let input = [
        json!({"attributes": {"type": "Case"}, "Id": "500x"}),
        json!({"@odata.context": "https://x/api/data/v9.2/$metadata#incidents/$entity", "incidentid": "i1"}),
        json!({"id": "L-1", "budjet": 5}),
        json!([1, 2]),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let out = cli(&["qualify"], Some(&input));
    assert_eq!(out.status.code(), Some(1));
    let result = lines(&out);
    assert_eq!(result.len(), 4);
    let message = |i: usize| {
        result[i]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(message(0).contains("`Case`"), "{}", message(0));
    assert!(message(1).contains("`incident`"), "{}", message(1));
    assert!(message(2).contains("budjet"), "{}", message(2));
    assert!(result[3].get("error").is_some());
}

#[test]
fn an_org_vocabulary_with_an_unknown_value_is_refused_at_load() {
    let config: CrmConfig = serde_json::from_value(json!({
        "dataverse": {"values": {"need": {"4": "desperate"}}}
    }))
    .unwrap();
    let err = Vocabularies::new(&config).unwrap_err();
    assert!(err.contains("crm.dataverse.values.need.4"), "{err}");
    assert!(err.contains("must_have"), "{err}");
}

#[test]
fn json_lines_are_streamed_in_order_across_chunks_and_threads() {
    let mut input = String::new();
    for i in 1..=10_050 {
        if i == 9_000 {
            input.push_str("{\"id\": \"broken\",\n");
            continue;
        }
        input.push_str(&format!(
            "{{\"id\": \"L-{i}\", \"email\": \"x{i}@example.org\", \"source\": \"web_form\"}}\n"
        ));
        if i == 5 {
            input.push('\n');
        }
    }
    let out = cli(&["qualify", "--jobs", "2"], Some(&input));
    assert_eq!(out.status.code(), Some(1), "one line is malformed");
    let result = lines(&out);
    assert_eq!(result.len(), 10_050);
    for (i, line) in result.iter().enumerate() {
        assert_eq!(line["position"], i + 1);
        if i + 1 != 9_000 {
            assert_eq!(line["id"], format!("L-{}", i + 1));
        }
    }
    let message = result[8_999]["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 9001"), "{message}");
}
