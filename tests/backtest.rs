//! The history commands end to end: `backtest`, `whatif` and `calibrate` run by the
//! program on small labelled tables whose figures are worked out by hand.

use std::path::Path;

use serde_json::Value;
use support::{cli, text};

#[path = "support.rs"]
mod support;

/// Six leads whose scores are their source's points: web_form 40, partner 30,
/// advertisement 20, other 10.
const LEADS_POLICY: &str = r#"{
  "name": "by source",
  "qualification": {
    "required": [], "disqualify_uncontactable": false, "qualify_at": 25,
    "ratings": {"hot": 35, "warm": 25},
    "source_points": {"web_form": 40, "partner": 30, "advertisement": 20, "other": 10},
    "engagement_points": {"none": 0}
  }
}"#;

const LEADS_MAPPING: &str = r#"{
  "decision": "qualify",
  "id": "id",
  "fields": {"source": {"column": "source", "values": {"Web": "web_form", "Partner": "partner",
             "Ad": "advertisement", "*": "other"}}},
  "as_of": {"column": "created", "format": "%d.%m.%Y"},
  "outcome": {"column": "converted", "positive": ["yes"], "negative": ["no"]}
}"#;

// L1 web 40 yes; L2 partner 30 no; L3 partner 30 yes; L4 ad 20 yes; L5, L6 other 10 no.
const LEADS: &str = "id,source,created,converted\n\
L1,Web,02.11.2026,yes\n\
L2,Partner,02.11.2026,no\n\
L3,Partner,03.11.2026,yes\n\
L4,Ad,03.11.2026,yes\n\
L5,Fair,04.11.2026,no\n\
L6,,04.11.2026,no\n";

/// An org folder with a policy, a mapping and a data file.
fn org(policy: &str, mapping: &str, data: &str, data_name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
    write(
        "org.json",
        r#"{"org_id": "history", "module": "reference", "policy": "policy.json"}"#,
    );
    write("policy.json", policy);
    write("mapping.json", mapping);
    write(data_name, data);
    tmp
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-9)
}

