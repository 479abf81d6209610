//! The reference rules, decision by decision, on the contract's own types. The
//! example orgs' fixtures (tests/fixtures.rs) pin the rendered texts end to end.

use chrono::NaiveDate;

use super::*;
use crate::contract::*;
use crate::dates;

const STRICT: &str = include_str!("../../../examples/strict/policy.json");
const LOOSE: &str = include_str!("../../../examples/loose/policy.json");

fn ctx() -> Context {
    // 2026-11-25T10:00:00Z, a Wednesday.
    Context {
        now: 1_795_600_800,
        user: None,
        team: None,
    }
}

fn rules(policy: &str) -> Reference {
    Reference::parse(policy).unwrap()
}

fn lead() -> Lead {
    Lead {
        present: LeadTexts::ID,
        id: None,
        company: None,
        contact_name: None,
        email: None,
        topic: None,
        source: None,
        engagement: Engagement::None,
        budget: None,
        budget_status: None,
        decision_maker_known: None,
        need: None,
        timeframe: None,
        estimated_value: None,
        estimated_close: None,
        existing_customer: false,
        custom: Vec::new(),
    }
}

fn opportunity(stage: u32) -> Opportunity {
    Opportunity {
        id: None,
        name: None,
        stage,
        status: OpportunityStatus::Open,
        amount: None,
        close_date: None,
        steps_done: Vec::new(),
        activities: Vec::new(),
        custom: Vec::new(),
    }
}

fn activity(stage: u32, rating: u8) -> Activity {
    Activity {
        kind: ActivityKind::Meeting,
        stage,
        rating,
        completed: true,
        on: None,
    }
}

fn code(rules: &Reference, template: u32) -> &str {
    &rules.templates().as_slice()[template as usize].code
}

fn codes(rules: &Reference, reasons: &[Reason]) -> Vec<String> {
    reasons
        .iter()
        .map(|r| code(rules, r.template).to_owned())
        .collect()
}

