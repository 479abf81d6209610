//! The shapes of what the service reads and answers, for the OpenAPI document.
//!
//! Records and decisions are the contract's own types (`crm_rules_model`, whose
//! schemas `utoipa` derives with the model's `openapi` feature), so the document
//! follows the types the service reads and writes. What the model has no type
//! for (an answer line, a native request, a CRM's own record, a body of one or
//! many records) is described here; the service's tests and schemathesis in CI
//! check real answers against these shapes.

// Nothing builds these types: they describe JSON the pipeline and the host write.
#![allow(dead_code)]

use std::borrow::Cow;

use crm_rules_model as m;
use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// A schema that is any of the named component schemas (or arrays of them):
/// `anyOf`, not `oneOf`, as a canonical record is also an object a CRM reader
/// could be given.
macro_rules! any_of {
    ($(#[$meta:meta])* $name:ident = [$($item:expr),+ $(,)?], $description:literal, [$($dep:ty),* $(,)?]) => {
        $(#[$meta])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                AnyOfBuilder::new()
                    $(.item($item))+
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                $(
                    schemas.push((<$dep as ToSchema>::name().into_owned(), <$dep as PartialSchema>::schema()));
                    <$dep as ToSchema>::schemas(schemas);
                )*
            }
        }
    };
}

/// A reference to a component schema.
fn named<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// An array of a component schema.
fn array_of<T: ToSchema>() -> RefOr<Schema> {
    ArrayBuilder::new().items(named::<T>()).into()
}

/// A record in a CRM's own format: a Dataverse, Salesforce or HubSpot record as
/// the CRM's API gives it (detected per record, or `?format=`). docs/adapters.md
/// lists the fields each CRM's reader takes.
pub struct NativeRecord;

impl PartialSchema for NativeRecord {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .description(Some(
                "A record in a CRM's own format (Dataverse, Salesforce, HubSpot), as the CRM's \
                 API gives it; detected per record, or named with `?format=`.",
            ))
            .into()
    }
}

impl ToSchema for NativeRecord {}

any_of!(
    /// A lead: canonical, or a CRM's own record.
    LeadRecord = [named::<m::Lead>(), named::<NativeRecord>()],
    "A lead: canonical (`Lead`), or a CRM's own record.",
    [m::Lead, NativeRecord]
);

any_of!(
    /// A candidate of a conversion: canonical, or a CRM's own record.
    CandidateRecord = [named::<m::Candidate>(), named::<NativeRecord>()],
    "An existing record that may be the lead's party or deal: canonical (`Candidate`), or a CRM's own record.",
    [m::Candidate, NativeRecord]
);

any_of!(
    /// An opportunity: canonical, or a CRM's own record.
    OpportunityRecord = [named::<m::Opportunity>(), named::<NativeRecord>()],
    "An opportunity: canonical (`Opportunity`), or a CRM's own record.",
    [m::Opportunity, NativeRecord]
);

/// A conversion to plan: the qualified lead and the existing records that may be
/// its account, contact or opportunity.
#[derive(ToSchema)]
pub struct ConvertInput {
    pub lead: LeadRecord,
    /// Existing accounts, contacts and opportunities to link instead of creating.
    pub candidates: Option<Vec<CandidateRecord>>,
}

/// A stage move to check: the opportunity and the stage to move it to.
#[derive(ToSchema)]
pub struct TransitionInput {
    pub opportunity: OpportunityRecord,
    /// The stage to move to; default: the request's `?to=`.
    pub to: Option<String>,
}

any_of!(
    /// What a transition reads: an input, or an opportunity alone with `?to=`.
    TransitionRecord = [named::<TransitionInput>(), named::<OpportunityRecord>()],
    "`{\"opportunity\": ..., \"to\": ...}`, or an opportunity alone (with `?to=`).",
    [TransitionInput, OpportunityRecord]
);

