//! Native requests checked against the vendors' documented rules: each test
//! names the rule (or the bug it pins) and cites where the rule is written.
//! Sources are listed in full in `docs/adapters.md`.

use crm_rules::crm::bundle::bundle;
use crm_rules::crm::write::{actions, Decision, WriteError};
use crm_rules::crm::{CrmConfig, Format, Native, ObjectType, Origin, Request, Vocabularies};
use crm_rules::model::{ConversionPlan, Qualification};
use serde_json::{json, Value};

#[path = "support.rs"]
mod support;

const ORIGIN: Origin<'static> = Origin {
    org: "acme",
    module: "v1",
};

fn vocabularies(crm: Value) -> Vocabularies {
    let config: CrmConfig = serde_json::from_value(crm).expect("a crm section");
    Vocabularies::new(&config).expect("a valid vocabulary")
}

fn plan(value: Value) -> ConversionPlan {
    let mut base = json!({
        "account": "create", "contact": "create", "opportunity": "create",
        "opportunity_name": "Fleet telematics", "initial_stage": "Develop",
        "estimated_value": {"amount": 50000.0, "currency": "EUR"},
        "estimated_close": "2026-12-31", "skipped_lead_stage": false, "reasons": []
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), value.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(base).expect("a conversion plan")
}

fn qualified(follow_up_kind: &str) -> Qualification {
    serde_json::from_value(json!({
        "outcome": "qualified", "rating": "hot", "score": 90, "reasons": [],
        "follow_ups": [{"kind": follow_up_kind, "subject": "call Ana", "due": "2026-11-26"}]
    }))
    .expect("a qualification")
}

/// The requests for `decision` on `record` (read as `format`, optionally as `object`).
fn write(
    vocabularies: &Vocabularies,
    format: Format,
    record: &Value,
    object: Option<ObjectType>,
    decision: Decision<'_>,
) -> Result<Vec<Request>, WriteError> {
    let text = serde_json::value::to_raw_value(record).expect("raw JSON");
    let native = Native::parse_as(format, &text, object).expect("a native record");
    let vocab = vocabularies.get(format).expect("a CRM format");
    actions(vocab, &native, decision, &ORIGIN)
}

fn body(request: &Request) -> &Value {
    request.json().expect("a JSON body")
}

fn salesforce_lead() -> Value {
    json!({"attributes": {"type": "Lead"}, "Id": "00Q1", "LastName": "Ruiz",
           "Company": "Ruiz Logistics", "CurrencyIsoCode": "EUR"})
}

fn strict_salesforce() -> Vocabularies {
    vocabularies(json!({"salesforce": {"stages": {
        "Needs Analysis": {"stage": "Develop", "probability": 20}}}}))
}

// ---- Salesforce convertLead ---------------------------------------------------

/// Issue 14.1. convertLead() (developer.salesforce.com,
/// sforce_api_calls_convertlead.htm, LeadConvert arguments): "opportunityId ...
/// If doNotCreateOpportunity is true, this field must be blank". Merging into an
/// existing opportunity sent both, which the call refuses.
#[test]
fn convert_into_existing_opportunity_sends_opportunity_id_without_do_not_create_opportunity() {
    let v = strict_salesforce();
    let p = plan(json!({"account": {"link": "001A"}, "opportunity": {"link": "006X"}}));
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    let convert = &body(&out[0])["leadConverts"][0];
    assert_eq!(convert["opportunityId"], "006X");
    assert_eq!(convert["doNotCreateOpportunity"], false);
    assert_eq!(out.len(), 1, "no opportunity update when linking: {out:?}");
    let skip = plan(json!({"account": {"link": "001A"}, "opportunity": "skip"}));
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&skip),
    )
    .expect("written");
    let convert = &body(&out[0])["leadConverts"][0];
    assert_eq!(convert["doNotCreateOpportunity"], true);
    assert!(convert.get("opportunityId").is_none());
}

/// Issue 14.2. convertLead(), contactId: "this contact must be associated with the
/// specified accountId, and an accountId must be specified". A plan linking a
/// contact while creating the account cannot be sent: it is refused, saying why.
#[test]
fn convert_with_existing_contact_and_new_account_is_refused_for_want_of_an_account_id() {
    let v = strict_salesforce();
    let p = plan(json!({"account": "create", "contact": {"link": "003C"}}));
    let err = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect_err("refused");
    assert!(matches!(err, WriteError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains("accountId"), "{err}");
    let linked = plan(json!({"account": {"link": "001A"}, "contact": {"link": "003C"}}));
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&linked),
    )
    .expect("written");
    let convert = &body(&out[0])["leadConverts"][0];
    assert_eq!(convert["accountId"], "001A");
    assert_eq!(convert["contactId"], "003C");
}

/// Lead conversion has no REST resource: it is a SOAP call, and the new
/// opportunity's update names the id the call returns (LeadConvertResult
/// `opportunityId`) instead of an ad-hoc placeholder.
#[test]
fn the_new_opportunity_is_updated_by_the_id_convert_lead_returns() {
    let v = strict_salesforce();
    let p = plan(json!({"account": {"link": "001A"}}));
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    assert_eq!(out[0].to_json()["api"], "soap");
    assert_eq!(out[0].path, "/services/Soap/u/62.0");
    assert_eq!(
        out[1].path,
        "/services/data/v62.0/sobjects/Opportunity/@{convert.opportunityId}"
    );
    assert_eq!(out[1].needs(), vec!["convert.opportunityId"]);
    assert_eq!(
        body(&out[1])["CurrencyIsoCode"],
        "EUR",
        "a multi-currency org"
    );
}