#[test]
fn backtest_of_leads_gives_the_auc_precision_and_recall_worked_by_hand() {
    let dir = org(LEADS_POLICY, LEADS_MAPPING, LEADS, "leads.csv");
    let d = path(dir.path());
    let data = dir.path().join("leads.csv");
    let out = cli(&["--org-dir", d, "backtest", path(&data), "--json"], None);
    let report = json_of(&out);
    assert_eq!(report["records"], 6);
    // Positives 40, 30, 20 against negatives 30, 10, 10: 40 wins 3, 30 wins 2 and
    // ties 1 (2.5), 20 wins 2 of 3: 7.5 of 9 pairs.
    assert!(close(&report["auc"], 7.5 / 9.0), "{report}");
    // Qualified at 25: L1, L2, L3, two of them converted; L4 converted unqualified.
    assert!(close(&report["precision"], 2.0 / 3.0), "{report}");
    assert!(close(&report["recall"], 2.0 / 3.0), "{report}");
    assert!(close(&report["baselines"]["base_rate"]["precision"], 0.5));
    assert!(close(&report["baselines"]["base_rate"]["auc"], 0.5));
    let effects = report["rule_effects"].as_array().expect("rule effects");
    let partner = effects
        .iter()
        .find(|e| e["code"] == "source.partner")
        .expect("the partner rule fired");
    assert_eq!(partner["fired"], 2);
    assert!(close(&partner["conversion_fired"], 0.5));
    assert!(close(&partner["conversion_not_fired"], 0.5));
    assert!(
        text(&out.stderr).contains("rows/s"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn whatif_counts_the_change_matrix_worked_by_hand() {
    let dir = org(LEADS_POLICY, LEADS_MAPPING, LEADS, "leads.csv");
    let d = path(dir.path());
    let stricter = dir.path().join("stricter.json");
    std::fs::write(
        &stricter,
        LEADS_POLICY
            .replace(r#""qualify_at": 25"#, r#""qualify_at": 35"#)
            .replace(r#""warm": 25"#, r#""warm": 35"#),
    )
    .expect("write");
    let data = dir.path().join("leads.csv");
    let out = cli(
        &[
            "--org-dir",
            d,
            "whatif",
            "--against",
            path(&stricter),
            path(&data),
            "--json",
        ],
        None,
    );
    let w = json_of(&out);
    // Qualified at 35 instead of 25: L2 and L3 (30) fall to nurture.
    assert_eq!(w["changed"], 2);
    assert_eq!(w["matrix"]["qualified"]["nurture"], 2);
    assert_eq!(w["matrix"]["qualified"]["qualified"], 1);
    assert_eq!(w["matrix"]["nurture"]["nurture"], 3);
    assert_eq!(w["qualified"]["before"], 3);
    assert_eq!(w["qualified"]["after"], 1);
    assert!(close(&w["qualified"]["conversion_after"], 1.0));
    let sample = w["sample"].as_array().expect("a sample");
    assert_eq!(sample[0]["id"], "L2");
    assert_eq!(sample[0]["before"]["outcome"], "qualified");
    assert_eq!(sample[0]["after"]["outcome"], "nurture");
    // Each record is decided at its own time: L3 was created on Tuesday
    // 3 November, so its (cold) follow-up is due 5 business days later.
    let l3 = sample.iter().find(|c| c["id"] == "L3").expect("L3 changed");
    assert_eq!(l3["after"]["follow_ups"][0]["due"], "2026-11-10");
}

const DEALS_POLICY: &str = r#"{
  "name": "priors",
  "stages": [{"name": "Develop"}, {"name": "Propose"}],
  "forecast": {"stage_probabilities": {"Develop": 0.2, "Propose": 0.6}}
}"#;

const DEALS_MAPPING: &str = r#"{
  "decision": "forecast",
  "id": "id",
  "fields": {"stage": {"column": "stage"}},
  "outcome": {"column": "status", "positive": ["Won"], "negative": ["Lost"], "open": ["Open"],
              "closed_on": {"column": "closed", "format": "%Y-%m-%d"}},
  "baselines": {"salesforce_default": {"crm": "salesforce",
                "stages": {"Develop": "Needs Analysis", "Propose": "Proposal/Price Quote"}}}
}"#;

const DEALS: &str = "id,stage,status,closed\n\
D1,Develop,Lost,2017-01-01\n\
D2,Develop,Lost,2017-01-02\n\
D3,Develop,Won,2017-01-03\n\
D4,Propose,Won,2017-01-04\n\
D5,Propose,Won,2017-01-05\n\
D6,Propose,Lost,2017-01-06\n\
D7,Propose,Open,\n";

#[test]
fn backtest_of_forecasts_gives_brier_and_auc_worked_by_hand() {
    let dir = org(DEALS_POLICY, DEALS_MAPPING, DEALS, "deals.csv");
    let d = path(dir.path());
    let data = dir.path().join("deals.csv");
    let report = json_of(&cli(
        &["--org-dir", d, "backtest", path(&data), "--json"],
        None,
    ));
    assert_eq!(report["records"], 6);
    assert_eq!(report["open"], 1);
    // Develop at 0.2: lost, lost, won -> 0.04 + 0.04 + 0.64; Propose at 0.6:
    // won, won, lost -> 0.16 + 0.16 + 0.36. Sum 1.4 over 6.
    assert!(close(&report["brier"], 1.4 / 6.0), "{report}");
    // Positives 0.2, 0.6, 0.6 against 0.2, 0.2, 0.6: 1 + 2.5 + 2.5 of 9 pairs.
    assert!(close(&report["auc"], 6.0 / 9.0), "{report}");
    // The base rate (0.5) scores 0.25.
    assert!(close(&report["baselines"]["base_rate"]["brier"], 0.25));
    // Salesforce: Needs Analysis 20%, Proposal/Price Quote 75%:
    // (0.72 + 0.0625 * 2 + 0.5625) / 6.
    assert!(close(
        &report["baselines"]["salesforce_default"]["brier"],
        1.4075 / 6.0
    ));
}

/// 400 leads in which the source and a custom field decide conversion.
fn synthetic_leads() -> String {
    let mut csv = String::from("id,source,size,converted\n");
    for i in 0..400u32 {
        let source = ["Web", "Partner", "Ad", "Fair"][(i % 4) as usize];
        let size = ["small", "large"][((i / 4) % 2) as usize];
        // Web and large convert more: a deterministic pattern with noise.
        let odds = match (source, size) {
            ("Web", "large") => 9,
            ("Web", _) | ("Partner", "large") => 6,
            ("Partner", _) | ("Ad", "large") => 4,
            _ => 1,
        };
        let converted = (i.wrapping_mul(2_654_435_761) >> 7) % 10 < odds;
        csv.push_str(&format!(
            "S{i:03},{source},{size},{}\n",
            if converted { "yes" } else { "no" }
        ));
    }
    csv
}

#[test]
fn calibrate_writes_a_policy_that_scores_the_validation_part_better() {
    let mapping = r#"{
      "decision": "qualify", "id": "id",
      "fields": {"source": {"column": "source", "values": {"Web": "web_form", "Partner": "partner",
                 "Ad": "advertisement", "*": "other"}, "default": "other"}},
      "custom": {"size": {"column": "size"}},
      "outcome": {"column": "converted", "positive": ["yes"], "negative": ["no"]}
    }"#;
    let policy = r#"{"name": "flat", "qualification": {"required": [],
        "disqualify_uncontactable": false, "source_points": {"other": 30}}}"#;
    let dir = org(policy, mapping, &synthetic_leads(), "leads.csv");
    let d = path(dir.path());
    let data = dir.path().join("leads.csv");
    let out = dir.path().join("new-policy.json");
    let html = dir.path().join("validation.html");
    let result = json_of(&cli(
        &[
            "--org-dir",
            d,
            "calibrate",
            path(&data),
            "--out",
            path(&out),
            "--json",
            "--html",
            path(&html),
        ],
        None,
    ));
    let v = &result["validation"];
    assert_eq!(v["new"]["records"], 120, "{v}");
    // The report shows the old policy beside the new one.
    let page = std::fs::read_to_string(&html).expect("the report");
    assert!(page.contains("<td>old</td>") && page.contains("<td>new</td>"));
    let new_auc = v["new"]["auc"].as_f64().expect("an AUC");
    let old_auc = v["old"]["auc"].as_f64().expect("an AUC");
    assert!(new_auc > old_auc + 0.1, "{new_auc} vs {old_auc}");
    assert!(close(&v["base_rate"]["auc"], 0.5));
    assert_eq!(result["split"]["by"], "hash");
    // The written policy is the org's with fitted points: it loads and ranks
    // web-form leads above fair scans.
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("the policy")).expect("JSON");
    let points = &written["qualification"]["source_points"];
    assert!(
        points["web_form"].as_i64() > points["other"].as_i64(),
        "{written}"
    );
    assert_eq!(written["name"], "flat, calibrated");
    let again = json_of(&cli(
        &[
            "--org-dir",
            d,
            "--policy",
            path(&out),
            "backtest",
            path(&data),
            "--json",
        ],
        None,
    ));
    assert!(again["auc"].as_f64().expect("an AUC") > old_auc);
}

