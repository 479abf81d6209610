//! A policy check for the reference module: what a policy says that can never
//! happen, found before any record is decided.
//!
//! - a custom rule on a field the module does not read, the mapping never
//!   fills, or no record has (a misspelled field name: the rule silently never
//!   fires), with the closest known name as the fix;
//! - a rule comparing a number with a text field, or a text with a number field;
//! - a threshold (`qualify_at`, `ratings.hot`, `ratings.warm`) that no score
//!   can reach, from the lowest and highest score the policy can give;
//! - a value name the contract does not have (`source_points.webform`,
//!   `required: ["money"]`, `ratings.lukewarm`).
//!
//! The policy is read as JSON, not through the module's own parser: the
//! module is a component the program loads, and the parts checked here are the
//! reference module's documented policy format (README, "The policy of the reference module"). Where a part
//! is absent, the module's default applies ([`default_points`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crm_rules::model as m;
use serde::Serialize;
use serde_json::Value;

use super::mapping::{CustomType, Mapping};

/// One thing wrong in a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Where in the policy (`qualification.custom_rules[5].field`).
    pub path: String,
    /// What is wrong.
    pub problem: String,
    /// What to change.
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.path, self.problem, self.fix)
    }
}

/// The custom fields some records have: how many of `records` have each.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// What the records are, for the message ("leads.csv", "the fixtures").
    pub source: String,
    /// How many records there are.
    pub records: usize,
    /// Custom field -> records having it.
    pub fields: BTreeMap<String, usize>,
}

impl Seen {
    /// Counts the custom fields of these leads.
    pub fn of_leads<'a>(source: &str, leads: impl IntoIterator<Item = &'a m::Lead>) -> Seen {
        let mut seen = Seen {
            source: source.to_owned(),
            ..Seen::default()
        };
        for lead in leads {
            seen.records += 1;
            for (name, value) in &lead.custom {
                if value.is_filled() {
                    *seen.fields.entry(name.clone()).or_default() += 1;
                }
            }
        }
        seen
    }
}

/// What is checked, and what it is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The policy's JSON.
    pub policy: &'a Value,
    /// The mapping that fills the records, when there is one.
    pub mapping: Option<&'a Mapping>,
    /// The custom fields the module declares it reads, when known.
    pub reads: Option<&'a [String]>,
    /// Custom fields records have, when records were read.
    pub seen: Option<&'a Seen>,
}

/// The reference module's points where a policy gives none (its
/// `QualificationPolicy::default`), by policy key.
pub fn default_points() -> Value {
    serde_json::json!({
        "base_points": 0,
        "qualify_at": 60,
        "disqualify_below": 0,
        "ratings": {"hot": 70, "warm": 40},
        "source_points": {"web_form": 30, "phone_inquiry": 25, "employee_referral": 25,
            "external_referral": 20, "partner": 20, "word_of_mouth": 15, "seminar": 15,
            "advertisement": 10, "public_relations": 10, "trade_show": 10, "other": 5,
            "purchased_list": 0},
        "engagement_points": {"none": 0, "content": 5, "inquiry": 10, "conversation": 15,
            "evaluation": 25, "proposal": 30, "contract": 35},
        "budget_points": {"no_committed_budget": 0, "may_buy": 5, "can_buy": 10, "will_buy": 15},
        "budget_amount_points": 5,
        "authority_points": 10,
        "need_points": {"must_have": 15, "should_have": 10, "good_to_have": 5, "no_need": 0},
        "timeframe_points": {"immediate": 15, "this_quarter": 12, "next_quarter": 8,
            "this_year": 4, "unknown": 0},
        "existing_customer_points": 10
    })
}

/// The enum point maps: policy key, the contract's values, whether a lead may
/// lack the field (then it scores 0 from it).
fn enum_maps() -> Vec<(&'static str, Vec<&'static str>, bool)> {
    vec![
        (
            "source_points",
            m::LeadSource::ALL.iter().map(|v| v.as_str()).collect(),
            true,
        ),
        (
            "engagement_points",
            m::Engagement::ALL.iter().map(|v| v.as_str()).collect(),
            false,
        ),
        (
            "budget_points",
            m::BudgetStatus::ALL.iter().map(|v| v.as_str()).collect(),
            true,
        ),
        (
            "need_points",
            m::Need::ALL.iter().map(|v| v.as_str()).collect(),
            true,
        ),
        (
            "timeframe_points",
            m::Timeframe::ALL.iter().map(|v| v.as_str()).collect(),
            true,
        ),
    ]
}