any_of!(
    /// The body of `qualify`.
    QualifyBody = [named::<LeadRecord>(), array_of::<LeadRecord>()],
    "One lead, or an array of leads (JSON lines: `application/x-ndjson`).",
    [LeadRecord]
);

any_of!(
    /// What a conversion reads: an input, or a lead alone (no candidates).
    ConvertRecord = [named::<ConvertInput>(), named::<LeadRecord>()],
    "`{\"lead\": ..., \"candidates\": [...]}`, or a lead alone (no candidates).",
    [ConvertInput, LeadRecord]
);

any_of!(
    /// The body of `convert`.
    ConvertBody = [named::<ConvertRecord>(), array_of::<ConvertRecord>()],
    "One conversion, or an array of them (JSON lines: `application/x-ndjson`).",
    [ConvertRecord]
);

any_of!(
    /// The body of `transition`.
    TransitionBody = [named::<TransitionRecord>(), array_of::<TransitionRecord>()],
    "One stage move, or an array of them (JSON lines: `application/x-ndjson`).",
    [TransitionRecord]
);

any_of!(
    /// The body of `forecast`.
    ForecastBody = [named::<OpportunityRecord>(), array_of::<OpportunityRecord>()],
    "One opportunity with its activities, or an array of them (JSON lines: `application/x-ndjson`).",
    [OpportunityRecord]
);

/// Which version decided a record.
#[derive(Debug, ToSchema)]
pub struct DecidedBy {
    /// The version's label.
    pub version: String,
    /// The module's SHA-256.
    pub module_hash: String,
}

/// What went wrong: a code a program can branch on and a sentence for a person.
/// The same on an answer line and in the body of every 4xx and 5xx answer.
#[derive(Debug, ToSchema)]
pub struct ErrorDetail {
    /// The service's (`unauthorized`, `forbidden`, `unknown_org`, `invalid_input`,
    /// `unsupported_media_type`, `body_too_large`, `overloaded`, ...), a record's
    /// (`invalid_input`, `module_stopped`, `native`, `host`) or the rules' own
    /// (`missing_field`, `unknown_stage`, ...).
    pub code: String,
    /// What happened, for a person.
    pub message: String,
    /// Why a module stopped (`out_of_fuel`, `timeout`, `memory_limit`, `trap`,
    /// `output_too_large`, `bad_output`), or `native` when only the native requests
    /// could not be made.
    pub kind: Option<String>,
    /// The field or JSON path at fault (`null` when none).
    pub field: Option<String>,
}

/// The body of every 4xx and 5xx answer: `error`. A request of one record that
/// failed also names the record (`position`, `id`, `format`) and, when a module
/// ran, the version (`by`).
#[derive(Debug, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// The record's 1-based position in the body.
    pub position: Option<u64>,
    /// The record's id, when it has one.
    pub id: Option<String>,
    /// The record's CRM format, when it is not canonical.
    pub format: Option<String>,
    pub by: Option<DecidedBy>,
}

/// A native CRM request that applies a decision (`?emit=native|both`), in the
/// order to send them.
#[derive(Debug, ToSchema)]
pub struct NativeAction {
    /// The request's name, which later requests refer to as `@{ref.field}`.
    #[schema(rename = "ref")]
    pub reference: String,
    /// `soap` for a SOAP call (Salesforce's `convertLead`).
    pub api: Option<String>,
    /// The SOAP operation.
    pub operation: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The path on the CRM's API.
    pub path: String,
    /// Headers to send (idempotency keys, `If-Match`, ...).
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub headers: Option<Value>,
    /// The request's body: JSON, or text for SOAP.
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    /// The earlier requests whose answers this one refers to.
    pub needs: Option<Vec<String>>,
}

