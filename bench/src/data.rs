//! The records every section decides: a realistic lead (the contract's fields plus
//! custom fields, as a CRM record brings them), an opportunity with 20 activities,
//! conversion candidates, and generated Salesforce REST leads for the batch.

use crm_rules::model::{
    Activity, ActivityKind, BudgetStatus, Context, Engagement, FieldValue, Lead, LeadSource, Money,
    Need, Opportunity, OpportunityStatus, Timeframe,
};
use serde_json::json;

pub fn ctx(org: &str) -> Context {
    Context {
        org_id: org.to_owned(),
        now: "2026-11-25T09:00:00Z".parse().expect("instant"),
        user: None,
        team: None,
    }
}

/// The realistic lead: the contract's 15 fields filled plus 15 custom fields (two
/// of which the strict policy reads), ~30 fields as a CRM record brings them.
pub fn lead(i: usize) -> Lead {
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
pub fn opportunity(i: usize) -> Opportunity {
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
        status: OpportunityStatus::Open,
        custom: Default::default(),
    }
}

/// One Salesforce REST Lead of ~30 fields (~800 bytes), BANT in the custom fields
/// the strict org's vocabulary maps.
pub fn salesforce_lead(i: usize) -> String {
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

pub fn generate(n: usize, path: &std::path::Path) {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..n {
        writeln!(out, "{}", salesforce_lead(i)).expect("write");
    }
    out.flush().expect("flush");
}