#[test]
fn calibrate_of_forecasts_fits_each_stage_on_the_older_deals() {
    let mut deals = String::from("id,stage,status,closed\n");
    for i in 0..100 {
        let (stage, won) = if i % 2 == 0 {
            ("Develop", i % 8 == 0)
        } else {
            ("Propose", i % 8 != 1)
        };
        deals.push_str(&format!(
            "D{i:03},{stage},{},2017-{:02}-01\n",
            if won { "Won" } else { "Lost" },
            1 + i / 10
        ));
    }
    let dir = org(DEALS_POLICY, DEALS_MAPPING, &deals, "deals.csv");
    let d = path(dir.path());
    let data = dir.path().join("deals.csv");
    let out = dir.path().join("new-policy.json");
    let result = json_of(&cli(
        &[
            "--org-dir",
            d,
            "calibrate",
            path(&data),
            "--out",
            path(&out),
            "--json",
        ],
        None,
    ));
    assert_eq!(result["split"]["by"], "time");
    assert_eq!(result["split"]["train"], 70);
    let v = &result["validation"];
    let new = v["new"]["brier"].as_f64().expect("a Brier score");
    assert!(new < v["base_rate"]["brier"].as_f64().expect("a Brier score"));
    assert!(
        new < v["salesforce_default"]["brier"]
            .as_f64()
            .expect("a Brier score")
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("the policy")).expect("JSON");
    // Train: 35 Develop deals, 9 won (i % 8 == 0 among even i < 70); 35 Propose, 26 won.
    let p = &written["forecast"]["stage_probabilities"];
    assert!(close(&p["Develop"], 0.2571), "{p}");
    assert!(close(&p["Propose"], 0.7429), "{p}");
}

