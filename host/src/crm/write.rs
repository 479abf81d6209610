//! Decisions into the native requests that apply them.
//!
//! Each decision becomes a list of [`Request`]s in the order they must be sent.
//! Updates of existing records never create one by mistake (Dataverse
//! `If-Match`); records a decision creates get a key derived from the org, the
//! record, the decision and the module version ([`idempotency_key`]), so a
//! retried run updates what the first run created. An id that only an earlier
//! response holds is written `@{reference.field}`. [`bundle`](super::bundle)
//! groups a record's requests into one atomic send per CRM. Every request and
//! the documentation it follows are listed in `docs/adapters.md`.

use chrono::{Days, NaiveDate};
use crm_rules_model::{
    ConversionPlan, FollowUp, FollowUpKind, Forecast, Outcome, Qualification, RecordAction,
    TransitionCheck,
};
use serde_json::{json, Map, Value};

use super::native::Native;
use super::request::{idempotency_key, key_guid, reference, Api, Method, Origin, Request};
use super::{Format, Vocabulary};

pub use super::request::WriteError;

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

impl Decision<'_> {
    /// The decision's kind, as idempotency keys name it.
    fn kind(&self) -> &'static str {
        match self {
            Decision::Qualify(_) => "qualify",
            Decision::Convert(_) => "convert",
            Decision::Transition { .. } => "transition",
            Decision::Forecast(_) => "forecast",
        }
    }
}

type Result<T> = std::result::Result<T, WriteError>;

/// What every request of one record's decision shares.
struct Target<'a, 'n> {
    vocab: &'a Vocabulary,
    native: &'a Native<'n>,
    id: &'a str,
    origin: &'a Origin<'a>,
    kind: &'static str,
}

impl Target<'_, '_> {
    /// The idempotency key of one record this decision creates.
    fn key(&self, item: &str) -> String {
        idempotency_key(self.origin, self.id, self.kind, item)
    }

    fn text(&self, slot: &str) -> Option<&str> {
        self.native
            .fields
            .get(self.vocab.field(slot)?)
            .and_then(|f| f.value.as_str())
            .filter(|s| !s.is_empty())
    }

    /// A native field's non-empty text, by its native name.
    fn text_field(&self, name: &str) -> Option<&str> {
        self.native
            .fields
            .get(name)
            .and_then(|f| f.value.as_str())
            .filter(|s| !s.is_empty())
    }

    fn setting(&self, rest: &str, message: impl Into<String>) -> WriteError {
        WriteError::Setting {
            setting: format!("crm.{}.{rest}", self.vocab.format),
            message: message.into(),
        }
    }

    fn refused(&self, reason: impl Into<String>) -> WriteError {
        WriteError::Refused {
            format: self.vocab.format,
            reason: reason.into(),
        }
    }

    fn integer(&self, what: &str, value: &str) -> Result<i64> {
        value.parse().map_err(|_| {
            self.setting(
                &format!("write.{what}"),
                format!("`{value}` is not a whole number (Dataverse option values are)"),
            )
        })
    }

    fn stage_value(&self, stage: &str) -> Result<(String, Option<f64>)> {
        self.vocab
            .native_stage(stage)
            .map(|(native, entry)| (native.to_owned(), entry.probability))
            .ok_or_else(|| {
                self.setting(
                    "stages",
                    format!(
                        "stage `{stage}` has no {} value in this org's vocabulary; map one",
                        self.vocab.format
                    ),
                )
            })
    }

    fn forecast_field(&self) -> Result<&str> {
        self.vocab.write.forecast_field.as_deref().ok_or_else(|| {
            self.setting(
                "write.forecast_field",
                format!(
                    "{} has no standard writable probability field; name one",
                    self.vocab.format
                ),
            )
        })
    }
}

fn outcome_key(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Qualified => "qualified".to_owned(),
        Outcome::Disqualified { reason } => format!("disqualified.{reason}"),
        Outcome::Nurture => "nurture".to_owned(),
        Outcome::NeedsInformation { .. } => "needs_information".to_owned(),
    }
}

/// The requests that apply `decision` to the record `native` in its CRM.
/// `origin` names the org and module version the idempotency keys derive from.
pub fn actions(
    vocab: &Vocabulary,
    native: &Native<'_>,
    decision: Decision<'_>,
    origin: &Origin<'_>,
) -> Result<Vec<Request>> {
    let id = native.id.as_deref().ok_or_else(|| WriteError::NoId {
        format: native.format,
        entity: native.entity.clone(),
    })?;
    if native.reference_only {
        return Err(WriteError::ImportReference {
            format: native.format,
            entity: native.entity.clone(),
            id: id.to_owned(),
        });
    }
    let target = Target {
        vocab,
        native,
        id,
        origin,
        kind: decision.kind(),
    };
    match native.format {
        Format::Dataverse => dataverse(&target, decision),
        Format::Salesforce => salesforce(&target, decision),
        Format::Hubspot => hubspot(&target, decision),
        Format::Canonical => Err(WriteError::Canonical),
    }
}