/// A qualification key's value: the policy's, else the module's default.
fn key_of<'a>(q: Option<&'a Value>, defaults: &'a Value, key: &str) -> Option<&'a Value> {
    q.and_then(|q| q.get(key)).or_else(|| defaults.get(key))
}

fn int(v: Option<&Value>) -> i64 {
    v.and_then(|v| v.as_f64()).map_or(0, |x| x as i64)
}

/// The lowest and highest score the policy's qualification can give (clamped
/// to 0..100 as the module clamps): every field counted at its best (worst)
/// value, the custom rules of one field at the value that fires the best
/// (worst) combination of them.
pub fn score_range(policy: &Value) -> (i64, i64) {
    let defaults = default_points();
    let q = policy.get("qualification");
    let base = int(key_of(q, &defaults, "base_points"));
    let (mut lo, mut hi) = (base, base);
    let mut budget_options = vec![0];
    for (key, _, optional) in enum_maps() {
        let points: Vec<i64> = key_of(q, &defaults, key)
            .and_then(Value::as_object)
            .map(|map| map.values().map(|v| int(Some(v))).collect())
            .unwrap_or_default();
        if key == "budget_points" {
            budget_options.extend(points);
            continue;
        }
        let mut options = points;
        if optional || options.is_empty() {
            options.push(0);
        }
        lo += options.iter().copied().min().unwrap_or(0);
        hi += options.iter().copied().max().unwrap_or(0);
    }
    // A budget status scores its points, else a budget amount scores its own.
    budget_options.push(int(key_of(q, &defaults, "budget_amount_points")));
    lo += budget_options.iter().copied().min().unwrap_or(0);
    hi += budget_options.iter().copied().max().unwrap_or(0);
    for key in ["authority_points", "existing_customer_points"] {
        let p = int(key_of(q, &defaults, key));
        lo += p.min(0);
        hi += p.max(0);
    }
    let rules: Vec<&Value> = q
        .and_then(|q| q.get("custom_rules"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut by_field: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for rule in &rules {
        if let Some(field) = rule.get("field").and_then(Value::as_str) {
            by_field.entry(field).or_default().push(rule);
        }
    }
    for rules in by_field.values() {
        let totals = field_totals(rules);
        lo += totals.iter().copied().min().unwrap_or(0);
        hi += totals.iter().copied().max().unwrap_or(0);
    }
    (lo.clamp(0, 100), hi.clamp(0, 100))
}

/// Every total the rules of one field can add up to: the field absent (0), each
/// value some `equals` names, and each stretch of numbers between the bounds
/// the ranges name.
fn field_totals(rules: &[&Value]) -> Vec<i64> {
    let points = |r: &Value| int(r.get("points"));
    let mut totals = vec![0];
    let mut texts: BTreeMap<String, i64> = BTreeMap::new();
    let mut numbers: Vec<f64> = Vec::new();
    for r in rules {
        match r.get("equals") {
            Some(Value::String(t)) => {
                *texts.entry(t.trim().to_lowercase()).or_default() += points(r)
            }
            Some(Value::Number(n)) => numbers.extend(n.as_f64()),
            Some(other) => *texts.entry(other.to_string()).or_default() += points(r),
            None => {
                numbers.extend(r.get("at_least").and_then(Value::as_f64));
                numbers.extend(r.get("at_most").and_then(Value::as_f64));
            }
        }
    }
    totals.extend(texts.values().copied());
    numbers.sort_by(f64::total_cmp);
    numbers.dedup();
    let mut probes: Vec<f64> = numbers.clone();
    for w in numbers.windows(2) {
        probes.push((w[0] + w[1]) / 2.0);
    }
    if let (Some(first), Some(last)) = (numbers.first(), numbers.last()) {
        probes.push(first - 1.0);
        probes.push(last + 1.0);
    }
    for x in probes {
        let total: i64 = rules
            .iter()
            .filter(|r| r.get("equals").is_none_or(|e| e.as_f64() == Some(x)))
            .filter(|r| {
                let at_least = r.get("at_least").and_then(Value::as_f64);
                let at_most = r.get("at_most").and_then(Value::as_f64);
                (r.get("equals").is_some() || at_least.is_some() || at_most.is_some())
                    && at_least.is_none_or(|a| x >= a)
                    && at_most.is_none_or(|a| x <= a)
            })
            .map(|r| points(r))
            .sum();
        totals.push(total);
    }
    totals
}

/// The edit distance of two names (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// The known name closest to `name`, when one is close enough to be a typo.
fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .filter(|k| *k != name)
        .map(|k| (distance(name, k), k))
        .filter(|(d, k)| *d <= (name.len().max(k.len()) / 3).max(1))
        .min()
        .map(|(_, k)| k)
}

/// Checks a policy. An empty list is a clean policy.
pub fn lint(subject: &Subject) -> Vec<Finding> {
    let mut findings = Vec::new();
    let policy = subject.policy;
    let Some(q) = policy.get("qualification") else {
        return findings;
    };
    custom_rules(subject, q, &mut findings);
    value_names(q, &mut findings);
    thresholds(policy, &mut findings);
    findings
}

fn custom_rules(subject: &Subject, q: &Value, findings: &mut Vec<Finding>) {
    let Some(rules) = q.get("custom_rules").and_then(Value::as_array) else {
        return;
    };
    let mut known: BTreeSet<&str> = BTreeSet::new();
    if let Some(mapping) = subject.mapping {
        known.extend(mapping.custom.keys().map(String::as_str));
    }
    if let Some(seen) = subject.seen {
        known.extend(seen.fields.keys().map(String::as_str));
    }
    if let Some(reads) = subject.reads {
        known.extend(reads.iter().map(String::as_str));
    }
    for (i, rule) in rules.iter().enumerate() {
        let Some(field) = rule.get("field").and_then(Value::as_str) else {
            continue;
        };
        let path = format!("qualification.custom_rules[{i}].field");
        let rename = |what: &str| match closest(field, known.iter().copied()) {
            Some(name) => format!("did you mean `{name}`? rename the rule's field, or {what}"),
            None => format!("rename the rule's field, or {what}"),
        };
        let mut found = |problem: String, fix: String| {
            findings.push(Finding {
                path: path.clone(),
                problem,
                fix,
            })
        };
        if let Some(reads) = subject.reads {
            if !reads.iter().any(|r| r == field) {
                found(
                    format!(
                        "the module does not read custom field `{field}`, so the rule never fires"
                    ),
                    rename("declare the field among the module's reads"),
                );
                continue;
            }
        }
        if let Some(mapping) = subject.mapping {
            match mapping.custom.get(field) {
                None => {
                    found(
                        format!(
                            "the mapping never fills custom field `{field}`, so the rule never fires"
                        ),
                        rename(&format!("map a column to it at `custom.{field}` in the mapping")),
                    );
                    continue;
                }
                Some(custom) => {
                    let numeric = rule.get("at_least").is_some()
                        || rule.get("at_most").is_some()
                        || rule.get("equals").is_some_and(Value::is_number);
                    let text = rule.get("equals").is_some_and(Value::is_string);
                    if numeric && custom.kind != CustomType::Number {
                        found(
                            format!("the rule compares a number, but the mapping fills `{field}` as {}", kind_name(custom.kind)),
                            format!("set `custom.{field}.type` to `number` in the mapping, or compare with `equals`"),
                        );
                    } else if text && custom.kind == CustomType::Number {
                        found(
                            format!("the rule compares text, but the mapping fills `{field}` as a number"),
                            "compare with `at_least`/`at_most`, or map it as text".to_owned(),
                        );
                    } else if let (Some(Value::String(want)), Some(values)) =
                        (rule.get("equals"), custom.values.as_ref())
                    {
                        let want_key = want.trim().to_lowercase();
                        let produced = values.values().any(|v| v.trim().to_lowercase() == want_key);
                        if !values.contains_key("*") && !produced {
                            found(
                                format!("the mapping's value map of `{field}` never produces `{want}`"),
                                format!("compare with one of its values ({}), or map a cell to `{want}` in `custom.{field}.values`", values.values().cloned().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")),
                            );
                        }
                    }
                }
            }
        }
        if let Some(seen) = subject.seen {
            if seen.records > 0 && seen.fields.get(field).copied().unwrap_or(0) == 0 {
                found(
                    format!(
                        "none of the {} records of {} has custom field `{field}`, so the rule never fires",
                        seen.records, seen.source
                    ),
                    rename("fill the field in the records"),
                );
            }
        }
    }
}

fn kind_name(kind: CustomType) -> &'static str {
    match kind {
        CustomType::Text => "text",
        CustomType::Number => "a number",
        CustomType::Flag => "yes/no",
        CustomType::Date => "a date",
    }
}

fn value_names(q: &Value, findings: &mut Vec<Finding>) {
    for (key, values, _) in enum_maps() {
        let Some(map) = q.get(key).and_then(Value::as_object) else {
            continue;
        };
        for name in map.keys() {
            if !values.contains(&name.as_str()) {
                let fix = match closest(name, values.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`? (one of: {})", values.join(", ")),
                    None => format!("use one of: {}", values.join(", ")),
                };
                findings.push(Finding {
                    path: format!("qualification.{key}.{name}"),
                    problem: format!(
                        "`{name}` is not a value of `{}`",
                        key.trim_end_matches("_points")
                    ),
                    fix,
                });
            }
        }
    }
    let criteria = ["budget", "authority", "need", "timeframe"];
    if let Some(required) = q.get("required").and_then(Value::as_array) {
        for (i, c) in required.iter().enumerate() {
            let name = c.as_str().unwrap_or_default();
            if !criteria.contains(&name) {
                findings.push(Finding {
                    path: format!("qualification.required[{i}]"),
                    problem: format!("`{c}` is not a criterion"),
                    fix: format!("use one of: {}", criteria.join(", ")),
                });
            }
        }
    }
    let ratings: Vec<&str> = m::Rating::ALL.iter().map(|r| r.as_str()).collect();
    for (at, allowed) in [
        ("ratings", vec!["hot", "warm"]),
        ("follow_up.days", ratings.clone()),
        ("follow_up.kind", ratings.clone()),
    ] {
        let mut v = Some(q);
        for part in at.split('.') {
            v = v.and_then(|v| v.get(part));
        }
        let Some(map) = v.and_then(Value::as_object) else {
            continue;
        };
        for name in map.keys() {
            if !allowed.contains(&name.as_str()) {
                findings.push(Finding {
                    path: format!("qualification.{at}.{name}"),
                    problem: format!("`{name}` is not a rating here"),
                    fix: format!("use one of: {}", allowed.join(", ")),
                });
            }
        }
    }
}

fn thresholds(policy: &Value, findings: &mut Vec<Finding>) {
    let defaults = default_points();
    let q = policy.get("qualification");
    let (lowest, highest) = score_range(policy);
    let ratings = key_of(q, &defaults, "ratings");
    let lines = [
        (
            "qualification.qualify_at",
            key_of(q, &defaults, "qualify_at"),
        ),
        (
            "qualification.ratings.hot",
            ratings
                .and_then(|r| r.get("hot"))
                .or(defaults["ratings"].get("hot")),
        ),
        (
            "qualification.ratings.warm",
            ratings
                .and_then(|r| r.get("warm"))
                .or(defaults["ratings"].get("warm")),
        ),
    ];
    for (path, line) in lines {
        let line = int(line);
        if line > highest {
            findings.push(Finding {
                path: path.to_owned(),
                problem: format!(
                    "no score reaches {line}: the highest score this policy gives is {highest} (lowest {lowest})"
                ),
                fix: format!("lower it to at most {highest}, or give more points"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> Mapping {
        Mapping::parse(
            r#"{"decision": "qualify", "id": "id",
                "custom": {"lead_origin": {"column": "Lead Origin"},
                           "visits": {"column": "v", "type": "number"}},
                "outcome": {"column": "won", "positive": ["1"], "negative": ["0"]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_misspelled_field_is_named_with_the_fix() {
        let policy = json!({"qualification": {"custom_rules": [
            {"field": "lead_origin", "equals": "API", "points": 5},
            {"field": "lead_orgin", "equals": "API", "points": 5}]}});
        let m = mapping();
        let found = lint(&Subject {
            policy: &policy,
            mapping: Some(&m),
            reads: None,
            seen: None,
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "qualification.custom_rules[1].field");
        assert!(found[0].problem.contains("`lead_orgin`"), "{found:?}");
        assert!(found[0].fix.contains("`lead_origin`"), "{found:?}");
    }

    #[test]
    fn a_field_no_record_has_and_one_the_module_does_not_read() {
        let policy = json!({"qualification": {"custom_rules": [
            {"field": "city", "equals": "Pune", "points": 5}]}});
        let seen = Seen {
            source: "leads.csv".into(),
            records: 3,
            fields: [("town".to_owned(), 3)].into(),
        };
        let found = lint(&Subject {
            policy: &policy,
            mapping: None,
            reads: None,
            seen: Some(&seen),
        });
        assert!(
            found[0]
                .problem
                .contains("none of the 3 records of leads.csv"),
            "{found:?}"
        );
        let reads = ["town".to_owned()];
        let found = lint(&Subject {
            policy: &policy,
            mapping: None,
            reads: Some(&reads),
            seen: None,
        });
        assert!(found[0].problem.contains("does not read"), "{found:?}");
    }

    #[test]
    fn a_number_rule_on_a_text_field_is_named() {
        let policy = json!({"qualification": {"custom_rules": [
            {"field": "lead_origin", "at_least": 3, "points": 5},
            {"field": "visits", "equals": "many", "points": 5}]}});
        let m = mapping();
        let found = lint(&Subject {
            policy: &policy,
            mapping: Some(&m),
            reads: None,
            seen: None,
        });
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn the_score_range_counts_the_best_value_of_each_field() {
        let policy = json!({"qualification": {
            "base_points": 10,
            "source_points": {"partner": 20, "web_form": 5},
            "engagement_points": {"none": 0, "content": 5},
            "budget_points": {}, "need_points": {}, "timeframe_points": {},
            "budget_amount_points": 0, "authority_points": 0, "existing_customer_points": 0,
            "custom_rules": [
                {"field": "t", "at_most": 100, "points": -5},
                {"field": "t", "at_least": 101, "at_most": 400, "points": 10},
                {"field": "t", "at_least": 401, "points": 3},
                {"field": "c", "equals": "A", "points": 4},
                {"field": "c", "equals": "a", "points": 4},
                {"field": "c", "equals": "B", "points": -2}]}});
        // 10 + 20 + 5 + 10 + 8 at best; 10 + 0 + 0 - 5 - 2 at worst.
        assert_eq!(score_range(&policy), (3, 53));
    }

    #[test]
    fn a_line_no_score_reaches_and_unknown_names_are_found() {
        let policy = json!({"qualification": {
            "base_points": 0, "qualify_at": 30, "ratings": {"hot": 100, "warm": 30, "lukewarm": 20},
            "required": ["budget", "money"],
            "source_points": {"webform": 40}, "engagement_points": {}, "budget_points": {},
            "need_points": {}, "timeframe_points": {}, "budget_amount_points": 0,
            "authority_points": 0, "existing_customer_points": 0}});
        let found = lint(&Subject {
            policy: &policy,
            mapping: None,
            reads: None,
            seen: None,
        });
        let paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "qualification.source_points.webform",
                "qualification.required[1]",
                "qualification.ratings.lukewarm",
                "qualification.ratings.hot"
            ],
            "{found:?}"
        );
        assert!(found[0].fix.contains("`web_form`"), "{found:?}");
        assert!(
            found[3]
                .problem
                .contains("highest score this policy gives is 40"),
            "{found:?}"
        );
    }
}