#[test]
fn qualification_follows_the_required_criteria() {
    let strict = rules(r#"{"name": "strict"}"#);
    let lead = Lead {
        present: LeadTexts::ID | LeadTexts::EMAIL,
        need: Some(Need::MustHave),
        engagement: Engagement::Conversation,
        ..lead()
    };
    let q = strict.qualify(&ctx(), &lead).unwrap();
    let missing = vec![
        FieldRef::Lead(LeadField::BudgetStatus),
        FieldRef::Lead(LeadField::DecisionMakerKnown),
        FieldRef::Lead(LeadField::Timeframe),
    ];
    assert_eq!(q.outcome, Outcome::NeedsInformation(missing.clone()));
    assert_eq!(
        q.reasons.last().map(|r| &r.args),
        Some(&vec![Arg::Fields(missing)])
    );
    let loose = rules(r#"{"name": "loose", "qualification": {"required": [], "qualify_at": 25}}"#);
    assert_eq!(
        loose.qualify(&ctx(), &lead).unwrap().outcome,
        Outcome::Qualified
    );
}

#[test]
fn a_lead_without_an_id_is_refused() {
    let lead = Lead {
        present: LeadTexts::EMAIL,
        ..lead()
    };
    let err = rules(STRICT).qualify(&ctx(), &lead).unwrap_err();
    assert_eq!(err.code, ErrorCode::MissingField);
    assert_eq!(err.field.as_deref(), Some("id"));
}

#[test]
fn each_scoring_rule_has_its_own_template_and_points() {
    let strict = rules(STRICT);
    let lead = Lead {
        present: LeadTexts::ID | LeadTexts::EMAIL,
        source: Some(LeadSource::WebForm),
        engagement: Engagement::Evaluation,
        budget_status: Some(BudgetStatus::CanBuy),
        ..lead()
    };
    let q = strict.qualify(&ctx(), &lead).unwrap();
    assert_eq!(
        codes(&strict, &q.reasons),
        [
            "source.web_form",
            "engagement.evaluation",
            "budget.can_buy",
            "qualify.not_yet_known"
        ]
    );
    let points: Vec<_> = q.reasons.iter().map(|r| r.points).collect();
    assert_eq!(points, [Some(30), Some(25), Some(10), None]);
    assert_eq!(q.score, 65);
    let texts = strict.templates();
    let web_form = texts.find("source.web_form").unwrap();
    assert_eq!(texts.get(web_form).unwrap().text, "source web_form");
}

#[test]
fn the_fixed_templates_keep_their_indices_whatever_the_policy() {
    let (bare, strict) = (rules(r#"{"name": "x"}"#), rules(STRICT));
    let fixed = bare.templates().as_slice();
    assert_eq!(&strict.templates().as_slice()[..fixed.len()], fixed);
    let custom: Vec<_> = strict.templates().as_slice()[fixed.len()..]
        .iter()
        .map(|t| (t.code.as_str(), t.text.as_str()))
        .collect();
    assert_eq!(
        custom,
        [
            (
                "custom.new_industry=Government",
                "public sector is a target market"
            ),
            ("custom.new_employees>=1000", "enterprise-sized company"),
        ]
    );
    let mut seen = std::collections::BTreeSet::new();
    assert!(strict
        .templates()
        .as_slice()
        .iter()
        .all(|t| seen.insert(&t.code)));
}

#[test]
fn repeated_custom_rules_and_braces_in_reasons_keep_apart() {
    let policy = r#"{"name": "x", "qualification": {"custom_rules": [
        {"field": "size", "at_least": 10, "at_most": 50, "points": 5},
        {"field": "size", "at_least": 10, "at_most": 50, "points": -5, "reason": "odd {size}"},
        {"field": "flag", "equals": true, "points": 1}]}}"#;
    let r = rules(policy);
    let custom: Vec<_> = r
        .templates()
        .as_slice()
        .iter()
        .filter(|t| t.code.starts_with("custom."))
        .map(|t| (t.code.as_str(), t.text.as_str()))
        .collect();
    assert_eq!(
        custom,
        [
            ("custom.size>=10<=50", "custom field size"),
            ("custom.size>=10<=50#2", "odd {{size}}"),
            ("custom.flag=true", "custom field flag"),
        ]
    );
    assert_eq!(r.reads().query().custom_fields, ["size", "flag"]);
}

#[test]
fn the_input_query_asks_for_what_the_rules_read_and_no_more() {
    let reads = rules(STRICT).info().reads;
    assert!(reads.qualify.is_empty());
    assert_eq!(
        reads.convert,
        LeadTexts::COMPANY | LeadTexts::EMAIL | LeadTexts::TOPIC
    );
    assert!(reads.transition.is_empty());
    assert_eq!(reads.forecast, OpportunityParts::ACTIVITIES);
    assert_eq!(reads.custom_fields, ["new_industry", "new_employees"]);
}

#[test]
fn custom_rules_read_their_field_by_index() {
    let strict = rules(STRICT);
    let lead = Lead {
        present: LeadTexts::ID | LeadTexts::EMAIL,
        custom: vec![
            CustomValue {
                field: 0,
                value: FieldValue::Text(" government ".into()),
            },
            CustomValue {
                field: 1,
                value: FieldValue::Number(999.0),
            },
        ],
        ..lead()
    };
    let q = strict.qualify(&ctx(), &lead).unwrap();
    assert_eq!(q.score, 5);
    assert_eq!(q.reasons[0].points, Some(5));
    assert_eq!(
        code(&strict, q.reasons[0].template),
        "custom.new_industry=Government"
    );
}

#[test]
fn base_points_count_before_the_score_is_clamped() {
    let r = rules(r#"{"name": "x", "qualification": {"base_points": 10}}"#);
    let lead = Lead {
        present: LeadTexts::ID | LeadTexts::EMAIL,
        source: Some(LeadSource::WebForm),
        ..lead()
    };
    let q = r.qualify(&ctx(), &lead).unwrap();
    assert_eq!(q.score, 40);
    assert_eq!(code(&r, q.reasons[0].template), "base_points");
    assert_eq!(q.reasons[0].points, Some(10));
    let r = rules(r#"{"name": "x", "qualification": {"base_points": -100}}"#);
    assert_eq!(r.qualify(&ctx(), &lead).unwrap().score, 0);
}

#[test]
fn the_follow_up_addresses_the_contact_else_the_company_else_the_id() {
    // Uncontactable leads are disqualified by default: this policy keeps them.
    let keep = rules(r#"{"name": "x", "qualification": {"disqualify_uncontactable": false}}"#);
    let follow_up = |present| {
        let lead = Lead { present, ..lead() };
        let q = keep.qualify(&ctx(), &lead).unwrap();
        q.follow_ups[0].clone()
    };
    let who = |present| follow_up(present).subject.args[0].clone();
    let all = LeadTexts::ID | LeadTexts::CONTACT_NAME | LeadTexts::COMPANY;
    assert_eq!(who(all), Arg::Value(FieldRef::Lead(LeadField::ContactName)));
    assert_eq!(
        who(LeadTexts::ID | LeadTexts::COMPANY),
        Arg::Value(FieldRef::Lead(LeadField::Company))
    );
    let f = follow_up(LeadTexts::ID);
    assert_eq!(f.subject.args[0], Arg::Value(FieldRef::Lead(LeadField::Id)));
    assert_eq!(
        code(&keep, f.subject.template),
        "follow_up.email.confirm_missing"
    );
    // Due five business days after Wednesday 2026-11-25: Wednesday 2026-12-02.
    assert_eq!(
        Some(f.due),
        NaiveDate::from_ymd_opt(2026, 12, 2).map(dates::from_naive)
    );
}

#[test]
fn ties_between_candidates_go_to_the_first_preferred_one() {
    let loose = rules(LOOSE);
    let lead = Lead {
        present: LeadTexts::ID | LeadTexts::COMPANY | LeadTexts::EMAIL,
        company: Some("Lund Shipping".into()),
        email: Some("eva@lund.example".into()),
        source: Some(LeadSource::WebForm),
        engagement: Engagement::Evaluation,
        ..lead()
    };
    let account = |name: &str, active| Candidate {
        kind: RecordKind::Account,
        name: name.into(),
        email: None,
        active,
        account: None,
    };
    let contact = |account| Candidate {
        kind: RecordKind::Contact,
        name: "Eva".into(),
        email: Some(" EVA@lund.example".into()),
        active: false,
        account,
    };
    let candidates = [
        account("lund  shipping", false),
        account("Lund Shipping", true),
        contact(None),
        contact(Some(1)),
    ];
    let plan = loose.convert(&ctx(), &lead, &candidates).unwrap();
    assert_eq!(plan.account, RecordAction::Link(1));
    assert_eq!(plan.contact, RecordAction::Link(3));
    assert!(plan.skipped_lead_stage);
    let candidates = [
        account("Lund Shipping", false),
        account("lund shipping", false),
    ];
    let plan = loose.convert(&ctx(), &lead, &candidates).unwrap();
    assert_eq!(plan.account, RecordAction::Link(0));
    assert_eq!(plan.contact, RecordAction::Create);
}

#[test]
fn a_contact_is_created_for_a_contact_name_the_module_does_not_read() {
    let loose = rules(LOOSE);
    let lead = Lead {
        present: LeadTexts::ID | LeadTexts::CONTACT_NAME,
        source: Some(LeadSource::WebForm),
        engagement: Engagement::Evaluation,
        ..lead()
    };
    let plan = loose.convert(&ctx(), &lead, &[]).unwrap();
    assert_eq!(plan.contact, RecordAction::Create);
    assert_eq!(plan.account, RecordAction::Skip);
    assert_eq!(plan.opportunity_name, None);
}

#[test]
fn the_opportunity_is_named_by_topic_else_company() {
    let loose = rules(LOOSE);
    let mut lead = Lead {
        present: LeadTexts::ID | LeadTexts::COMPANY,
        company: Some("Lund".into()),
        source: Some(LeadSource::WebForm),
        engagement: Engagement::Evaluation,
        ..lead()
    };
    let name = |lead: &Lead| {
        let plan = loose.convert(&ctx(), lead, &[]).unwrap();
        let name = plan.opportunity_name.unwrap();
        (code(&loose, name.template).to_owned(), name.args)
    };
    let company = Arg::Value(FieldRef::Lead(LeadField::Company));
    assert_eq!(
        name(&lead),
        ("convert.company_opportunity".to_owned(), vec![company])
    );
    lead.topic = Some("Cranes".into());
    let topic = Arg::Value(FieldRef::Lead(LeadField::Topic));
    assert_eq!(
        name(&lead),
        ("convert.opportunity_name".to_owned(), vec![topic])
    );
}

#[test]
fn stage_indices_out_of_range_are_refused_not_a_panic() {
    let strict = rules(STRICT);
    let err = strict
        .check_transition(&ctx(), &opportunity(9), 1)
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::UnknownStage, Some("stage"))
    );
    let err = strict
        .check_transition(&ctx(), &opportunity(1), u32::MAX)
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("to"));
    let mut o = opportunity(1);
    o.activities = vec![activity(1, 3), activity(4, 3)];
    let err = strict.forecast(&ctx(), &o).unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::UnknownStage, Some("activities[1].stage"))
    );
}