fn midnight(day: NaiveDate) -> String {
    format!("{day}T00:00:00Z")
}

fn percent(probability: f64) -> i64 {
    (probability.clamp(0.0, 1.0) * 100.0).round() as i64
}

// ---- Dataverse ----------------------------------------------------------------
//
// Sources (MicrosoftDocs/powerapps-docs, developer/data-platform/webapi/):
// update-delete-entities-using-web-api.md (`If-Match: *` keeps an update from
// creating a record; upsert creates a record under a chosen id);
// perform-conditional-operations-using-web-api.md (`If-Match: <etag>` for
// optimistic concurrency); the QualifyLead action reference (previous-versions
// dynamicscrm-2016 mt491164: parameters; returns Collection(crmbaseentity)).

/// Table logical name from an entity set name (`phonecalls` → `phonecall`).
fn dataverse_table(set: &str) -> &str {
    match set {
        "opportunities" => "opportunity",
        _ => set.strip_suffix('s').unwrap_or(set),
    }
}

/// An update that never creates: the record's etag when it was read (optimistic
/// concurrency), else `*` (the record must exist).
fn dataverse_update(t: &Target<'_, '_>, reference: &str, path: String, body: Value) -> Request {
    let condition = t.native.etag.clone().unwrap_or_else(|| "*".to_owned());
    Request::rest(reference, Method::Patch, path, body).header("If-Match", condition)
}