#[test]
fn a_csv_without_a_mapping_says_it_needs_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("leads.csv");
    std::fs::write(&data, LEADS).expect("write");
    let out = cli(&["backtest", path(&data)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("needs a mapping"), "{err}");
}

#[test]
fn bad_rows_name_their_row_and_column() {
    let dir = org(LEADS_POLICY, LEADS_MAPPING, "", "leads.csv");
    let d = path(dir.path());
    let data = dir.path().join("leads.csv");
    for (table, expected) in [
        ("", "empty"),
        (
            "id,source,created\nL1,Web,02.11.2026\n",
            "no column `converted`",
        ),
        (
            "id,source,created,converted\nL1,Web,2026-11-02,yes\n",
            "row 2, column `created`",
        ),
        (
            "id,source,created,converted\nL1,Web,02.11.2026,yes\nL2,Web,02.11.2026,maybe\n",
            "row 3, column `converted`",
        ),
    ] {
        std::fs::write(&data, table).expect("write");
        let out = cli(&["--org-dir", d, "backtest", path(&data)], None);
        assert_eq!(out.status.code(), Some(2), "{table}");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let mapping = dir.path().join("mapping.json");
    std::fs::write(
        &mapping,
        LEADS_MAPPING.replace(r#""column": "source""#, r#""column": "Lead Source""#),
    )
    .expect("write");
    std::fs::write(&data, LEADS).expect("write");
    let out = cli(&["--org-dir", d, "backtest", path(&data)], None);
    let err = text(&out.stderr);
    assert!(err.contains("no column `Lead Source`"), "{err}");
    assert!(err.contains("fields.source.column"), "{err}");
}

#[test]
fn the_html_report_holds_its_plots_inline() {
    let dir = org(LEADS_POLICY, LEADS_MAPPING, LEADS, "leads.csv");
    let d = path(dir.path());
    let data = dir.path().join("leads.csv");
    let html = dir.path().join("report.html");
    let out = cli(
        &[
            "--org-dir",
            d,
            "backtest",
            path(&data),
            "--html",
            path(&html),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ROC AUC"));
    let page = std::fs::read_to_string(&html).expect("the report");
    assert_eq!(
        page.matches("<svg").count(),
        4,
        "ROC, gains, deciles, histogram"
    );
    assert!(page.contains("Rule effects") && page.contains("source.partner"));
    assert!(!page.contains("<script"));
}

#[test]
fn calibrate_reads_rated_activities_from_json_lines_and_fits_their_effect() {
    // Deals rated well (5) mostly win, rated badly (1) mostly lose.
    let mut lines = String::new();
    for i in 0..200 {
        let good = i % 2 == 0;
        let won = if good { i % 10 != 0 } else { i % 10 == 1 };
        let activity = serde_json::json!([{"id": format!("A{i}"), "kind": "call",
            "stage": "Develop", "rating": if good { 5 } else { 1 }}]);
        lines.push_str(
            &serde_json::json!({"id": format!("D{i:03}"), "stage": "Develop",
                "status": if won { "Won" } else { "Lost" },
                "closed": format!("2017-{:02}-01", 1 + i / 20),
                "activities": activity})
            .to_string(),
        );
        lines.push('\n');
    }
    let mapping = DEALS_MAPPING.replace(
        r#""fields": {"stage": {"column": "stage"}}"#,
        r#""fields": {"stage": {"column": "stage"}, "activities": {"column": "activities"}}"#,
    );
    let dir = org(DEALS_POLICY, &mapping, &lines, "deals.jsonl");
    let d = path(dir.path());
    let data = dir.path().join("deals.jsonl");
    let out = dir.path().join("new-policy.json");
    let result = json_of(&cli(
        &[
            "--org-dir",
            d,
            "calibrate",
            path(&data),
            "--out",
            path(&out),
            "--json",
        ],
        None,
    ));
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("the policy")).expect("JSON");
    let effect = written["forecast"]["activity_effect"]
        .as_f64()
        .expect("an effect");
    // Ratings of 5 against 1 move the log-odds from about -ln 9 to ln 9: an
    // effect of 2 ln 9 = 4.4 unpenalised; the default penalty (alpha 1) on 140
    // training deals shrinks it to about half.
    assert!(effect > 1.5, "{written}");
    assert!(written["forecast"]["weights"]["Develop"].as_f64() > Some(0.0));
    let v = &result["validation"];
    assert!(
        v["new"]["brier"].as_f64() < v["base_rate"]["brier"].as_f64(),
        "{v}"
    );
    assert!(v["new"]["auc"].as_f64() >= Some(0.79), "{v}");
}

/// 2,000 leads converting about 10% of the time, more with more visits
/// (2% at none, 19% at 14): a weak signal, as in most lead sets.
fn rare_conversions() -> String {
    let mut csv = String::from("id,visits,size,converted\n");
    for i in 0..2000u32 {
        let visits = (i.wrapping_mul(2_246_822_519) >> 9) % 15;
        let size = ["small", "large"][((i / 3) % 2) as usize];
        let per_mille = 20 + 12 * visits;
        let converted = (i.wrapping_mul(2_654_435_761) >> 7) % 1000 < per_mille;
        csv.push_str(&format!(
            "R{i:04},{visits},{size},{}\n",
            if converted { "yes" } else { "no" }
        ));
    }
    csv
}

const RARE_MAPPING: &str = r#"{
  "decision": "qualify", "id": "id",
  "custom": {"visits": {"column": "visits", "type": "number"}, "size": {"column": "size"}},
  "outcome": {"column": "converted", "positive": ["yes"], "negative": ["no"]}
}"#;

const FLAT_POLICY: &str = r#"{"name": "flat", "qualification": {"required": [],
    "disqualify_uncontactable": false, "source_points": {"other": 30}}}"#;

