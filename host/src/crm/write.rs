//! Decisions into the native requests that apply them.
//!
//! Each decision becomes a list of actions, in the order they should be sent:
//! `{"method", "path", "body"}` for REST calls (paths relative to the instance's
//! base URL), `{"operation": "convertLead", "body"}` for Salesforce's lead
//! conversion (a SOAP API / Apex call: Salesforce has no standard REST resource
//! for it). Ids that only exist once an earlier action has run are written as
//! `{placeholders}` naming the response field that holds them. The field names
//! and values are documented in `docs/adapters.md`.

use chrono::NaiveDate;
use crm_rules_model::{
    ConversionPlan, FollowUp, FollowUpKind, Forecast, Outcome, Qualification, RecordAction,
    TransitionCheck,
};
use serde_json::{json, Map, Value};

use super::native::Native;
use super::{Format, Vocabulary};

/// A decision to write.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'d> {
    /// A qualification.
    Qualify(&'d Qualification),
    /// A conversion plan.
    Convert(&'d ConversionPlan),
    /// A checked stage move to `to` (a policy stage).
    Transition {
        /// The check.
        check: &'d TransitionCheck,
        /// The stage asked for.
        to: &'d str,
    },
    /// A forecast.
    Forecast(&'d Forecast),
}

type Result<T> = std::result::Result<T, String>;

fn rest(method: &str, path: String, body: Value) -> Value {
    json!({ "method": method, "path": path, "body": body })
}

fn outcome_key(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Qualified => "qualified".to_owned(),
        Outcome::Disqualified { reason } => format!("disqualified.{reason}"),
        Outcome::Nurture => "nurture".to_owned(),
        Outcome::NeedsInformation { .. } => "needs_information".to_owned(),
    }
}

fn integer(vocab: &Vocabulary, what: &str, value: &str) -> Result<i64> {
    value.parse().map_err(|_| {
        format!(
            "crm.{}.write.{what}: `{value}` is not a whole number (Dataverse option values are)",
            vocab.format
        )
    })
}

fn field_text<'a>(native: &'a Native<'_>, vocab: &Vocabulary, slot: &str) -> Option<&'a str> {
    native
        .fields
        .get(vocab.field(slot)?)
        .and_then(|f| f.value.as_str())
}

/// The actions that apply `decision` to the record `native` in its CRM.
pub fn actions(
    vocab: &Vocabulary,
    native: &Native<'_>,
    decision: Decision<'_>,
) -> Result<Vec<Value>> {
    let id = native.id.as_deref().ok_or_else(|| {
        format!(
            "the {} {} has no id to write to",
            native.format, native.entity
        )
    })?;
    if native.reference_only {
        return Err(format!(
            "the {} {} `{id}` is from an import file: it has a referenceId but no record Id to write to",
            native.format, native.entity
        ));
    }
    match native.format {
        Format::Dataverse => dataverse(vocab, native, id, decision),
        Format::Salesforce => salesforce(vocab, id, decision),
        Format::Hubspot => hubspot(vocab, native, id, decision),
        Format::Canonical => Err("canonical records have no native actions".to_owned()),
    }
}

fn due_time(due: NaiveDate) -> String {
    format!("{due}T00:00:00Z")
}

fn stage_value(vocab: &Vocabulary, stage: &str) -> Result<String> {
    vocab
        .native_stage(stage)
        .map(|(native, _)| native.to_owned())
        .ok_or_else(|| {
            format!(
                "stage `{stage}` has no {} value in this org's vocabulary; map one in crm.{}.stages",
                vocab.format, vocab.format
            )
        })
}

// ---- Dataverse ----------------------------------------------------------------

fn dataverse(
    vocab: &Vocabulary,
    native: &Native<'_>,
    id: &str,
    decision: Decision<'_>,
) -> Result<Vec<Value>> {
    let base = format!("/api/data/{}", vocab.api_version);
    let lead = format!("{base}/leads({id})");
    let mut out = Vec::new();
    match decision {
        Decision::Qualify(q) => {
            let key = outcome_key(&q.outcome);
            let mut patch = Map::new();
            if let Some(rating) = vocab.write_rating(q.rating.as_str()) {
                patch.insert(
                    "leadqualitycode".into(),
                    integer(vocab, "rating", rating)?.into(),
                );
            }
            match &q.outcome {
                Outcome::Qualified => {
                    if !patch.is_empty() {
                        out.push(rest("PATCH", lead.clone(), Value::Object(patch)));
                    }
                    let status = vocab.write_status(&key).unwrap_or("3");
                    let account = field_text(native, vocab, "existing_customer");
                    let mut body = json!({
                        "CreateAccount": account.is_none(),
                        "CreateContact": true,
                        "CreateOpportunity": true,
                        "Status": integer(vocab, &format!("status.{key}"), status)?,
                    });
                    if let Some(account) = account {
                        body["OpportunityCustomerId"] = json!({
                            "@odata.type": "Microsoft.Dynamics.CRM.account",
                            "accountid": account,
                        });
                    }
                    out.push(rest(
                        "POST",
                        format!("{lead}/Microsoft.Dynamics.CRM.QualifyLead"),
                        body,
                    ));
                }
                Outcome::Disqualified { reason } => {
                    let status = vocab.write_status(&key).ok_or_else(|| {
                        format!("crm.dataverse.write.status has no value for `{key}`")
                    })?;
                    patch.insert("statecode".into(), 2.into());
                    patch.insert(
                        "statuscode".into(),
                        integer(vocab, &format!("status.disqualified.{reason}"), status)?.into(),
                    );
                    out.push(rest("PATCH", lead.clone(), Value::Object(patch)));
                }
                Outcome::Nurture | Outcome::NeedsInformation { .. } => {
                    if let Some(status) = vocab.write_status(&key) {
                        patch.insert("statecode".into(), 0.into());
                        patch.insert(
                            "statuscode".into(),
                            integer(vocab, &format!("status.{key}"), status)?.into(),
                        );
                    }
                    if !patch.is_empty() {
                        out.push(rest("PATCH", lead.clone(), Value::Object(patch)));
                    }
                }
            }
            for follow_up in &q.follow_ups {
                out.push(dataverse_follow_up(&base, id, follow_up));
            }
        }
        Decision::Convert(plan) => {
            if let RecordAction::Link(opportunity) = &plan.opportunity {
                out.push(rest(
                    "PATCH",
                    lead.clone(),
                    json!({ "qualifyingopportunityid@odata.bind": format!("/opportunities({opportunity})") }),
                ));
            }
            let mut body = json!({
                "CreateAccount": plan.account == RecordAction::Create,
                "CreateContact": plan.contact == RecordAction::Create,
                "CreateOpportunity": plan.opportunity == RecordAction::Create,
                "Status": integer(vocab, "status.converted", vocab.write_status("converted").unwrap_or("3"))?,
            });
            let customer = match (&plan.account, &plan.contact) {
                (RecordAction::Link(account), _) => Some(("account", account)),
                (_, RecordAction::Link(contact)) => Some(("contact", contact)),
                _ => None,
            };
            if let Some((table, customer)) = customer {
                body["OpportunityCustomerId"] = json!({
                    "@odata.type": format!("Microsoft.Dynamics.CRM.{table}"),
                    format!("{table}id"): customer,
                });
            }
            out.push(rest(
                "POST",
                format!("{lead}/Microsoft.Dynamics.CRM.QualifyLead"),
                body,
            ));
            if plan.opportunity == RecordAction::Create {
                let mut opportunity = Map::new();
                if let Some(name) = &plan.opportunity_name {
                    opportunity.insert("name".into(), name.clone().into());
                }
                if let Ok(stage) = stage_value(vocab, &plan.initial_stage) {
                    if let Ok(n) = stage.parse::<i64>() {
                        opportunity.insert("salesstage".into(), n.into());
                    }
                }
                opportunity.insert("stepname".into(), plan.initial_stage.clone().into());
                if let Some(value) = &plan.estimated_value {
                    opportunity.insert("estimatedvalue".into(), value.amount.into());
                }
                if let Some(close) = plan.estimated_close {
                    opportunity.insert("estimatedclosedate".into(), close.to_string().into());
                }
                out.push(rest(
                    "PATCH",
                    format!("{base}/opportunities({{CreatedEntities.opportunityid}})"),
                    Value::Object(opportunity),
                ));
            }
        }
        Decision::Transition { check, to } => {
            if check.allowed {
                let stage = stage_value(vocab, to)?;
                let mut body = Map::new();
                match stage.parse::<i64>() {
                    Ok(n) => body.insert("salesstage".into(), n.into()),
                    Err(_) => body.insert("stepname".into(), stage.into()),
                };
                if let Some((_, entry)) = vocab.native_stage(to) {
                    if let Some(p) = entry.probability {
                        body.insert("closeprobability".into(), (p.round() as i64).into());
                    }
                }
                out.push(rest(
                    "PATCH",
                    format!("{base}/opportunities({id})"),
                    Value::Object(body),
                ));
            }
        }
        Decision::Forecast(f) => {
            let field = forecast_field(vocab)?;
            out.push(rest(
                "PATCH",
                format!("{base}/opportunities({id})"),
                json!({ field: percent(f.probability) }),
            ));
        }
    }
    Ok(out)
}

fn dataverse_follow_up(base: &str, lead: &str, follow_up: &FollowUp) -> Value {
    let (set, table) = match follow_up.kind {
        FollowUpKind::Call => ("phonecalls", "phonecall"),
        FollowUpKind::Meeting => ("appointments", "appointment"),
        FollowUpKind::Email | FollowUpKind::Task => ("tasks", "task"),
    };
    let mut body = json!({
        "subject": follow_up.subject,
        "scheduledend": due_time(follow_up.due),
        format!("regardingobjectid_lead_{table}@odata.bind"): format!("/leads({lead})"),
    });
    if table == "appointment" {
        body["scheduledstart"] = due_time(follow_up.due).into();
    }
    rest("POST", format!("{base}/{set}"), body)
}

fn percent(probability: f64) -> i64 {
    (probability.clamp(0.0, 1.0) * 100.0).round() as i64
}

fn forecast_field(vocab: &Vocabulary) -> Result<&str> {
    vocab.write.forecast_field.as_deref().ok_or_else(|| {
        format!(
            "{} has no standard writable probability field; name one in crm.{}.write.forecast_field",
            vocab.format, vocab.format
        )
    })
}

// ---- Salesforce ---------------------------------------------------------------

fn salesforce(vocab: &Vocabulary, id: &str, decision: Decision<'_>) -> Result<Vec<Value>> {
    let base = format!("/services/data/{}/sobjects", vocab.api_version);
    let mut out = Vec::new();
    match decision {
        Decision::Qualify(q) => {
            let key = outcome_key(&q.outcome);
            let mut patch = Map::new();
            if let Some(status) = vocab.write_status(&key) {
                patch.insert("Status".into(), status.into());
            } else if matches!(q.outcome, Outcome::Disqualified { .. }) {
                return Err(format!(
                    "crm.salesforce.write.status has no value for `{key}`"
                ));
            }
            if let Some(rating) = vocab.write_rating(q.rating.as_str()) {
                patch.insert("Rating".into(), rating.into());
            }
            if !patch.is_empty() {
                out.push(rest(
                    "PATCH",
                    format!("{base}/Lead/{id}"),
                    Value::Object(patch),
                ));
            }
            for follow_up in &q.follow_ups {
                let body = match follow_up.kind {
                    FollowUpKind::Meeting => json!({
                        "Subject": follow_up.subject,
                        "WhoId": id,
                        "IsAllDayEvent": true,
                        "ActivityDate": follow_up.due.to_string(),
                    }),
                    kind => json!({
                        "Subject": follow_up.subject,
                        "WhoId": id,
                        "ActivityDate": follow_up.due.to_string(),
                        "Status": "Not Started",
                        "TaskSubtype": match kind {
                            FollowUpKind::Call => "Call",
                            FollowUpKind::Email => "Email",
                            _ => "Task",
                        },
                    }),
                };
                let object = if follow_up.kind == FollowUpKind::Meeting {
                    "Event"
                } else {
                    "Task"
                };
                out.push(rest("POST", format!("{base}/{object}"), body));
            }
        }
        Decision::Convert(plan) => {
            let status = vocab.write_status("converted").ok_or_else(|| {
                "crm.salesforce.write.status.converted is not set: name the lead status whose \
                 IsConverted is true"
                    .to_owned()
            })?;
            let mut convert = Map::new();
            convert.insert("leadId".into(), id.into());
            convert.insert("convertedStatus".into(), status.into());
            match &plan.account {
                RecordAction::Link(account) => {
                    convert.insert("accountId".into(), account.clone().into());
                }
                RecordAction::Create => {}
                RecordAction::Skip => {
                    return Err(
                        "Salesforce cannot convert a lead without an account (the plan skips it)"
                            .to_owned(),
                    )
                }
            }
            if let RecordAction::Link(contact) = &plan.contact {
                convert.insert("contactId".into(), contact.clone().into());
            }
            convert.insert(
                "doNotCreateOpportunity".into(),
                (plan.opportunity != RecordAction::Create).into(),
            );
            if let RecordAction::Link(opportunity) = &plan.opportunity {
                convert.insert("opportunityId".into(), opportunity.clone().into());
            }
            if plan.opportunity == RecordAction::Create {
                if let Some(name) = &plan.opportunity_name {
                    convert.insert("opportunityName".into(), name.clone().into());
                }
            }
            out.push(json!({
                "operation": "convertLead",
                "body": { "leadConverts": [Value::Object(convert)] },
            }));
            if plan.opportunity == RecordAction::Create {
                let mut opportunity = Map::new();
                opportunity.insert(
                    "StageName".into(),
                    stage_value(vocab, &plan.initial_stage)?.into(),
                );
                if let Some(value) = &plan.estimated_value {
                    opportunity.insert("Amount".into(), value.amount.into());
                }
                if let Some(close) = plan.estimated_close {
                    opportunity.insert("CloseDate".into(), close.to_string().into());
                }
                out.push(rest(
                    "PATCH",
                    format!("{base}/Opportunity/{{opportunityId}}"),
                    Value::Object(opportunity),
                ));
            }
        }
        Decision::Transition { check, to } => {
            if check.allowed {
                out.push(rest(
                    "PATCH",
                    format!("{base}/Opportunity/{id}"),
                    json!({ "StageName": stage_value(vocab, to)? }),
                ));
            }
        }
        Decision::Forecast(f) => {
            out.push(rest(
                "PATCH",
                format!("{base}/Opportunity/{id}"),
                json!({ forecast_field(vocab)?: percent(f.probability) }),
            ));
        }
    }
    Ok(out)
}

// ---- HubSpot ------------------------------------------------------------------

/// HubSpot's default association type ids (developers.hubspot.com, associations v4).
const TASK_TO_CONTACT: u32 = 204;
const DEAL_TO_CONTACT: u32 = 3;
const DEAL_TO_COMPANY: u32 = 5;

const LIFECYCLE_ORDER: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
];