fn dataverse(t: &Target<'_, '_>, decision: Decision<'_>) -> Result<Vec<Request>> {
    let base = format!("/api/data/{}", t.vocab.api_version);
    let leads = t.vocab.object("lead");
    let opportunities = t.vocab.object("opportunity");
    let lead = format!("{base}/{leads}({})", t.id);
    let mut out = Vec::new();
    match decision {
        Decision::Qualify(q) => {
            // Qualifying sets rating and status only. QualifyLead creates records
            // without the convert decision's de-duplication and leaves the lead
            // read-only, so it belongs to convert.
            let key = outcome_key(&q.outcome);
            let mut patch = Map::new();
            if let Some(rating) = t.vocab.write_rating(q.rating.as_str()) {
                patch.insert(
                    "leadqualitycode".into(),
                    t.integer("rating", rating)?.into(),
                );
            }
            match &q.outcome {
                Outcome::Disqualified { reason } => {
                    let status = t.vocab.write_status(&key).ok_or_else(|| {
                        t.setting(&format!("write.status.{key}"), "no lead status is set")
                    })?;
                    patch.insert("statecode".into(), 2.into());
                    patch.insert(
                        "statuscode".into(),
                        t.integer(&format!("status.disqualified.{reason}"), status)?
                            .into(),
                    );
                }
                _ => {
                    // Open (statecode 0) statuses only: Qualified (statecode 1) is
                    // what QualifyLead sets when the lead converts.
                    if let Some(status) = t.vocab.write_status(&key) {
                        patch.insert("statecode".into(), 0.into());
                        patch.insert(
                            "statuscode".into(),
                            t.integer(&format!("status.{key}"), status)?.into(),
                        );
                    }
                }
            }
            if !patch.is_empty() {
                out.push(dataverse_update(t, "lead", lead, Value::Object(patch)));
            }
            for (i, follow_up) in q.follow_ups.iter().enumerate() {
                out.push(dataverse_follow_up(t, &base, leads, i + 1, follow_up));
            }
        }
        Decision::Convert(plan) => {
            let contacts = t.vocab.object("contact");
            let accounts = t.vocab.object("company");
            // A retry after QualifyLead succeeded and its answer was lost: the
            // lead, read again, is qualified (statecode 1) and names the
            // opportunity it became (`qualifyingopportunityid`). QualifyLead
            // would now fail on the qualified lead; only what is still missing
            // is sent, to the records the first call created.
            if let Some(created) = dataverse_converted(t, plan)? {
                if let Some(opportunity) = created {
                    out.push(
                        dataverse_opportunity(t, plan, &contacts_bind(contacts, plan))?
                            .path_to(format!("{base}/{opportunities}({opportunity})")),
                    );
                }
                return Ok(out);
            }
            // The lead is read-only once qualified: link it first. Existing
            // records the plan links are bound on the lead (parentaccountid,
            // parentcontactid: the lead's "existing account/contact"), because
            // QualifyLead takes one OpportunityCustomerId and a linked contact
            // next to a linked account would otherwise be bound to nothing.
            let mut link = Map::new();
            if let RecordAction::Link(opportunity) = &plan.opportunity {
                link.insert(
                    "qualifyingopportunityid@odata.bind".into(),
                    format!("/{opportunities}({opportunity})").into(),
                );
            }
            if let RecordAction::Link(account) = &plan.account {
                link.insert(
                    "parentaccountid@odata.bind".into(),
                    format!("/{accounts}({account})").into(),
                );
            }
            if let RecordAction::Link(contact) = &plan.contact {
                link.insert(
                    "parentcontactid@odata.bind".into(),
                    format!("/{contacts}({contact})").into(),
                );
            }
            if !link.is_empty() {
                out.push(dataverse_update(
                    t,
                    "lead",
                    lead.clone(),
                    Value::Object(link),
                ));
            }
            let status = t.vocab.write_status("converted").unwrap_or("3");
            let mut body = json!({
                "CreateAccount": plan.account == RecordAction::Create,
                "CreateContact": plan.contact == RecordAction::Create,
                "CreateOpportunity": plan.opportunity == RecordAction::Create,
                "Status": t.integer("status.converted", status)?,
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
            if plan.opportunity == RecordAction::Create {
                if let Some(currency) = dataverse_currency(t, plan)? {
                    body["OpportunityCurrencyId"] = json!({
                        "@odata.type": "Microsoft.Dynamics.CRM.transactioncurrency",
                        "transactioncurrencyid": currency,
                    });
                }
            }
            out.push(Request::rest(
                "qualify",
                Method::Post,
                format!("{lead}/Microsoft.Dynamics.CRM.QualifyLead"),
                body,
            ));
            if plan.opportunity == RecordAction::Create {
                // QualifyLead answers with the created records as a collection
                // (no Location header), so a change set's `$n` cannot name the
                // opportunity: its id is read from that collection.
                out.push(
                    dataverse_opportunity(t, plan, &contacts_bind(contacts, plan))?.path_to(
                        format!(
                            "{base}/{opportunities}({})",
                            reference("qualify", "opportunityid")
                        ),
                    ),
                );
            }
        }
        Decision::Transition { check, to } => {
            if check.allowed {
                let (stage, probability) = t.stage_value(to)?;
                let mut body = Map::new();
                match stage.parse::<i64>() {
                    Ok(n) => body.insert("salesstage".into(), n.into()),
                    Err(_) => body.insert("stepname".into(), stage.into()),
                };
                if let Some(p) = probability {
                    body.insert("closeprobability".into(), (p.round() as i64).into());
                }
                out.push(dataverse_update(
                    t,
                    "opportunity",
                    format!("{base}/{opportunities}({})", t.id),
                    Value::Object(body),
                ));
            }
        }
        Decision::Forecast(f) => {
            let field = t.forecast_field()?;
            out.push(dataverse_update(
                t,
                "opportunity",
                format!("{base}/{opportunities}({})", t.id),
                json!({ field: percent(f.probability) }),
            ));
        }
    }
    Ok(out)
}

/// The `parentcontactid` bind of a contact the plan links (the opportunity's
/// contact: OpportunityCustomerId holds the account when both are linked).
fn contacts_bind(contacts: &str, plan: &ConversionPlan) -> Option<String> {
    match &plan.contact {
        RecordAction::Link(contact) => Some(format!("/{contacts}({contact})")),
        _ => None,
    }
}

/// The update that sets the new opportunity's stage, amount and close date
/// (and its linked contact), to be pointed at the opportunity with
/// [`Request::path_to`]. `If-Match: *`: an update never creates.
fn dataverse_opportunity(
    t: &Target<'_, '_>,
    plan: &ConversionPlan,
    contact: &Option<String>,
) -> Result<Request> {
    let mut opportunity = Map::new();
    if let Some(name) = &plan.opportunity_name {
        opportunity.insert("name".into(), name.clone().into());
    }
    // An unmapped stage is an error, not a silently shorter update.
    let (stage, _) = t.stage_value(&plan.initial_stage)?;
    if let Ok(n) = stage.parse::<i64>() {
        opportunity.insert("salesstage".into(), n.into());
    }
    opportunity.insert("stepname".into(), plan.initial_stage.clone().into());
    if let Some(value) = &plan.estimated_value {
        opportunity.insert("estimatedvalue".into(), value.amount.into());
    }
    if let Some(close) = plan.estimated_close {
        opportunity.insert("estimatedclosedate".into(), close.to_string().into());
    }
    if let Some(contact) = contact {
        opportunity.insert("parentcontactid@odata.bind".into(), contact.clone().into());
    }
    Ok(Request::rest(
        "opportunity",
        Method::Patch,
        String::new(),
        Value::Object(opportunity),
    )
    .header("If-Match", "*"))
}

/// Whether the lead was already converted (statecode 1, Qualified): then the
/// opportunity it became (`qualifyingopportunityid`), if any. A plan that
/// creates an opportunity of a lead converted without one, or that links an
/// opportunity other than the one the lead names, cannot be finished by a
/// retry: refused, saying which.
#[allow(clippy::type_complexity)]
fn dataverse_converted(
    t: &Target<'_, '_>,
    plan: &ConversionPlan,
) -> Result<Option<Option<String>>> {
    let qualified = t
        .native
        .fields
        .get("statecode")
        .and_then(|f| f.value.as_i64())
        == Some(1);
    if !qualified {
        return Ok(None);
    }
    let opportunity = t
        .native
        .fields
        .get("qualifyingopportunityid")
        .and_then(|f| f.value.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    match (&plan.opportunity, &opportunity) {
        (RecordAction::Create, None) => Err(t.refused(format!(
            "lead `{}` is already qualified (statecode 1) without a qualifyingopportunityid: \
             the opportunity the plan creates cannot be found to finish the conversion",
            t.id
        ))),
        (RecordAction::Link(wanted), Some(found)) if wanted != found => Err(t.refused(format!(
            "lead `{}` is already qualified into opportunity `{found}`, not `{wanted}` as the \
             plan links",
            t.id
        ))),
        // A linked opportunity needs no update: only a created one is finished.
        (RecordAction::Create, Some(_)) => Ok(Some(opportunity)),
        _ => Ok(Some(None)),
    }
}

/// The `transactioncurrencyid` the new opportunity's amount is in: the lead's
/// own currency lookup, else the org's id for the plan's currency. An amount with
/// neither would land in the org's base currency, whatever it is: refused.
fn dataverse_currency(t: &Target<'_, '_>, plan: &ConversionPlan) -> Result<Option<String>> {
    if let Some(id) = t
        .native
        .fields
        .get("transactioncurrencyid")
        .and_then(|f| f.value.as_str())
    {
        return Ok(Some(id.to_owned()));
    }
    let Some(value) = &plan.estimated_value else {
        return Ok(None);
    };
    match t.vocab.write.currency_ids.get(&value.currency) {
        Some(id) => Ok(Some(id.clone())),
        None => Err(t.setting(
            &format!("write.currency_ids.{}", value.currency),
            format!(
                "the lead has no currency lookup and the org names no transactioncurrencyid for {}: \
                 without OpportunityCurrencyId the amount would be taken in the org's base currency",
                value.currency
            ),
        )),
    }
}

/// A follow-up activity, created by upsert under a primary key derived from the
/// idempotency key: a retried request updates the activity the first one made.
fn dataverse_follow_up(
    t: &Target<'_, '_>,
    base: &str,
    leads: &str,
    n: usize,
    follow_up: &FollowUp,
) -> Request {
    let role = match follow_up.kind {
        FollowUpKind::Call => "call",
        FollowUpKind::Meeting => "meeting",
        FollowUpKind::Email | FollowUpKind::Task => "task",
    };
    let set = t.vocab.object(role);
    let table = dataverse_table(set);
    let lead_table = dataverse_table(leads);
    let guid = key_guid(&t.key(&format!("follow_up_{n}")));
    let mut body = json!({
        "subject": follow_up.subject,
        format!("regardingobjectid_{lead_table}_{table}@odata.bind"): format!("/{leads}({})", t.id),
    });
    if role == "meeting" {
        // An appointment is all day on its due date: start and end a day apart
        // (appointment entity reference: isalldayevent, scheduleddurationminutes).
        let next = follow_up
            .due
            .checked_add_days(Days::new(1))
            .unwrap_or(follow_up.due);
        body["isalldayevent"] = true.into();
        body["scheduledstart"] = midnight(follow_up.due).into();
        body["scheduledend"] = midnight(next).into();
        body["scheduleddurationminutes"] = 1440.into();
    } else {
        body["scheduledend"] = midnight(follow_up.due).into();
    }
    Request::rest(
        format!("follow_up_{n}"),
        Method::Patch,
        format!("{base}/{set}({guid})"),
        body,
    )
}

// ---- Salesforce ---------------------------------------------------------------
//
// Sources: SOAP API convertLead() and its LeadConvert arguments
// (developer.salesforce.com, sforce_api_calls_convertlead.htm); REST sObject Rows
// and sObject Rows by External ID (upsert); Task and Event object references.

/// An update of an sObject row, guarded against lost updates when the record
/// was read with its `LastModifiedDate`: sObject Rows honour
/// `If-Unmodified-Since` (REST API Developer Guide, "Conditional Requests";
/// sObject rows have no ETag, so `If-Match` does not apply) and answer 412 when
/// the row changed after that time, so a decision made on a stale read is not
/// written over someone else's change.
fn salesforce_update(t: &Target<'_, '_>, reference: &str, path: String, body: Value) -> Request {
    let request = Request::rest(reference, Method::Patch, path, body);
    match t
        .native
        .fields
        .get("LastModifiedDate")
        .and_then(|f| f.value.as_str())
        .and_then(http_date)
    {
        Some(date) => request.header("If-Unmodified-Since", date),
        None => request,
    }
}

/// A Salesforce timestamp (`2026-11-20T10:15:00.000+0000`, or RFC 3339) as an
/// HTTP-date (RFC 9110, `Fri, 20 Nov 2026 10:15:00 GMT`). HTTP-dates count whole
/// seconds: a fraction is rounded up, so the record's own last change (which
/// happened within that second) does not count as a change since the read.
fn http_date(text: &str) -> Option<String> {
    use chrono::{DateTime, TimeDelta, Timelike, Utc};
    let at = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()?
        .with_timezone(&Utc);
    let at = if at.nanosecond() > 0 {
        at.with_nanosecond(0)? + TimeDelta::seconds(1)
    } else {
        at
    };
    Some(at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

fn salesforce(t: &Target<'_, '_>, decision: Decision<'_>) -> Result<Vec<Request>> {
    let version = &t.vocab.api_version;
    let base = format!("/services/data/{version}/sobjects");
    let lead_object = t.vocab.object("lead");
    let opportunity_object = t.vocab.object("opportunity");
    let mut out = Vec::new();
    match decision {
        Decision::Qualify(q) => {
            let key = outcome_key(&q.outcome);
            let mut patch = Map::new();
            if let Some(status) = t.vocab.write_status(&key) {
                patch.insert("Status".into(), status.into());
            } else if matches!(q.outcome, Outcome::Disqualified { .. }) {
                return Err(t.setting(&format!("write.status.{key}"), "no lead status is set"));
            }
            if let Some(rating) = t.vocab.write_rating(q.rating.as_str()) {
                patch.insert("Rating".into(), rating.into());
            }
            if !patch.is_empty() {
                // Assignment Rule Header: without `Sforce-Auto-Assign: FALSE` the
                // header defaults to TRUE and the org's active lead assignment
                // rule runs on this update, which may hand the lead to another
                // owner. A status and rating change must not.
                out.push(
                    salesforce_update(
                        t,
                        "lead",
                        format!("{base}/{lead_object}/{}", t.id),
                        Value::Object(patch),
                    )
                    .header("Sforce-Auto-Assign", "FALSE"),
                );
            }
            for (i, follow_up) in q.follow_ups.iter().enumerate() {
                out.push(salesforce_follow_up(t, &base, i + 1, follow_up));
            }
        }
        Decision::Convert(plan) => {
            // A retry after convertLead succeeded and its answer was lost: the
            // lead, read again, says IsConverted and names what the call made
            // (ConvertedOpportunityId / ConvertedAccountId / ConvertedContactId).
            // convertLead would now fail on the converted lead; only the
            // opportunity's update, still missing, is sent to that opportunity.
            if t.native
                .fields
                .get("IsConverted")
                .and_then(|f| f.value.as_bool())
                == Some(true)
            {
                salesforce_converted_as_planned(t, plan)?;
                if plan.opportunity == RecordAction::Create {
                    let opportunity = t.text_field("ConvertedOpportunityId").ok_or_else(|| {
                        t.refused(format!(
                            "lead `{}` is already converted without a ConvertedOpportunityId: \
                             the opportunity the plan creates cannot be found to finish the \
                             conversion",
                            t.id
                        ))
                    })?;
                    out.push(
                        salesforce_opportunity(t, plan)?
                            .path_to(format!("{base}/{opportunity_object}/{opportunity}")),
                    );
                }
                return Ok(out);
            }
            let status = t.vocab.write_status("converted").ok_or_else(|| {
                t.setting(
                    "write.status.converted",
                    "not set: name the lead status whose IsConverted is true",
                )
            })?;
            let mut convert = Map::new();
            convert.insert("leadId".into(), t.id.into());
            convert.insert("convertedStatus".into(), status.into());
            match &plan.account {
                RecordAction::Link(account) => {
                    convert.insert("accountId".into(), account.clone().into());
                }
                RecordAction::Create => {}
                RecordAction::Skip => {
                    return Err(t.refused(
                        "convertLead always creates or links an account; the plan skips it",
                    ))
                }
            }
            if plan.contact == RecordAction::Skip {
                return Err(t.refused(
                    "convertLead always creates a contact or merges the lead into an \
                     existing one (LeadConvert has no option to skip it); the plan skips \
                     the contact: link the contact to merge into, or create one",
                ));
            }
            if let RecordAction::Link(contact) = &plan.contact {
                // convertLead(): "contactId ... this contact must be associated with
                // the specified accountId, and an accountId must be specified".
                if !matches!(plan.account, RecordAction::Link(_)) {
                    return Err(t.refused(format!(
                        "convertLead requires an accountId with a contactId (the contact must \
                         belong to that account), but the plan links contact `{contact}` and \
                         creates a new account"
                    )));
                }
                convert.insert("contactId".into(), contact.clone().into());
            }
            // convertLead(): opportunityId must be blank when doNotCreateOpportunity
            // is true; merging into an existing opportunity is doNotCreateOpportunity
            // false with its opportunityId.
            match &plan.opportunity {
                RecordAction::Create => {
                    convert.insert("doNotCreateOpportunity".into(), false.into());
                    if let Some(name) = &plan.opportunity_name {
                        convert.insert("opportunityName".into(), name.clone().into());
                    }
                }
                RecordAction::Link(opportunity) => {
                    convert.insert("doNotCreateOpportunity".into(), false.into());
                    convert.insert("opportunityId".into(), opportunity.clone().into());
                }
                RecordAction::Skip => {
                    convert.insert("doNotCreateOpportunity".into(), true.into());
                }
            }
            // Salesforce has no REST resource for lead conversion: it is a SOAP
            // call (or Apex), sent on its own before any REST request needing it.
            out.push(Request {
                reference: "convert".into(),
                api: Api::Soap("convertLead"),
                method: Method::Post,
                path: format!(
                    "/services/Soap/u/{}",
                    version.trim_start_matches(['v', 'V'])
                ),
                headers: Default::default(),
                body: Some(super::request::Body::Json(
                    json!({ "leadConverts": [Value::Object(convert)] }),
                )),
            });
            if plan.opportunity == RecordAction::Create {
                out.push(salesforce_opportunity(t, plan)?.path_to(format!(
                    "{base}/{opportunity_object}/{}",
                    reference("convert", "opportunityId")
                )));
            }
        }
        Decision::Transition { check, to } => {
            if check.allowed {
                out.push(salesforce_update(
                    t,
                    "opportunity",
                    format!("{base}/{opportunity_object}/{}", t.id),
                    json!({ "StageName": t.stage_value(to)?.0 }),
                ));
            }
        }
        Decision::Forecast(f) => {
            out.push(salesforce_update(
                t,
                "opportunity",
                format!("{base}/{opportunity_object}/{}", t.id),
                json!({ t.forecast_field()?: percent(f.probability) }),
            ));
        }
    }
    Ok(out)
}

/// The update that sets the converted opportunity's stage, amount and close
/// date, to be pointed at it with [`Request::path_to`].
fn salesforce_opportunity(t: &Target<'_, '_>, plan: &ConversionPlan) -> Result<Request> {
    let mut opportunity = Map::new();
    opportunity.insert(
        "StageName".into(),
        t.stage_value(&plan.initial_stage)?.0.into(),
    );
    if let Some(value) = &plan.estimated_value {
        opportunity.insert("Amount".into(), value.amount.into());
        // CurrencyIsoCode exists only in multi-currency orgs: the lead
        // carrying one says this org is one.
        if t.native.fields.contains_key("CurrencyIsoCode") {
            opportunity.insert("CurrencyIsoCode".into(), value.currency.clone().into());
        }
    }
    if let Some(close) = plan.estimated_close {
        opportunity.insert("CloseDate".into(), close.to_string().into());
    }
    Ok(Request::rest(
        "opportunity",
        Method::Patch,
        String::new(),
        Value::Object(opportunity),
    ))
}

/// A converted lead's records agree with the records the plan links: a retry
/// finishes the conversion it started, never one into other records.
fn salesforce_converted_as_planned(t: &Target<'_, '_>, plan: &ConversionPlan) -> Result<()> {
    for (action, field, what) in [
        (&plan.account, "ConvertedAccountId", "account"),
        (&plan.contact, "ConvertedContactId", "contact"),
        (&plan.opportunity, "ConvertedOpportunityId", "opportunity"),
    ] {
        if let RecordAction::Link(wanted) = action {
            let found = t.text_field(field);
            if found.is_some_and(|found| !salesforce_same_id(found, wanted)) {
                return Err(t.refused(format!(
                    "lead `{}` is already converted into {what} `{}` ({field}), not `{wanted}` \
                     as the plan links",
                    t.id,
                    found.unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}

/// Salesforce ids compare alike in their 15- and 18-character forms.
fn salesforce_same_id(a: &str, b: &str) -> bool {
    a == b || (a.len() >= 15 && b.len() >= 15 && a[..15] == b[..15])
}

/// A follow-up Task or (for a meeting) an all-day Event. With the org's External
/// ID field it is an upsert by that field; without one, a plain create.
fn salesforce_follow_up(t: &Target<'_, '_>, base: &str, n: usize, follow_up: &FollowUp) -> Request {
    let (role, body) = match follow_up.kind {
        FollowUpKind::Meeting => (
            "meeting",
            json!({
                "Subject": follow_up.subject,
                "WhoId": t.id,
                "IsAllDayEvent": true,
                "ActivityDate": follow_up.due.to_string(),
            }),
        ),
        kind => (
            "task",
            json!({
                "Subject": follow_up.subject,
                "WhoId": t.id,
                "ActivityDate": follow_up.due.to_string(),
                "Status": "Not Started",
                "TaskSubtype": match kind {
                    FollowUpKind::Call => "Call",
                    FollowUpKind::Email => "Email",
                    _ => "Task",
                },
            }),
        ),
    };
    let object = t.vocab.object(role);
    let reference = format!("follow_up_{n}");
    match &t.vocab.write.idempotency_field {
        Some(field) => {
            let key = t.key(&reference);
            Request::rest(
                reference,
                Method::Patch,
                format!("{base}/{object}/{field}/{key}"),
                body,
            )
        }
        None => Request::rest(reference, Method::Post, format!("{base}/{object}"), body),
    }
}

// ---- HubSpot ------------------------------------------------------------------
//
// Sources (developers.hubspot.com): CRM objects (create, update, batch upsert by
// `idProperty`), tasks and deals guides (`dealname`, `dealstage`, `pipeline`),
// associations v4 (default associations; type ids 204 task→contact, 3
// deal→contact, 5 deal→company, 280 company→contact).

const TASK_TO_CONTACT: u32 = 204;
const DEAL_TO_CONTACT: u32 = 3;
const DEAL_TO_COMPANY: u32 = 5;
const COMPANY_TO_CONTACT: u32 = 280;

/// The id of the object `hubspot_create` made under `reference_name`: a
/// `batch/upsert` answers with `results`, a plain create with the object.
fn hubspot_created(t: &Target<'_, '_>, reference_name: &str) -> String {
    match t.vocab.write.idempotency_field {
        Some(_) => reference(reference_name, "results[0].id"),
        None => reference(reference_name, "id"),
    }
}

fn association(id: &str, type_id: u32) -> Value {
    json!({
        "to": { "id": id },
        "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id }],
    })
}

/// Contact properties for an outcome. Lifecycle stages only move forward in the
/// org's order (`write.lifecycle_order`), so a stage behind the contact's current
/// one is not written.
fn hubspot_contact_update(t: &Target<'_, '_>, key: &str) -> Map<String, Value> {
    let mut properties = Map::new();
    if let Some(stage) = t.vocab.write_lifecycle(key) {
        let current = t.text("lifecycle");
        let order = &t.vocab.write.lifecycle_order;
        let rank = |s: &str| order.iter().position(|x| x == s);
        let backwards = match (current.and_then(rank), rank(stage)) {
            (Some(now), Some(new)) => new < now,
            _ => false,
        };
        if !backwards && current != Some(stage) {
            properties.insert("lifecyclestage".into(), stage.into());
        }
    }
    if let Some(status) = t.vocab.write_status(key) {
        properties.insert("hs_lead_status".into(), status.into());
    }
    properties
}

/// Creates one object: with the org's unique property, a one-input `batch/upsert`
/// keyed by the idempotency key (then its associations, which upsert inputs do
/// not carry); without one, a plain create with its associations inline.
fn hubspot_create(
    t: &Target<'_, '_>,
    reference_name: &str,
    object: &str,
    mut properties: Map<String, Value>,
    associations: Vec<(String, String, u32)>,
) -> Vec<Request> {
    let objects = t.vocab.objects_path();
    match &t.vocab.write.idempotency_field {
        Some(field) => {
            let key = t.key(reference_name);
            properties.insert(field.clone(), key.clone().into());
            let mut out = vec![Request::rest(
                reference_name,
                Method::Post,
                format!("{objects}/{object}/batch/upsert"),
                json!({ "inputs": [{ "idProperty": field, "id": key, "properties": properties }] }),
            )];
            let created = reference(reference_name, "results[0].id");
            for (i, (to_object, to_id, _)) in associations.iter().enumerate() {
                out.push(hubspot_associate(
                    t,
                    &format!("{reference_name}_link_{}", i + 1),
                    object,
                    &created,
                    to_object,
                    to_id,
                ));
            }
            out
        }
        None => {
            let inline: Vec<Value> = associations
                .iter()
                .map(|(_, id, type_id)| association(id, *type_id))
                .collect();
            vec![Request::rest(
                reference_name,
                Method::Post,
                format!("{objects}/{object}"),
                json!({ "properties": properties, "associations": inline }),
            )]
        }
    }
}

/// The default (unlabelled) association between two records (associations v4:
/// `PUT .../{from}/{id}/associations/default/{to}/{id}`).
fn hubspot_associate(
    t: &Target<'_, '_>,
    reference_name: &str,
    from: &str,
    from_id: &str,
    to: &str,
    to_id: &str,
) -> Request {
    Request {
        reference: reference_name.to_owned(),
        api: Api::Rest,
        method: Method::Put,
        path: format!(
            "{}/{from}/{from_id}/associations/default/{to}/{to_id}",
            t.vocab.associations_path()
        ),
        headers: Default::default(),
        body: None,
    }
}

fn hubspot(t: &Target<'_, '_>, decision: Decision<'_>) -> Result<Vec<Request>> {
    let objects = t.vocab.objects_path();
    let contacts = t.vocab.object("lead");
    let deals = t.vocab.object("opportunity");
    let mut out = Vec::new();
    match decision {
        Decision::Qualify(q) => {
            let properties = hubspot_contact_update(t, &outcome_key(&q.outcome));
            if !properties.is_empty() {
                out.push(Request::rest(
                    "contact",
                    Method::Patch,
                    format!("{objects}/{contacts}/{}", t.id),
                    json!({ "properties": properties }),
                ));
            }
            for (i, follow_up) in q.follow_ups.iter().enumerate() {
                let mut properties = Map::new();
                properties.insert("hs_timestamp".into(), midnight(follow_up.due).into());
                properties.insert("hs_task_subject".into(), follow_up.subject.clone().into());
                properties.insert(
                    "hs_task_type".into(),
                    match follow_up.kind {
                        FollowUpKind::Call => "CALL",
                        FollowUpKind::Email => "EMAIL",
                        _ => "TODO",
                    }
                    .into(),
                );
                properties.insert("hs_task_status".into(), "NOT_STARTED".into());
                out.extend(hubspot_create(
                    t,
                    &format!("follow_up_{}", i + 1),
                    t.vocab.object("task"),
                    properties,
                    vec![(contacts.to_owned(), t.id.to_owned(), TASK_TO_CONTACT)],
                ));
            }
        }
        Decision::Convert(plan) => {
            let companies = t.vocab.object("company");
            // HubSpot has no lead object: the record is a contact already. A
            // plan that creates the contact keeps it; one that links another
            // contact puts the deal on that one; one that skips it leaves the
            // deal without a contact.
            let contact = match &plan.contact {
                RecordAction::Create => Some(t.id.to_owned()),
                RecordAction::Link(other) => Some(other.clone()),
                RecordAction::Skip => None,
            };
            // The account the plan names, and nothing else: a company is made
            // when it says create (the contact's `company` names it), linked
            // when it says link, none when it says skip.
            let company = match &plan.account {
                RecordAction::Create => {
                    let name = t.text("company").ok_or_else(|| {
                        t.refused(
                            "the plan creates a company and the contact has no company name \
                             to give it",
                        )
                    })?;
                    let mut properties = Map::new();
                    properties.insert("name".into(), name.into());
                    let links: Vec<_> = contact
                        .iter()
                        .map(|c| (contacts.to_owned(), c.clone(), COMPANY_TO_CONTACT))
                        .collect();
                    out.extend(hubspot_create(t, "company", companies, properties, links));
                    Some(hubspot_created(t, "company"))
                }
                RecordAction::Link(account) => {
                    if let Some(c) = &contact {
                        if !(c == t.id && t.native.companies.contains(account)) {
                            out.push(hubspot_associate(
                                t,
                                "company_link",
                                contacts,
                                c,
                                companies,
                                account,
                            ));
                        }
                    }
                    Some(account.clone())
                }
                RecordAction::Skip => None,
            };
            match &plan.opportunity {
                RecordAction::Create => {
                    let mut properties = Map::new();
                    // The deals guide asks for dealname, dealstage and pipeline.
                    let name = plan
                        .opportunity_name
                        .clone()
                        .or_else(|| t.text("company").map(str::to_owned))
                        .or_else(|| {
                            let parts: Vec<&str> = [t.text("first_name"), t.text("last_name")]
                                .into_iter()
                                .flatten()
                                .collect();
                            (!parts.is_empty()).then(|| parts.join(" "))
                        })
                        .ok_or_else(|| {
                            t.refused(
                                "a deal needs a dealname and neither the plan nor the contact \
                                 (company, name) gives one",
                            )
                        })?;
                    properties.insert("dealname".into(), name.into());
                    if let Some(pipeline) = &t.vocab.write.pipeline {
                        properties.insert("pipeline".into(), pipeline.clone().into());
                    }
                    properties.insert(
                        "dealstage".into(),
                        t.stage_value(&plan.initial_stage)?.0.into(),
                    );
                    if let Some(value) = &plan.estimated_value {
                        properties.insert("amount".into(), value.amount.to_string().into());
                        properties
                            .insert("deal_currency_code".into(), value.currency.clone().into());
                    }
                    if let Some(close) = plan.estimated_close {
                        properties.insert("closedate".into(), midnight(close).into());
                    }
                    let mut associations = Vec::new();
                    if let Some(c) = &contact {
                        associations.push((contacts.to_owned(), c.clone(), DEAL_TO_CONTACT));
                    }
                    if let Some(company) = &company {
                        associations.push((companies.to_owned(), company.clone(), DEAL_TO_COMPANY));
                    }
                    out.extend(hubspot_create(t, "deal", deals, properties, associations));
                }
                RecordAction::Link(deal) => {
                    // Converting into an existing deal is associating the contact
                    // (and a company the plan names) with it; patching the contact
                    // alone leaves them unrelated.
                    if let Some(c) = &contact {
                        out.push(hubspot_associate(t, "deal_link", contacts, c, deals, deal));
                    }
                    if let Some(company) = &company {
                        out.push(hubspot_associate(
                            t,
                            "deal_company_link",
                            deals,
                            deal,
                            companies,
                            company,
                        ));
                    }
                }
                RecordAction::Skip => {}
            }
            let properties = hubspot_contact_update(t, "converted");
            if !properties.is_empty() {
                out.push(Request::rest(
                    "contact",
                    Method::Patch,
                    format!("{objects}/{contacts}/{}", t.id),
                    json!({ "properties": properties }),
                ));
            }
        }
        Decision::Transition { check, to } => {
            if check.allowed {
                out.push(Request::rest(
                    "deal",
                    Method::Patch,
                    format!("{objects}/{deals}/{}", t.id),
                    json!({ "properties": { "dealstage": t.stage_value(to)?.0 } }),
                ));
            }
        }
        Decision::Forecast(f) => {
            let field = t.forecast_field()?;
            out.push(Request::rest(
                "deal",
                Method::Patch,
                format!("{objects}/{deals}/{}", t.id),
                // `write.forecast_field` is documented on 0..100, and Dataverse and
                // Salesforce get 0..100: one scale for every CRM. HubSpot takes
                // property values as strings.
                json!({ "properties": { field: percent(f.probability).to_string() } }),
            ));
        }
    }
    Ok(out)
}