fn calibrate_json(dir: &Path, extra: &[&str]) -> Value {
    let d = path(dir);
    let data = dir.join("leads.csv");
    let out = dir.join("new-policy.json");
    let mut args = vec![
        "--org-dir",
        d,
        "calibrate",
        path(&data),
        "--out",
        path(&out),
        "--json",
    ];
    args.extend_from_slice(extra);
    json_of(&cli(&args, None))
}

fn notes_of(result: &Value) -> Vec<String> {
    result["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n.as_str().expect("a note").to_owned())
        .collect()
}

#[test]
fn at_a_ten_percent_base_rate_scores_spread_or_a_note_says_why_not() {
    let dir = org(FLAT_POLICY, RARE_MAPPING, &rare_conversions(), "leads.csv");
    for pdo in [None, Some("20")] {
        let extra: Vec<&str> = pdo.map_or(Vec::new(), |p| vec!["--points-per-doubling", p]);
        let result = calibrate_json(dir.path(), &extra);
        let clamped = &result["clamped"];
        let (zero, hundred) = (
            clamped["at_0"].as_f64().expect("a share"),
            clamped["at_100"].as_f64().expect("a share"),
        );
        let notes = notes_of(&result);
        assert!(
            (zero <= 0.01 && hundred <= 0.01) || notes.iter().any(|n| n.contains("clamped")),
            "points per doubling {pdo:?}: {zero} at 0, {hundred} at 100, notes {notes:?}"
        );
        // This data's scale fits 0..100 either way: spread, not explained away.
        assert!(zero <= 0.01 && hundred <= 0.01, "{pdo:?}: {zero} {hundred}");
    }
    // A scale three times too wide cannot fit: the notes say so, and what fits.
    let result = calibrate_json(dir.path(), &["--points-per-doubling", "200"]);
    let notes = notes_of(&result);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("clamped") && n.contains("points_per_doubling 200")),
        "{notes:?}"
    );
}

