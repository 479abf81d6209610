//! The typed decisions: what is asked ([`Input`]), of which kind ([`Kind`]), and what
//! the rules answer ([`Answer`]). Everything between reading a record and writing
//! its line speaks these types; JSON exists only at the edges.

use crm_rules_model as m;

use crate::contract::latest;

/// Which decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Qualify a lead (input: a lead).
    Qualify,
    /// Plan a lead's conversion (input: `{"lead": ..., "candidates": [...]}`).
    Convert,
    /// Check a stage move (input: `{"opportunity": ..., "to": "Propose"}`).
    Transition,
    /// Forecast an opportunity (input: an opportunity).
    Forecast,
    /// List the org's stages (no input).
    Stages,
}

impl Kind {
    /// The kind's name, as commands and fixtures write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Qualify => "qualify",
            Kind::Convert => "convert",
            Kind::Transition => "transition",
            Kind::Forecast => "forecast",
            Kind::Stages => "stages",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "qualify" => Kind::Qualify,
            "convert" => Kind::Convert,
            "transition" => Kind::Transition,
            "forecast" => Kind::Forecast,
            "stages" => Kind::Stages,
            other => {
                return Err(format!(
                    "`{other}` is not a decision (qualify, convert, transition, forecast, stages)"
                ))
            }
        })
    }
}

/// A record read into the contract's canonical types: what a decision is asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Qualify a lead.
    Qualify(m::Lead),
    /// Plan a lead's conversion, given existing records that may match it.
    Convert {
        /// The lead.
        lead: m::Lead,
        /// Existing accounts, contacts and opportunities.
        candidates: Vec<m::Candidate>,
    },
    /// May the opportunity move to the stage `to`?
    Transition {
        /// The opportunity.
        opportunity: m::Opportunity,
        /// The stage's name.
        to: String,
    },
    /// Forecast an opportunity.
    Forecast(m::Opportunity),
}

impl Input {
    /// Which decision the input asks for.
    pub fn kind(&self) -> Kind {
        match self {
            Input::Qualify(_) => Kind::Qualify,
            Input::Convert { .. } => Kind::Convert,
            Input::Transition { .. } => Kind::Transition,
            Input::Forecast(_) => Kind::Forecast,
        }
    }

    /// The id of the decided record (the lead or the opportunity).
    pub fn id(&self) -> &str {
        match self {
            Input::Qualify(lead) | Input::Convert { lead, .. } => &lead.id,
            Input::Transition { opportunity, .. } | Input::Forecast(opportunity) => &opportunity.id,
        }
    }
}

/// An [`Input`] by reference: what the host lowers into a module, without owning
/// (or copying) the records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputRef<'a> {
    /// Qualify a lead.
    Qualify(&'a m::Lead),
    /// Plan a lead's conversion.
    Convert {
        /// The lead.
        lead: &'a m::Lead,
        /// Existing accounts, contacts and opportunities.
        candidates: &'a [m::Candidate],
    },
    /// May the opportunity move to the stage `to`?
    Transition {
        /// The opportunity.
        opportunity: &'a m::Opportunity,
        /// The stage's name.
        to: &'a str,
    },
    /// Forecast an opportunity.
    Forecast(&'a m::Opportunity),
}

impl<'a> InputRef<'a> {
    /// Which decision the input asks for.
    pub fn kind(self) -> Kind {
        match self {
            InputRef::Qualify(_) => Kind::Qualify,
            InputRef::Convert { .. } => Kind::Convert,
            InputRef::Transition { .. } => Kind::Transition,
            InputRef::Forecast(_) => Kind::Forecast,
        }
    }

    /// The id of the decided record (the lead or the opportunity).
    pub fn id(self) -> &'a str {
        match self {
            InputRef::Qualify(lead) | InputRef::Convert { lead, .. } => &lead.id,
            InputRef::Transition { opportunity, .. } | InputRef::Forecast(opportunity) => {
                &opportunity.id
            }
        }
    }

    /// The candidates of a conversion; none for other decisions.
    pub fn candidates(self) -> &'a [m::Candidate] {
        match self {
            InputRef::Convert { candidates, .. } => candidates,
            _ => &[],
        }
    }
}

impl Input {
    /// The input by reference.
    pub fn as_ref(&self) -> InputRef<'_> {
        match self {
            Input::Qualify(lead) => InputRef::Qualify(lead),
            Input::Convert { lead, candidates } => InputRef::Convert { lead, candidates },
            Input::Transition { opportunity, to } => InputRef::Transition { opportunity, to },
            Input::Forecast(opportunity) => InputRef::Forecast(opportunity),
        }
    }
}

/// What the rules answered, in the latest contract's types: reasons and subjects
/// are template references, stages are indices. [`crate::render`] turns an answer
/// into text when something needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A qualification.
    Qualify(latest::Qualification),
    /// A conversion plan.
    Convert(latest::ConversionPlan),
    /// A checked stage move.
    Transition(latest::TransitionCheck),
    /// A forecast.
    Forecast(latest::WinForecast),
}

impl Answer {
    /// Which decision answered.
    pub fn kind(&self) -> Kind {
        match self {
            Answer::Qualify(_) => Kind::Qualify,
            Answer::Convert(_) => Kind::Convert,
            Answer::Transition(_) => Kind::Transition,
            Answer::Forecast(_) => Kind::Forecast,
        }
    }

    /// The reasons of the answer.
    pub fn reasons(&self) -> &[latest::Reason] {
        match self {
            Answer::Qualify(q) => &q.reasons,
            Answer::Convert(c) => &c.reasons,
            Answer::Transition(t) => &t.reasons,
            Answer::Forecast(f) => &f.reasons,
        }
    }
}