fn association(id: &str, type_id: u32) -> Value {
    json!({
        "to": { "id": id },
        "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id }],
    })
}

/// Contact properties for an outcome. Lifecycle stages only move forward
/// (HubSpot refuses to move a contact back without clearing the stage first), so a
/// stage before the contact's current one is not written.
fn hubspot_contact_update(
    vocab: &Vocabulary,
    native: &Native<'_>,
    key: &str,
) -> Map<String, Value> {
    let mut properties = Map::new();
    if let Some(stage) = vocab.write_lifecycle(key) {
        let current = field_text(native, vocab, "lifecycle");
        let rank = |s: &str| LIFECYCLE_ORDER.iter().position(|x| *x == s);
        let backwards = match (current.and_then(rank), rank(stage)) {
            (Some(now), Some(new)) => new < now,
            _ => false,
        };
        if !backwards && current != Some(stage) {
            properties.insert("lifecyclestage".into(), stage.into());
        }
    }
    if let Some(status) = vocab.write_status(key) {
        properties.insert("hs_lead_status".into(), status.into());
    }
    properties
}

fn hubspot(
    vocab: &Vocabulary,
    native: &Native<'_>,
    id: &str,
    decision: Decision<'_>,
) -> Result<Vec<Value>> {
    let base = "/crm/v3/objects";
    let mut out = Vec::new();
    match decision {
        Decision::Qualify(q) => {
            let properties = hubspot_contact_update(vocab, native, &outcome_key(&q.outcome));
            if !properties.is_empty() {
                out.push(rest(
                    "PATCH",
                    format!("{base}/contacts/{id}"),
                    json!({ "properties": properties }),
                ));
            }
            for follow_up in &q.follow_ups {
                out.push(rest(
                    "POST",
                    format!("{base}/tasks"),
                    json!({
                        "properties": {
                            "hs_timestamp": due_time(follow_up.due),
                            "hs_task_subject": follow_up.subject,
                            "hs_task_type": match follow_up.kind {
                                FollowUpKind::Call => "CALL",
                                FollowUpKind::Email => "EMAIL",
                                _ => "TODO",
                            },
                            "hs_task_status": "NOT_STARTED",
                        },
                        "associations": [association(id, TASK_TO_CONTACT)],
                    }),
                ));
            }
        }
        Decision::Convert(plan) => {
            if plan.opportunity == RecordAction::Create {
                let mut properties = Map::new();
                if let Some(name) = &plan.opportunity_name {
                    properties.insert("dealname".into(), name.clone().into());
                }
                if let Some(pipeline) = &vocab.write.pipeline {
                    properties.insert("pipeline".into(), pipeline.clone().into());
                }
                properties.insert(
                    "dealstage".into(),
                    stage_value(vocab, &plan.initial_stage)?.into(),
                );
                if let Some(value) = &plan.estimated_value {
                    properties.insert("amount".into(), value.amount.to_string().into());
                    properties.insert("deal_currency_code".into(), value.currency.clone().into());
                }
                if let Some(close) = plan.estimated_close {
                    properties.insert("closedate".into(), due_time(close).into());
                }
                let mut associations = vec![association(id, DEAL_TO_CONTACT)];
                let company = match &plan.account {
                    RecordAction::Link(account) => Some(account.clone()),
                    _ => native.companies.first().cloned(),
                };
                if let Some(company) = company {
                    associations.push(association(&company, DEAL_TO_COMPANY));
                }
                out.push(rest(
                    "POST",
                    format!("{base}/deals"),
                    json!({ "properties": properties, "associations": associations }),
                ));
            }
            let properties = hubspot_contact_update(vocab, native, "converted");
            if !properties.is_empty() {
                out.push(rest(
                    "PATCH",
                    format!("{base}/contacts/{id}"),
                    json!({ "properties": properties }),
                ));
            }
        }
        Decision::Transition { check, to } => {
            if check.allowed {
                out.push(rest(
                    "PATCH",
                    format!("{base}/deals/{id}"),
                    json!({ "properties": { "dealstage": stage_value(vocab, to)? } }),
                ));
            }
        }
        Decision::Forecast(f) => {
            let field = forecast_field(vocab)?;
            out.push(rest(
                "PATCH",
                format!("{base}/deals/{id}"),
                json!({ "properties": { field: (percent(f.probability) as f64 / 100.0).to_string() } }),
            ));
        }
    }
    Ok(out)
}