#[test]
fn a_hot_line_no_score_reaches_is_said_and_each_line_has_its_precision() {
    let dir = org(FLAT_POLICY, RARE_MAPPING, &rare_conversions(), "leads.csv");
    let result = calibrate_json(dir.path(), &[]);
    let notes = notes_of(&result);
    // At most 19% convert at any score: no score reaches 80%.
    assert!(
        notes
            .iter()
            .any(|n| n.contains("no score reaches the precision `hot` needs")),
        "{notes:?}"
    );
    let lines = result["thresholds"].as_array().expect("thresholds");
    let names: Vec<&str> = lines.iter().filter_map(|l| l["name"].as_str()).collect();
    assert_eq!(names, ["qualify_at", "ratings.warm", "ratings.hot"]);
    assert!(lines[0]["precision"].as_f64().is_some(), "{lines:?}");
    assert!(lines[0]["recall"].as_f64().is_some(), "{lines:?}");
    assert_eq!(lines[2]["records"], 0, "{lines:?}");
}

/// Copies an example org folder (its files and fixtures) into a new one.
fn copy_example(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let from = support::root().join("examples").join(name);
    for entry in std::fs::read_dir(&from).expect("the example") {
        let entry = entry.expect("an entry");
        let to = tmp.path().join(entry.file_name());
        if entry.path().is_dir() {
            if entry.file_name() == "fixtures" {
                std::fs::create_dir(&to).expect("mkdir");
                for f in std::fs::read_dir(entry.path()).expect("fixtures") {
                    let f = f.expect("a fixture");
                    std::fs::copy(f.path(), to.join(f.file_name())).expect("copy");
                }
            }
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
    tmp
}

#[test]
fn lint_names_a_misspelled_field_on_the_committed_example() {
    let dir = copy_example("x-education");
    let policy_path = dir.path().join("policy.json");
    let mut policy: Value =
        serde_json::from_str(&std::fs::read_to_string(&policy_path).expect("policy"))
            .expect("JSON");
    let rules = policy["qualification"]["custom_rules"]
        .as_array_mut()
        .expect("rules");
    let mut typo = rules[0].clone();
    typo["field"] = "lead_orgin".into();
    rules.push(typo);
    let index = rules.len() - 1;
    std::fs::write(&policy_path, policy.to_string()).expect("write");
    let out = cli(&["lint", "--org-dir", path(dir.path())], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("qualification.custom_rules[{index}].field")),
        "{stdout}"
    );
    assert!(stdout.contains("`lead_orgin`"), "{stdout}");
    assert!(stdout.contains("did you mean `lead_origin`"), "{stdout}");
    // A mapping given by flag is the one checked against.
    let mapping = support::root().join("examples/x-education/mapping.json");
    let out = cli(
        &[
            "lint",
            "--org-dir",
            path(dir.path()),
            "--mapping",
            path(&mapping),
        ],
        None,
    );
    assert!(text(&out.stdout).contains("`lead_orgin`"));
}

#[test]
fn the_committed_examples_pass_the_policy_check() {
    for name in [
        "x-education",
        "sales-opportunities",
        "acme",
        "strict",
        "loose",
    ] {
        let dir = support::root().join("examples").join(name);
        let out = cli(&["lint", "--org-dir", path(&dir)], None);
        assert!(
            out.status.success(),
            "{name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let dir = support::root().join("examples").join(name);
        if let Ok(calibrated) = std::fs::read_to_string(dir.join("policy-calibrated.json")) {
            let tmp = tempfile::tempdir().expect("a temporary folder");
            std::fs::write(tmp.path().join("p.json"), calibrated).expect("write");
            let out = cli(
                &[
                    "lint",
                    "--org-dir",
                    path(&dir),
                    "--policy",
                    path(&tmp.path().join("p.json")),
                ],
                None,
            );
            assert!(
                out.status.success(),
                "{name} calibrated: {}",
                text(&out.stdout)
            );
        }
    }
}

#[test]
fn the_calibrate_summary_reads_in_a_fixed_order_with_deciles_and_lines() {
    let dir = org(FLAT_POLICY, RARE_MAPPING, &rare_conversions(), "leads.csv");
    let d = path(dir.path());
    let data = dir.path().join("leads.csv");
    let out = dir.path().join("new-policy.json");
    let html = dir.path().join("validation.html");
    let run = cli(
        &[
            "--org-dir",
            d,
            "calibrate",
            path(&data),
            "--out",
            path(&out),
            "--html",
            path(&html),
        ],
        None,
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let at = |row: &str| {
        stdout
            .find(&format!("│ {row} "))
            .unwrap_or_else(|| panic!("no row {row}: {stdout}"))
    };
    assert!(at("new") < at("old"), "{stdout}");
    assert!(at("old") < at("base_rate"), "{stdout}");
    assert!(at("base_rate") < at("logistic_regression"), "{stdout}");
    assert!(stdout.contains("decile"), "{stdout}");
    assert!(stdout.contains("monotone by score decile"), "{stdout}");
    assert!(stdout.contains("qualify_at"), "{stdout}");
    assert!(stdout.contains("split seeded (seed 42)"), "{stdout}");
    assert!(!stdout.contains("split: {"), "{stdout}");
    let page = std::fs::read_to_string(&html).expect("the report");
    let headline = &page[..page.find("Lines").expect("the lines")];
    assert!(
        headline.contains("<td>logistic_regression</td>"),
        "{headline}"
    );
    assert!(
        headline.find("<td>new</td>") < headline.find("<td>old</td>")
            && headline.find("<td>old</td>") < headline.find("<td>base_rate</td>"),
        "{headline}"
    );
}

#[test]
fn a_reason_every_record_has_shows_no_conversion_without_it() {
    let policy = LEADS_POLICY.replace(r#""required": [],"#, r#""required": [], "base_points": 5,"#);
    let dir = org(&policy, LEADS_MAPPING, LEADS, "leads.csv");
    let d = path(dir.path());
    let data = dir.path().join("leads.csv");
    let html = dir.path().join("report.html");
    let out = cli(
        &[
            "--org-dir",
            d,
            "backtest",
            path(&data),
            "--json",
            "--html",
            path(&html),
        ],
        None,
    );
    let report = json_of(&out);
    let effects = report["rule_effects"].as_array().expect("rule effects");
    let base = effects
        .iter()
        .find(|e| e["fired"] == 6)
        .unwrap_or_else(|| panic!("a reason fired for all: {effects:?}"));
    assert!(base["conversion_not_fired"].is_null(), "{base}");
    let page = std::fs::read_to_string(&html).expect("the report");
    assert!(page.contains("fired for all"));
}