#[test]
fn a_forward_move_needs_the_required_steps_done() {
    let strict = rules(STRICT);
    // Develop (1) to Propose (2): step 7, "customerneed", is Develop's required one.
    let check = strict.check_transition(&ctx(), &opportunity(1), 2).unwrap();
    assert!(!check.allowed);
    assert_eq!(check.missing, [FieldRef::Step(7)]);
    assert_eq!(strict.stages()[1].steps[0].field, "customerneed");
    let done = Opportunity {
        steps_done: vec![7],
        ..opportunity(1)
    };
    let check = strict.check_transition(&ctx(), &done, 2).unwrap();
    assert!(check.allowed && check.missing.is_empty());
    assert_eq!(codes(&strict, &check.reasons), ["transition.steps_done"]);
}

#[test]
fn closed_deals_are_certain() {
    let strict = rules(STRICT);
    let amount = Some(Money {
        amount: 1000.0,
        currency: Currency::from_code("EUR").unwrap(),
    });
    for (status, probability, reason) in [
        (OpportunityStatus::Won, 1.0, "forecast.won"),
        (OpportunityStatus::Lost, 0.0, "forecast.lost"),
    ] {
        let o = Opportunity {
            status,
            amount,
            activities: vec![activity(0, 2)],
            ..opportunity(2)
        };
        let f = strict.forecast(&ctx(), &o).unwrap();
        assert_eq!(f.probability, probability);
        assert_eq!(
            f.weighted_value.map(|m| m.amount),
            Some(1000.0 * probability)
        );
        assert_eq!(codes(&strict, &f.reasons), [reason]);
        assert_eq!(f.stages[0].activities, 1);
    }
}

