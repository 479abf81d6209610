//! GoRules zen-engine models equivalent to the strict policy's qualification and
//! forecast: the peer engine every warm figure is compared with. Its answers are
//! checked against ours before anything is timed.

use crm_rules::model::{FieldValue, Lead, Opportunity};
use serde_json::{json, Value};

/// The strict policy's qualification as a JDM graph: an expression node sums the
/// points (the same table of points per source, engagement, budget, authority,
/// need, timeframe and the two custom rules), two first-hit decision tables give
/// the outcome and the rating.
pub fn qualification() -> zen_engine::Decision {
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
pub fn forecast() -> zen_engine::Decision {
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

pub fn lead(l: &Lead) -> Value {
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

pub fn opportunity(o: &Opportunity) -> Value {
    json!({
        "amount": o.amount.as_ref().map(|m| m.amount),
        "activities": o.activities.iter().map(|a| json!({
            "stage": a.stage, "rating": a.rating, "completed": a.completed
        })).collect::<Vec<_>>()
    })
}

pub fn block_on<F: std::future::Future>(rt: &tokio::runtime::Runtime, f: F) -> F::Output {
    rt.block_on(f)
}