// ---- HubSpot ------------------------------------------------------------------

fn hubspot_contact() -> Value {
    json!({"id": "51", "properties": {"email": "ana@ruiz.example", "company": "Ruiz Logistics",
        "lifecyclestage": "lead"}})
}

fn strict_hubspot(extra: Value) -> Vocabularies {
    let mut hubspot = json!({"stages": {"presentationscheduled": {"stage": "Develop"}}});
    if let (Some(h), Some(e)) = (hubspot.as_object_mut(), extra.as_object()) {
        h.extend(e.clone());
    }
    vocabularies(json!({ "hubspot": hubspot }))
}

/// Issue 14.3. Converting into an existing deal patched the contact only, so the
/// contact and the deal stayed unrelated. Associations v4 (developers.hubspot.com,
/// "Associate records (default)"): `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{id}`.
#[test]
fn convert_into_existing_deal_associates_the_contact_with_it() {
    let v = strict_hubspot(json!({}));
    // A HubSpot "lead" is a contact already: `create` keeps it as the deal's
    // contact (`skip` would leave the deal without one).
    let p = plan(json!({"account": "skip", "contact": "create", "opportunity": {"link": "9001"}}));
    let out = write(
        &v,
        Format::Hubspot,
        &hubspot_contact(),
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    let link = out
        .iter()
        .find(|r| r.method.as_str() == "PUT")
        .expect("an association");
    assert_eq!(
        link.path,
        "/crm/v4/objects/contacts/51/associations/default/deals/9001"
    );
}

/// Issue 14.7. The deals guide asks for `dealname`; a plan without a name got a
/// nameless deal. It is named after the contact's company.
#[test]
fn a_deal_without_a_planned_name_is_named_after_the_company() {
    let v = strict_hubspot(json!({}));
    let p = plan(json!({"opportunity_name": null}));
    let out = write(
        &v,
        Format::Hubspot,
        &hubspot_contact(),
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    // The plan creates the company first; the deal follows it.
    let deal = out
        .iter()
        .find(|r| r.path.ends_with("/deals"))
        .expect("a deal");
    assert_eq!(body(deal)["properties"]["dealname"], "Ruiz Logistics");
}

/// Issue 14.7. The lifecycle order was hard-coded; it is the org's
/// `write.lifecycle_order`, and a stage behind the current one is not written.
#[test]
fn lifecycle_order_comes_from_the_org_vocabulary() {
    let q = qualified("call");
    let record = hubspot_contact();
    let default = strict_hubspot(json!({}));
    let out = write(
        &default,
        Format::Hubspot,
        &record,
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert_eq!(
        body(&out[0])["properties"]["lifecyclestage"],
        "salesqualifiedlead"
    );
    // An org whose order puts `lead` after `salesqualifiedlead` never moves back.
    let reordered = strict_hubspot(json!({"write": {"lifecycle_order":
        ["subscriber", "salesqualifiedlead", "lead", "customer"]}}));
    let out = write(
        &reordered,
        Format::Hubspot,
        &record,
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert!(out.iter().all(|r| r
        .json()
        .is_none_or(|b| b["properties"].get("lifecyclestage").is_none())));
}

/// Issue 14.7. A HubSpot object's type was guessed from its properties: a deal
/// read without `dealstage`/`dealname`/`pipeline` was taken for a contact. The
/// caller can say what it is.
#[test]
fn a_hubspot_object_read_as_a_deal_is_a_deal_whatever_its_properties() {
    let bare =
        serde_json::value::to_raw_value(&json!({"id": "9001", "properties": {"amount": "100"}}))
            .expect("raw JSON");
    assert_eq!(
        Native::parse(Format::Hubspot, &bare).expect("read").object,
        ObjectType::Contact
    );
    let told =
        Native::parse_as(Format::Hubspot, &bare, Some(ObjectType::Opportunity)).expect("read");
    assert_eq!(told.object, ObjectType::Opportunity);
    assert_eq!(told.entity, "deals");
}

/// HubSpot's API path (v3 is marked legacy next to the date-versioned
/// `/crm/objects/2026-03/...`) and custom object names are the org's to choose.
#[test]
fn hubspot_paths_and_object_names_are_configurable() {
    let v = strict_hubspot(json!({
        "objects_path": "/crm/objects/2026-03",
        "objects": {"opportunity": "p_deals"}
    }));
    let p = plan(json!({}));
    let out = write(
        &v,
        Format::Hubspot,
        &hubspot_contact(),
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    assert!(
        out.iter().any(|r| r.path == "/crm/objects/2026-03/p_deals"),
        "{:?}",
        out.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(Vocabularies::new(
        &serde_json::from_value(json!({"hubspot": {"objects": {"deal": "x"}}})).expect("config")
    )
    .expect_err("unknown role")
    .contains("crm.hubspot.objects"));
}

// ---- Dataverse ----------------------------------------------------------------

fn dataverse_lead() -> Value {
    json!({"@odata.context": "https://x/api/data/v9.2/$metadata#leads/$entity",
           "@odata.etag": "W/\"501097\"", "leadid": "L1", "companyname": "Ruiz Logistics",
           "_transactioncurrencyid_value": "cur-eur"})
}

fn dataverse() -> Vocabularies {
    vocabularies(json!({}))
}

/// Issue 14.6. Qualify called QualifyLead with the Create* flags: records were
/// created without convert's de-duplication and the lead went read-only before
/// convert ran. Qualify sets rating and status only.
#[test]
fn dataverse_qualify_never_calls_qualify_lead() {
    let q = qualified("call");
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert!(
        out.iter().all(|r| !r.path.contains("QualifyLead")),
        "{out:?}"
    );
    assert_eq!(body(&out[0]), &json!({"leadqualitycode": 1}));
}

/// Issue 14.6. `{CreatedEntities.opportunityid}` named an SDK property; the Web
/// API's QualifyLead returns Collection(crmbaseentity) (QualifyLead Action
/// reference), with no Location header a change set's `$n` could name. The
/// update refers to the opportunity's id in that collection, and the bundle
/// sends it after the change set has answered.
#[test]
fn dataverse_convert_reads_the_created_opportunity_from_qualify_leads_collection() {
    let p = plan(json!({"initial_stage": "Develop"}));
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    let qualify = &out[0];
    assert!(qualify
        .path
        .ends_with("/leads(L1)/Microsoft.Dynamics.CRM.QualifyLead"));
    let update = &out[1];
    assert_eq!(
        update.path,
        "/api/data/v9.2/opportunities(@{qualify.opportunityid})"
    );
    assert!(!update.path.contains("CreatedEntities"));
    assert_eq!(update.headers["If-Match"], "*", "an update never creates");
    let sends = bundle(
        dataverse().get(Format::Dataverse).expect("vocabulary"),
        &out,
        "k",
    );
    assert_eq!(sends.len(), 2, "the update waits for QualifyLead's answer");
    assert!(sends[1]
        .needs()
        .contains(&"qualify.opportunityid".to_owned()));
}

/// Issue 14.7. OpportunityCurrencyId was never sent, so the amount could land in
/// the org's base currency: the lead's currency goes with QualifyLead, and an
/// amount whose currency has no known id is refused.
#[test]
fn dataverse_convert_sends_the_opportunity_currency_or_refuses_the_amount() {
    let p = plan(json!({}));
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    assert_eq!(
        body(&out[0])["OpportunityCurrencyId"]["transactioncurrencyid"],
        "cur-eur"
    );
    let mut no_currency = dataverse_lead();
    no_currency
        .as_object_mut()
        .expect("object")
        .remove("_transactioncurrencyid_value");
    let err = write(
        &dataverse(),
        Format::Dataverse,
        &no_currency,
        None,
        Decision::Convert(&p),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("write.currency_ids.EUR"), "{err}");
    let named = vocabularies(json!({"dataverse": {"write": {"currency_ids": {"EUR": "cur-1"}}}}));
    let out = write(
        &named,
        Format::Dataverse,
        &no_currency,
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    assert_eq!(
        body(&out[0])["OpportunityCurrencyId"]["transactioncurrencyid"],
        "cur-1"
    );
}

/// Issue 14.7. An initial stage the vocabulary does not map was dropped from the
/// opportunity update without a word.
#[test]
fn an_unmapped_initial_stage_is_an_error_not_a_shorter_update() {
    let p = plan(json!({"initial_stage": "Negotiate"}));
    let err = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("Negotiate"), "{err}");
}

/// Issue 14.7. The follow-up appointment had start = end = midnight. It is an
/// all-day appointment (appointment entity reference: `isalldayevent`,
/// `scheduleddurationminutes`) ending the next midnight.
#[test]
fn a_dataverse_follow_up_meeting_is_all_day_with_a_duration() {
    let q = qualified("meeting");
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    let meeting = out
        .iter()
        .find(|r| r.path.contains("/appointments("))
        .expect("an appointment");
    let b = body(meeting);
    assert_eq!(b["isalldayevent"], true);
    assert_eq!(b["scheduledstart"], "2026-11-26T00:00:00Z");
    assert_eq!(b["scheduledend"], "2026-11-27T00:00:00Z");
    assert_eq!(b["scheduleddurationminutes"], 1440);
}

/// Update and delete tables using the Web API: "The `If-Match: *` header helps
/// ensure you don't create a new record by accidentally performing an upsert";
/// conditional operations: the etag read with the record detects a change made
/// since.
#[test]
fn dataverse_updates_carry_if_match_with_the_etag_or_a_star() {
    let q = qualified("call");
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert_eq!(out[0].headers["If-Match"], "W/\"501097\"");
    let mut unread = dataverse_lead();
    unread
        .as_object_mut()
        .expect("object")
        .remove("@odata.etag");
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &unread,
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert_eq!(out[0].headers["If-Match"], "*");
}

// ---- Idempotency --------------------------------------------------------------

/// A retried run sends the same keys, so the CRM's upsert finds what the first run
/// created: Dataverse upserts under a key-derived primary key (upsert "provides a
/// way" to create "with a specific id value"); Salesforce upserts by an External
/// ID field (sObject Rows by External ID); HubSpot upserts by a unique property
/// (`batch/upsert` with `idProperty`).
#[test]
fn a_retried_run_creates_nothing_twice() {
    let q = qualified("call");
    let first = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    let again = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert_eq!(first, again);
    let call = &first[1];
    assert_eq!(call.method.as_str(), "PATCH", "an upsert, not a create");
    assert!(call.path.starts_with("/api/data/v9.2/phonecalls("));

    let sf =
        vocabularies(json!({"salesforce": {"write": {"idempotency_field": "Crm_Rules_Key__c"}}}));
    let out = write(
        &sf,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    let task = out
        .iter()
        .find(|r| r.reference == "follow_up_1")
        .expect("a task");
    assert_eq!(task.method.as_str(), "PATCH");
    assert!(task
        .path
        .starts_with("/services/data/v62.0/sobjects/Task/Crm_Rules_Key__c/"));

    let hs = strict_hubspot(json!({"write": {"idempotency_field": "crm_rules_key"}}));
    let out = write(
        &hs,
        Format::Hubspot,
        &hubspot_contact(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    let upsert = out
        .iter()
        .find(|r| r.reference == "follow_up_1")
        .expect("a task");
    assert_eq!(upsert.path, "/crm/v3/objects/tasks/batch/upsert");
    let input = &body(upsert)["inputs"][0];
    assert_eq!(input["idProperty"], "crm_rules_key");
    assert_eq!(input["properties"]["crm_rules_key"], input["id"]);
    let link = out.last().expect("an association");
    assert_eq!(
        link.path,
        "/crm/v4/objects/tasks/@{follow_up_1.results[0].id}/associations/default/contacts/51"
    );
}

// ---- Bundles ------------------------------------------------------------------

/// Execute batch operations using the Web API: a change set is a
/// `multipart/mixed` part whose requests are `application/http` parts with
/// `Content-Transfer-Encoding: binary` and a `Content-ID`, all or none.
#[test]
fn a_dataverse_bundle_is_one_change_set_with_content_ids() {
    let q = qualified("call");
    let v = dataverse();
    let out = write(
        &v,
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    let sends = bundle(v.get(Format::Dataverse).expect("vocabulary"), &out, "k1");
    assert_eq!(sends.len(), 1);
    let batch = &sends[0];
    assert_eq!(batch.path, "/api/data/v9.2/$batch");
    assert_eq!(
        batch.headers["Content-Type"],
        "multipart/mixed; boundary=\"batch_k1\""
    );
    let text = batch.to_json()["body"].as_str().expect("text").to_owned();
    assert!(text
        .starts_with("--batch_k1\r\nContent-Type: multipart/mixed; boundary=\"changeset_k1\"\r\n"));
    assert!(text.contains("Content-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPATCH /api/data/v9.2/leads(L1) HTTP/1.1\r\n"));
    assert!(text.contains("If-Match: W/\"501097\"\r\n"));
    assert!(text.contains("Content-ID: 2\r\n"));
    assert!(text.ends_with("--changeset_k1--\r\n--batch_k1--\r\n"));
}

/// Composite (REST API): subrequests with `referenceId`, `allOrNone: true` rolls
/// all back on an error; convertLead, a SOAP call, is sent on its own first.
#[test]
fn a_salesforce_bundle_is_one_all_or_none_composite_after_the_soap_conversion() {
    let v = strict_salesforce();
    let p = plan(json!({"account": {"link": "001A"}}));
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    let sends = bundle(v.get(Format::Salesforce).expect("vocabulary"), &out, "k");
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[0].to_json()["operation"], "convertLead");
    assert_eq!(sends[1].path, "/services/data/v62.0/composite");
    let composite = body(&sends[1]);
    assert_eq!(composite["allOrNone"], true);
    assert_eq!(
        composite["compositeRequest"][0]["referenceId"],
        "opportunity"
    );
    assert_eq!(sends[1].needs(), vec!["convert.opportunityId"]);
}

/// Tasks guide: plain creates of one object type go together as `batch/create`.
#[test]
fn hubspot_plain_creates_become_one_batch_create() {
    let q: Qualification = serde_json::from_value(json!({
        "outcome": "qualified", "rating": "hot", "score": 90, "reasons": [],
        "follow_ups": [{"kind": "call", "subject": "call", "due": "2026-11-26"},
                       {"kind": "email", "subject": "mail", "due": "2026-11-27"}]
    }))
    .expect("a qualification");
    let v = strict_hubspot(json!({}));
    let out = write(
        &v,
        Format::Hubspot,
        &hubspot_contact(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    let sends = bundle(v.get(Format::Hubspot).expect("vocabulary"), &out, "k");
    let batch = sends
        .iter()
        .find(|s| s.path.ends_with("/batch/create"))
        .expect("a batch");
    assert_eq!(batch.path, "/crm/v3/objects/tasks/batch/create");
    assert_eq!(body(batch)["inputs"].as_array().map(Vec::len), Some(2));
}

// ---- Paging (through the program) ---------------------------------------------

/// Issue 14.5. A page of a longer result was decided as if it were all of it,
/// exit 0, no word. Dataverse `@odata.nextLink` (Web API query docs, page
/// results), SOQL `done: false` + `nextRecordsUrl` (REST API query), HubSpot
/// `paging.next.after` (CRM objects list): each input says it is one page.
#[test]
fn paged_input_says_it_is_one_page_and_where_the_next_one_is() {
    let pages = [
        (
            json!({"@odata.context": "https://x/api/data/v9.2/$metadata#leads",
                   "@odata.nextLink": "https://x/api/data/v9.2/leads?$skiptoken=p2",
                   "value": [{"leadid": "a1", "fullname": "One", "leadsourcecode": 8}]}),
            "dataverse",
            "https://x/api/data/v9.2/leads?$skiptoken=p2",
        ),
        (
            json!({"totalSize": 4000, "done": false,
                   "nextRecordsUrl": "/services/data/v62.0/query/01gXX-2000",
                   "records": [{"attributes": {"type": "Lead"}, "Id": "00Q1", "LastName": "A",
                                "Company": "A", "LeadSource": "Web"}]}),
            "salesforce",
            "/services/data/v62.0/query/01gXX-2000",
        ),
        (
            json!({"results": [{"id": "51", "properties": {"email": "a@b.example"}}],
                   "paging": {"next": {"after": "NTI1"}}}),
            "hubspot",
            "NTI1",
        ),
    ];
    for (page, format, next) in pages {
        let out = support::cli(
            &[
                "--now",
                "2026-11-25T09:00:00Z",
                "--no-cache",
                "--org-dir",
                "examples/loose",
                "qualify",
            ],
            Some(&page.to_string()),
        );
        let lines: Vec<Value> = support::text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON lines"))
            .collect();
        assert_eq!(lines.len(), 2, "{format}: {lines:?}");
        assert!(lines[0].get("decision").is_some(), "{format}: {lines:?}");
        assert_eq!(
            lines[1],
            json!({"notice": "more_pages", "format": format, "after": 1, "next": next})
        );
        let stderr = support::text(&out.stderr);
        assert!(stderr.contains("one page"), "{format}: {stderr}");
        assert!(stderr.contains(next), "{format}: {stderr}");
    }
}

// ---- Issue 24: requests that do exactly what the plan says ---------------------

fn forecast(probability: f64) -> crm_rules::model::Forecast {
    serde_json::from_value(
        json!({"probability": probability, "weighted_value": null, "stages": [], "reasons": []}),
    )
    .expect("a forecast")
}

/// Issue 24.1. REST API Developer Guide, "Assignment Rule Header": a missing
/// `Sforce-Auto-Assign` header defaults to TRUE, so the org's active lead
/// assignment rule ran on every lead update and could hand the lead to another
/// owner. Lead updates say FALSE; inside a composite the header goes in the
/// subrequest's `httpHeaders`.
#[test]
fn salesforce_lead_updates_keep_the_owner_with_sforce_auto_assign_false() {
    let v = strict_salesforce();
    let q = qualified("call");
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    let lead = out
        .iter()
        .find(|r| r.reference == "lead")
        .expect("a lead update");
    assert!(lead.path.contains("/sobjects/Lead/00Q1"));
    assert_eq!(lead.headers["Sforce-Auto-Assign"], "FALSE");
    let sends = bundle(v.get(Format::Salesforce).expect("vocabulary"), &out, "k");
    let sub = &body(&sends[0])["compositeRequest"][0];
    assert_eq!(sub["referenceId"], "lead");
    assert_eq!(sub["httpHeaders"]["Sforce-Auto-Assign"], "FALSE");
}

/// Issue 24.2. convertLead() (LeadConvert arguments) always creates a contact or
/// merges the lead into the `contactId` given; there is no argument to skip it.
/// A plan that skips the contact sent no contactId, and Salesforce created one.
#[test]
fn salesforce_convert_that_skips_the_contact_is_refused() {
    let p = plan(json!({"account": {"link": "001A"}, "contact": "skip"}));
    let err = write(
        &strict_salesforce(),
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect_err("refused");
    assert!(matches!(err, WriteError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains("skips the contact"), "{err}");
}

/// Issue 24.3. QualifyLead takes one OpportunityCustomerId: with an account and a
/// contact both linked, the account was sent and the contact bound to nothing.
/// The lead's existing-record lookups (`parentaccountid`, `parentcontactid`,
/// lead entity reference) are bound before it is qualified, and the new
/// opportunity's `parentcontactid` names the contact.
#[test]
fn dataverse_convert_binds_a_linked_contact_next_to_a_linked_account() {
    let p = plan(json!({"account": {"link": "A1"}, "contact": {"link": "C1"}}));
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    let lead = out
        .iter()
        .find(|r| r.reference == "lead")
        .expect("the lead bound first");
    assert_eq!(body(lead)["parentcontactid@odata.bind"], "/contacts(C1)");
    assert_eq!(body(lead)["parentaccountid@odata.bind"], "/accounts(A1)");
    let qualify = out
        .iter()
        .find(|r| r.reference == "qualify")
        .expect("QualifyLead");
    assert_eq!(body(qualify)["OpportunityCustomerId"]["accountid"], "A1");
    let opportunity = out
        .iter()
        .find(|r| r.reference == "opportunity")
        .expect("update");
    assert_eq!(
        body(opportunity)["parentcontactid@odata.bind"],
        "/contacts(C1)"
    );
}

/// Issue 24.4. HubSpot convert ignored `plan.contact` and, for `account: create`,
/// made no company and used the contact's first associated company instead.
/// CRM objects (companies, create with associations; default association
/// types 5 deal→company, 280 company→contact, 3 deal→contact).
#[test]
fn hubspot_convert_follows_the_plans_account_and_contact() {
    let v = strict_hubspot(json!({}));
    let mut record = hubspot_contact();
    record["associations"] =
        json!({"companies": {"results": [{"id": "777", "type": "contact_to_company"}]}});
    let p = plan(json!({"account": "create", "contact": "create"}));
    let out = write(
        &v,
        Format::Hubspot,
        &record,
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    let company = out
        .iter()
        .find(|r| r.reference == "company")
        .expect("a new company");
    assert_eq!(company.path, "/crm/v3/objects/companies");
    assert_eq!(body(company)["properties"]["name"], "Ruiz Logistics");
    assert_eq!(body(company)["associations"][0]["to"]["id"], "51");
    assert_eq!(
        body(company)["associations"][0]["types"][0]["associationTypeId"],
        280
    );
    let deal = out.iter().find(|r| r.reference == "deal").expect("a deal");
    let to: Vec<&Value> = body(deal)["associations"]
        .as_array()
        .expect("associations")
        .iter()
        .map(|a| &a["to"]["id"])
        .collect();
    assert_eq!(
        to,
        vec![&json!("51"), &json!("@{company.id}")],
        "not company 777"
    );

    // Linking another contact puts the deal on it; skipping the account and
    // the contact leaves the deal without them.
    let p = plan(json!({"account": "skip", "contact": {"link": "88"}}));
    let out = write(
        &v,
        Format::Hubspot,
        &record,
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    let deal = out.iter().find(|r| r.reference == "deal").expect("a deal");
    assert_eq!(
        body(deal)["associations"],
        json!([{"to": {"id": "88"},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}])
    );
    let p = plan(json!({"account": "skip", "contact": "skip"}));
    let out = write(
        &v,
        Format::Hubspot,
        &record,
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    let deal = out.iter().find(|r| r.reference == "deal").expect("a deal");
    assert_eq!(body(deal)["associations"], json!([]));
}

/// Issue 24.5. `write.forecast_field` is documented on 0..100 and Dataverse and
/// Salesforce got 0..100, while HubSpot got a 0..1 string: one scale for all.
#[test]
fn forecast_probability_is_on_one_scale_for_every_crm() {
    let f = forecast(0.62);
    let hs = strict_hubspot(json!({"write": {"forecast_field": "crm_rules_probability"}}));
    let deal = json!({"id": "9001", "properties": {"dealstage": "presentationscheduled"}});
    let out = write(
        &hs,
        Format::Hubspot,
        &deal,
        Some(ObjectType::Opportunity),
        Decision::Forecast(&f),
    )
    .expect("written");
    assert_eq!(body(&out[0])["properties"]["crm_rules_probability"], "62");
    let sf =
        json!({"attributes": {"type": "Opportunity"}, "Id": "006A", "StageName": "Needs Analysis"});
    let out = write(
        &strict_salesforce(),
        Format::Salesforce,
        &sf,
        None,
        Decision::Forecast(&f),
    )
    .expect("written");
    assert_eq!(body(&out[0])["Probability"], 62);
    let dv = json!({"@odata.context": "https://x/api/data/v9.2/$metadata#opportunities/$entity",
                    "opportunityid": "O1"});
    let out = write(
        &dataverse(),
        Format::Dataverse,
        &dv,
        None,
        Decision::Forecast(&f),
    )
    .expect("written");
    assert_eq!(body(&out[0])["closeprobability"], 62);
}

/// Issue 24.7. REST API Developer Guide, "Conditional Requests": sObject Rows
/// honour `If-Unmodified-Since` (an HTTP-date) and answer 412 when the row
/// changed since; Salesforce updates carried no guard while Dataverse's carry
/// `If-Match`. A record read with its LastModifiedDate is updated only if
/// unchanged since (the fraction of a second rounded up).
#[test]
fn salesforce_updates_are_guarded_by_if_unmodified_since() {
    let f = forecast(0.4);
    let sf = json!({"attributes": {"type": "Opportunity"}, "Id": "006A",
                    "StageName": "Needs Analysis", "LastModifiedDate": "2026-11-20T10:15:00.250+0000"});
    let out = write(
        &strict_salesforce(),
        Format::Salesforce,
        &sf,
        None,
        Decision::Forecast(&f),
    )
    .expect("written");
    assert_eq!(
        out[0].headers["If-Unmodified-Since"],
        "Fri, 20 Nov 2026 10:15:01 GMT"
    );
    let mut lead = salesforce_lead();
    lead["LastModifiedDate"] = json!("2026-11-20T10:15:00.000+0000");
    let q = qualified("call");
    let out = write(
        &strict_salesforce(),
        Format::Salesforce,
        &lead,
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert_eq!(
        out[0].headers["If-Unmodified-Since"],
        "Fri, 20 Nov 2026 10:15:00 GMT"
    );
    // Read without it: nothing to compare against, no guard invented.
    let out = write(
        &strict_salesforce(),
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert!(!out[0].headers.contains_key("If-Unmodified-Since"));
}

// ---- Issue 24.6: a conversion retried after a lost answer ----------------------

/// A CRM that applies the requests of a convert, as far as a replay needs: which
/// records exist and what was written to the opportunity.
#[derive(Default, Debug)]
struct Replayed {
    opportunities: Vec<String>,
    writes: Vec<(String, Value)>,
}

/// Salesforce's convertLead succeeded, its answer was lost; the lead, read again,
/// says IsConverted with ConvertedOpportunityId (Lead object reference). The
/// retry sends no second convertLead (it would fail on a converted lead) and
/// finishes the same opportunity: the same records, no duplicates.
#[test]
fn a_salesforce_conversion_retried_after_a_lost_answer_finishes() {
    let v = strict_salesforce();
    let p = plan(json!({"account": {"link": "001A"}}));
    let mut crm = Replayed::default();
    let first = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    assert_eq!(first[0].to_json()["operation"], "convertLead");
    // convertLead runs: the opportunity exists; the answer never arrives, so the
    // update that needed it is never sent.
    crm.opportunities.push("006NEW000000001AAA".into());
    let mut reread = salesforce_lead();
    reread["IsConverted"] = json!(true);
    reread["ConvertedOpportunityId"] = json!("006NEW000000001AAA");
    reread["ConvertedAccountId"] = json!("001A");
    reread["ConvertedContactId"] = json!("003NEW");
    let retry =
        write(&v, Format::Salesforce, &reread, None, Decision::Convert(&p)).expect("written");
    assert!(
        retry.iter().all(|r| r.to_json().get("operation").is_none()),
        "{retry:?}"
    );
    assert_eq!(retry.len(), 1);
    for r in &retry {
        assert!(
            r.needs().is_empty(),
            "nothing waits for a lost answer: {r:?}"
        );
        crm.writes.push((r.path.clone(), body(r).clone()));
    }
    assert_eq!(crm.opportunities.len(), 1, "no second opportunity");
    assert_eq!(
        crm.writes[0].0,
        "/services/data/v62.0/sobjects/Opportunity/006NEW000000001AAA"
    );
    // The same update the first run would have sent.
    assert_eq!(&crm.writes[0].1, body(&first[1]));
    // A lead converted into other records than the plan links is not "finished".
    reread["ConvertedAccountId"] = json!("001OTHER");
    let err =
        write(&v, Format::Salesforce, &reread, None, Decision::Convert(&p)).expect_err("refused");
    assert!(err.to_string().contains("001OTHER"), "{err}");
}

/// Dataverse's QualifyLead succeeded, its answer was lost; the lead, read again,
/// is qualified (statecode 1) and names `qualifyingopportunityid` (lead entity
/// reference). The retry finishes that opportunity instead of calling
/// QualifyLead on a qualified lead.
#[test]
fn a_dataverse_conversion_retried_after_a_lost_answer_finishes() {
    let p = plan(json!({"initial_stage": "Develop"}));
    let first = write(
        &dataverse(),
        Format::Dataverse,
        &dataverse_lead(),
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    assert!(first[0].path.ends_with("QualifyLead"));
    let mut reread = dataverse_lead();
    reread["statecode"] = json!(1);
    reread["statuscode"] = json!(3);
    reread["_qualifyingopportunityid_value"] = json!("O-NEW");
    let retry = write(
        &dataverse(),
        Format::Dataverse,
        &reread,
        None,
        Decision::Convert(&p),
    )
    .expect("written");
    assert_eq!(retry.len(), 1, "{retry:?}");
    assert_eq!(retry[0].path, "/api/data/v9.2/opportunities(O-NEW)");
    assert_eq!(retry[0].headers["If-Match"], "*", "an update never creates");
    assert_eq!(body(&retry[0]), body(&first[1]));
    // Qualified without an opportunity: the plan's cannot be found.
    reread["_qualifyingopportunityid_value"] = json!(null);
    let err = write(
        &dataverse(),
        Format::Dataverse,
        &reread,
        None,
        Decision::Convert(&p),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("qualifyingopportunityid"), "{err}");
}

/// HubSpot has no conversion call to fail: with the org's unique property the
/// deal and the company are upserted under the same keys on a retry
/// (`batch/upsert` with `idProperty`), and default associations are `PUT`s, so
/// replaying the whole convert finds the records the first run made.
#[test]
fn a_hubspot_conversion_replayed_upserts_the_same_records() {
    let v = strict_hubspot(json!({"write": {"idempotency_field": "crm_rules_key"}}));
    let p = plan(json!({"account": "create"}));
    let first = write(
        &v,
        Format::Hubspot,
        &hubspot_contact(),
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    let again = write(
        &v,
        Format::Hubspot,
        &hubspot_contact(),
        Some(ObjectType::Lead),
        Decision::Convert(&p),
    )
    .expect("written");
    assert_eq!(first, again);
    let creates: Vec<&Request> = first
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert!(!creates.is_empty());
    for r in creates {
        assert!(
            r.path.ends_with("/batch/upsert"),
            "a create that a replay duplicates: {r:?}"
        );
    }
    let deal_link = first
        .iter()
        .find(|r| {
            r.path
                .contains("/deals/@{deal.results[0].id}/associations/default/companies/")
        })
        .expect("the deal tied to the new company");
    assert!(deal_link.path.ends_with("@{company.results[0].id}"));
}

// ---- Issue 24.8 ------------------------------------------------------------------

fn many_follow_ups(n: usize) -> Qualification {
    let follow_ups: Vec<Value> = (0..n)
        .map(|i| json!({"kind": "call", "subject": format!("call {i}"), "due": "2026-11-26"}))
        .collect();
    serde_json::from_value(json!({
        "outcome": "qualified", "rating": "hot", "score": 90, "reasons": [],
        "follow_ups": follow_ups
    }))
    .expect("a qualification")
}

/// Issue 24.8. Composite holds 25 subrequests; cut into several composites, the
/// whole lost `allOrNone` and references into an earlier one. REST API, Composite
/// Graph: up to 500 nodes, all or none, referring to each other.
#[test]
fn more_than_a_composite_holds_goes_as_one_all_or_none_graph() {
    let v =
        vocabularies(json!({"salesforce": {"write": {"idempotency_field": "Crm_Rules_Key__c"}}}));
    let q = many_follow_ups(30);
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Qualify(&q),
    )
    .expect("written");
    assert_eq!(out.len(), 31);
    let sends = bundle(v.get(Format::Salesforce).expect("vocabulary"), &out, "k");
    assert_eq!(sends.len(), 1, "one atomic send");
    assert_eq!(sends[0].path, "/services/data/v62.0/composite/graph");
    let graphs = body(&sends[0])["graphs"].as_array().expect("graphs");
    assert_eq!(graphs.len(), 1);
    assert_eq!(
        graphs[0]["compositeRequest"].as_array().map(Vec::len),
        Some(31)
    );
    assert!(sends[0].needs().is_empty());
    // 25 or fewer stay one composite.
    let out = write(
        &v,
        Format::Salesforce,
        &salesforce_lead(),
        None,
        Decision::Qualify(&many_follow_ups(24)),
    )
    .expect("written");
    let sends = bundle(v.get(Format::Salesforce).expect("vocabulary"), &out, "k");
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].path, "/services/data/v62.0/composite");
}

/// Issue 24.8. HubSpot batch calls take at most 100 inputs (CRM objects, batch
/// create); 150 follow-ups went as one call HubSpot refuses.
#[test]
fn hubspot_batch_creates_hold_at_most_100_inputs() {
    let v = strict_hubspot(json!({}));
    let out = write(
        &v,
        Format::Hubspot,
        &hubspot_contact(),
        None,
        Decision::Qualify(&many_follow_ups(150)),
    )
    .expect("written");
    let sends = bundle(v.get(Format::Hubspot).expect("vocabulary"), &out, "k");
    let sizes: Vec<usize> = sends
        .iter()
        .filter(|s| s.path.ends_with("/batch/create"))
        .map(|s| body(s)["inputs"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![100, 50]);
    let references: Vec<&str> = sends.iter().map(|s| s.reference.as_str()).collect();
    let unique: std::collections::BTreeSet<&&str> = references.iter().collect();
    assert_eq!(unique.len(), references.len(), "references stay unique");
}

/// Issue 24.8. A SOQL subquery pages like a query (REST API, Query: `done`,
/// `nextRecordsUrl` inside the relationship's result) and a Dataverse expanded
/// collection carries `<nav>@odata.nextLink` (Web API, expand collection-valued
/// navigation properties). Both were dropped without a word; the decision saw
/// one page of the activities. Each now gets a notice line and a warning.
#[test]
fn a_related_collection_cut_at_its_page_size_says_so() {
    let cases = [
        (
            json!({"attributes": {"type": "Opportunity"}, "Id": "006A", "Name": "Fleet",
                   "StageName": "Qualification", "Amount": 100.0, "CloseDate": "2026-12-31",
                   "Tasks": {"totalSize": 300, "done": false,
                             "nextRecordsUrl": "/services/data/v62.0/query/01gX-200",
                             "records": [{"attributes": {"type": "Task"}, "Id": "00T1",
                                          "WhatId": "006A", "Status": "Completed", "IsClosed": true,
                                          "ActivityDate": "2026-11-01"}]}}),
            "salesforce",
            "Tasks",
            "/services/data/v62.0/query/01gX-200",
        ),
        (
            json!({"@odata.context": "https://x/api/data/v9.2/$metadata#opportunities/$entity",
                   "opportunityid": "o1", "name": "Fleet", "salesstage": 0,
                   "Opportunity_Tasks": [],
                   "Opportunity_Tasks@odata.nextLink": "https://x/api/data/v9.2/opportunities(o1)/Opportunity_Tasks?$skiptoken=2"}),
            "dataverse",
            "Opportunity_Tasks",
            "https://x/api/data/v9.2/opportunities(o1)/Opportunity_Tasks?$skiptoken=2",
        ),
    ];
    for (record, format, path, next) in cases {
        let out = support::cli(
            &[
                "--now",
                "2026-11-25T09:00:00Z",
                "--no-cache",
                "--org-dir",
                "examples/loose",
                "forecast",
            ],
            Some(&record.to_string()),
        );
        let lines: Vec<Value> = support::text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON lines"))
            .collect();
        assert_eq!(
            lines.len(),
            2,
            "{format}: {lines:?} {}",
            support::text(&out.stderr)
        );
        assert_eq!(lines[1]["notice"], "more_related", "{format}: {lines:?}");
        assert_eq!(lines[1]["format"], format);
        assert_eq!(lines[1]["path"], path);
        assert_eq!(lines[1]["next"], next);
        let stderr = support::text(&out.stderr);
        assert!(
            stderr.contains("one page of its related records"),
            "{format}: {stderr}"
        );
    }
}