#[test]
fn stage_priors_move_with_the_activities_on_the_log_odds_scale() {
    let policy = r#"{"name": "x", "forecast": {
        "weights": {"Qualify": 1, "Develop": 1, "Propose": 1, "Close": 1},
        "stage_probabilities": {"Qualify": 0.1, "Develop": 0.25, "Propose": 0.4, "Close": 0.7}}}"#;
    let r = rules(policy);
    let quiet = r.forecast(&ctx(), &opportunity(2)).unwrap();
    assert_eq!(quiet.probability, 0.4);
    assert_eq!(
        codes(&r, &quiet.reasons),
        ["forecast.prior", "forecast.no_activities"]
    );
    assert_eq!(quiet.reasons[0].args, [Arg::Stage(2), Arg::Number(0.4)]);
    // Two stages with perfect ratings: E = (0.5 + 0.5) / 4 = 0.25, so the log-odds
    // rise by 4 * 0.25 = 1.
    let busy = Opportunity {
        activities: vec![activity(0, 5), activity(1, 5)],
        ..opportunity(2)
    };
    let f = r.forecast(&ctx(), &busy).unwrap();
    let expected = 1.0 / (1.0 + (-((0.4f64 / 0.6).ln() + 1.0)).exp());
    assert_eq!(f.probability, round(expected, 4));
    // A certain prior is pulled back from 1 so activities can still move it.
    let sure = r#"{"name": "x", "forecast": {
        "stage_probabilities": {"Qualify": 1, "Develop": 1, "Propose": 1, "Close": 1}}}"#;
    let f = rules(sure).forecast(&ctx(), &opportunity(0)).unwrap();
    assert_eq!(f.probability, 0.999);
}

#[test]
fn the_default_forecast_is_the_weighted_mean_rating() {
    let strict = rules(STRICT);
    let o = Opportunity {
        activities: vec![activity(0, 5), activity(1, 3), activity(1, 4)],
        ..opportunity(1)
    };
    let f = strict.forecast(&ctx(), &o).unwrap();
    // (1 * 1.0 + 2 * 0.625) / 10
    assert_eq!(f.probability, 0.225);
    assert_eq!(
        codes(&strict, &f.reasons),
        ["forecast.stage_activity", "forecast.stage_activities"]
    );
    assert_eq!(
        f.reasons[1].args,
        [
            Arg::Stage(1),
            Arg::Integer(2),
            Arg::Number(0.625),
            Arg::Number(2.0)
        ]
    );
}