/// One answer line of each decision: the decision (and native requests) for a
/// record, or its error; `position` always, the rest when known.
macro_rules! line {
    ($(#[$meta:meta])* $name:ident, $decision:ty, $answer:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, ToSchema)]
        pub struct $name {
            /// The record's 1-based position in the body.
            pub position: u64,
            /// The record's id, when it has one.
            pub id: Option<String>,
            /// The record's CRM format, when it is not canonical.
            pub format: Option<String>,
            pub by: Option<DecidedBy>,
            pub decision: Option<$decision>,
            /// The native CRM requests that apply the decision (`?emit=native|both`).
            pub actions: Option<Vec<NativeAction>>,
            pub error: Option<ErrorDetail>,
        }

        any_of!(
            #[doc = concat!("The `application/json` answer of ", $what, ".")]
            $answer = [named::<$name>(), array_of::<$name>()],
            "One line for a body of one record; an array of lines for a batch asked with `Accept: application/json` (otherwise a batch answers JSON lines, `application/x-ndjson`, one line each).",
            [$name]
        );
    };
}

/// How a qualification came out.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The lead is qualified.
    Qualified,
    /// The lead is disqualified (`reason` says why).
    Disqualified,
    /// Every required fact is known, but the lead is not strong enough yet.
    Nurture,
    /// Facts are missing (`missing` names them).
    NeedsInformation,
}

/// A qualification decision: the contract's `Qualification`, whose outcome
/// (`m::Outcome`, a tagged enum) is flattened into it as JSON writes it. Described
/// flat, with the outcome's fields beside it, as generators cannot take an
/// `allOf` of a `oneOf`.
#[derive(Debug, ToSchema)]
#[schema(as = Qualification)]
pub struct QualificationDoc {
    pub outcome: OutcomeKind,
    /// Why the lead is disqualified (`disqualified` only).
    pub reason: Option<m::DisqualifyReason>,
    /// The missing fields (`needs_information` only).
    pub missing: Option<Vec<String>>,
    pub rating: m::Rating,
    /// 0..100.
    pub score: u32,
    /// Why, for a person to read.
    pub reasons: Vec<String>,
    /// What to do next.
    pub follow_ups: Vec<m::FollowUp>,
}

line!(
    /// A line of `qualify`.
    QualifyLine,
    QualificationDoc,
    QualifyAnswer,
    "`qualify`"
);
line!(
    /// A line of `convert`.
    ConvertLine,
    m::ConversionPlan,
    ConvertAnswer,
    "`convert`"
);
line!(
    /// A line of `transition`.
    TransitionLine,
    m::TransitionCheck,
    TransitionAnswer,
    "`transition`"
);
line!(
    /// A line of `forecast`.
    ForecastLine,
    m::Forecast,
    ForecastAnswer,
    "`forecast`"
);

/// The contracts a module can export, as the service names them.
#[derive(Debug, ToSchema)]
pub enum Contract {
    #[schema(rename = "crm:rules@0.1.0")]
    V010,
    #[schema(rename = "crm:rules@0.2.0")]
    V020,
}

/// Where a version's compiled code came from.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CodeOrigin {
    /// Compiled now.
    Compiled,
    /// Loaded from the compiled-module cache.
    Cache,
    /// Already compiled in this process for another org or version.
    Shared,
}

/// A module version as the host knows it.
#[derive(Debug, ToSchema)]
pub struct ModuleDoc {
    /// The org.
    pub org: String,
    /// The version's label.
    pub version: String,
    /// The module's SHA-256.
    pub hash: String,
    pub contract: Contract,
    pub info: m::ModuleInfo,
    pub origin: CodeOrigin,
}

/// One version of an org's module.
#[derive(Debug, ToSchema)]
pub struct VersionDoc {
    /// The version's label.
    pub version: String,
    /// The module's SHA-256.
    pub hash: String,
    /// The module's name.
    pub name: String,
    pub contract: Contract,
    /// Whether it decides now.
    pub active: bool,
}

/// A component's bytes (`.wasm`).
pub struct ModuleBytes;

impl PartialSchema for ModuleBytes {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::Binary,
            )))
            .description(Some("A WebAssembly component (`.wasm`)."))
            .into()
    }
}

impl ToSchema for ModuleBytes {}

/// Liveness.
#[derive(Debug, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}
