//! What the host checks of every answer before it takes it: the contract's own
//! bounds (a score is 0..100, a probability 0..1, numbers are finite, every index
//! points at something that exists, every template gets the arguments it uses) and
//! the size limit. A module that breaks them costs that decision (`bad_output`,
//! `output_too_large`); nothing it returned is passed on.

use super::facts::OrgFacts;
use super::latest as l;
use crate::decision::{Answer, InputRef};

/// Module text quoted in a message, cut to its first 64 characters: a message
/// about an answer must not carry the answer's megabytes along.
pub(crate) fn quoted(text: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 64;
    match text.char_indices().nth(SHOWN) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => {
            std::borrow::Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
        }
    }
}

/// Approximate size of an answer: bytes of text plus 16 per list element, so a
/// module cannot hand the host an unbounded result.
pub trait OutputSize {
    /// The size, in bytes.
    fn output_size(&self) -> usize;
}

fn list<T>(items: &[T], each: impl Fn(&T) -> usize) -> usize {
    items.iter().map(|i| 16 + each(i)).sum()
}

fn field_ref_size(f: &l::FieldRef) -> usize {
    match f {
        l::FieldRef::Named(name) => name.len(),
        _ => 0,
    }
}

fn args_size(args: &[l::Arg]) -> usize {
    list(args, |a| match a {
        l::Arg::Text(text) => text.len(),
        l::Arg::Field(f) | l::Arg::Value(f) => field_ref_size(f),
        l::Arg::Fields(fields) => list(fields, field_ref_size),
        _ => 0,
    })
}

fn reasons_size(reasons: &[l::Reason]) -> usize {
    list(reasons, |r| args_size(&r.args))
}

impl OutputSize for Answer {
    fn output_size(&self) -> usize {
        match self {
            Answer::Qualify(q) => {
                let missing = match &q.outcome {
                    l::Outcome::NeedsInformation(fields) => list(fields, field_ref_size),
                    _ => 0,
                };
                missing
                    + reasons_size(&q.reasons)
                    + list(&q.follow_ups, |f| args_size(&f.subject.args))
            }
            Answer::Convert(c) => {
                reasons_size(&c.reasons)
                    + c.opportunity_name
                        .as_ref()
                        .map_or(0, |m| args_size(&m.args))
            }
            Answer::Transition(t) => list(&t.missing, field_ref_size) + reasons_size(&t.reasons),
            Answer::Forecast(f) => list(&f.stages, |_| 0) + reasons_size(&f.reasons),
        }
    }
}

/// The size of a module's facts: names, templates and the fields it reads.
pub(crate) fn facts_size(facts: &OrgFacts) -> usize {
    facts.name.len()
        + facts.version.len()
        + list(&facts.stages, |s| {
            s.name.len() + list(&s.steps, |p| p.name.len() + p.field.len())
        })
        + list(&facts.templates, |t| t.code.len() + t.text.len())
        + list(&facts.custom_fields, String::len)
}

/// Where in an answer a value is (`reasons[2].args[0]`), spelled out only when a
/// message names it: the checks run on every answer, the messages almost never.
#[derive(Clone, Copy)]
struct At<'a> {
    parent: Option<&'a At<'a>>,
    name: &'static str,
    index: Option<usize>,
}

impl<'a> At<'a> {
    const fn root(name: &'static str) -> At<'static> {
        At {
            parent: None,
            name,
            index: None,
        }
    }

    const fn item(name: &'static str, index: usize) -> At<'static> {
        At {
            parent: None,
            name,
            index: Some(index),
        }
    }

    fn field(&'a self, name: &'static str) -> At<'a> {
        At {
            parent: Some(self),
            name,
            index: None,
        }
    }

    fn index(&'a self, name: &'static str, index: usize) -> At<'a> {
        At {
            parent: Some(self),
            name,
            index: Some(index),
        }
    }
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(self.name)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

/// What an answer may refer to.
struct Scope<'a> {
    facts: &'a OrgFacts,
    candidates: usize,
}

impl Scope<'_> {
    fn stage(&self, at: At<'_>, stage: u32) -> Result<(), String> {
        if (stage as usize) < self.facts.stages.len() {
            Ok(())
        } else {
            Err(format!(
                "{at}: stage {stage} does not exist (the org has {})",
                self.facts.stages.len()
            ))
        }
    }

    fn field(&self, at: At<'_>, field: &l::FieldRef) -> Result<(), String> {
        let (what, index, count) = match field {
            l::FieldRef::Custom(i) => ("custom field", *i, self.facts.custom_fields.len()),
            l::FieldRef::Step(i) => ("step", *i, self.facts.steps.len()),
            l::FieldRef::Lead(_) | l::FieldRef::Named(_) => return Ok(()),
        };
        if (index as usize) < count {
            Ok(())
        } else {
            Err(format!(
                "{at}: {what} {index} does not exist (there are {count})"
            ))
        }
    }

    fn args(&self, at: At<'_>, template: u32, args: &[l::Arg]) -> Result<(), String> {
        let Some(t) = self.facts.templates.get(template as usize) else {
            return Err(format!(
                "{at}: template {template} does not exist (the module declared {})",
                self.facts.templates.len()
            ));
        };
        if args.len() < t.arity() {
            return Err(format!(
                "{at}: template `{}` uses {} arguments, the answer gives {}",
                t.code,
                t.arity(),
                args.len()
            ));
        }
        for (i, arg) in args.iter().enumerate() {
            let at = at.index("args", i);
            match arg {
                l::Arg::Number(n) => finite(at, *n)?,
                l::Arg::Stage(s) => self.stage(at, *s)?,
                l::Arg::Field(f) | l::Arg::Value(f) => self.field(at, f)?,
                l::Arg::Fields(fields) => {
                    for f in fields {
                        self.field(at, f)?;
                    }
                }
                l::Arg::Candidate(c) if (*c as usize) >= self.candidates => {
                    return Err(format!(
                        "{at}: candidate {c} does not exist (the call gave {})",
                        self.candidates
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn reasons(&self, reasons: &[l::Reason]) -> Result<(), String> {
        for (i, r) in reasons.iter().enumerate() {
            self.args(At::item("reasons", i), r.template, &r.args)?;
        }
        Ok(())
    }

    fn link(&self, at: At<'_>, action: &l::RecordAction) -> Result<(), String> {
        match action {
            l::RecordAction::Link(i) if (*i as usize) >= self.candidates => Err(format!(
                "{at}: links candidate {i}, and the call gave {} candidates",
                self.candidates
            )),
            _ => Ok(()),
        }
    }
}

fn finite(at: At<'_>, n: f64) -> Result<(), String> {
    if n.is_finite() {
        Ok(())
    } else {
        Err(format!("{at}: {n} is not a finite number"))
    }
}

fn money(at: At<'_>, m: &Option<l::Money>) -> Result<(), String> {
    let Some(m) = m else { return Ok(()) };
    finite(at.field("amount"), m.amount)?;
    let l::Currency { a, b, c } = m.currency;
    if [a, b, c].iter().all(u8::is_ascii_uppercase) {
        Ok(())
    } else {
        Err(format!(
            "{at}.currency: bytes {a}, {b}, {c} are not an ISO 4217 code"
        ))
    }
}

fn date(at: At<'_>, days: l::Date) -> Result<(), String> {
    match crm_rules_model::days_to_date(days) {
        Some(_) => Ok(()),
        None => Err(format!("{at}: day {days} is out of range")),
    }
}

fn unit_interval(at: At<'_>, p: f64) -> Result<(), String> {
    // -0.0 compares equal to 0.0 but prints as "-0": refused like any other value
    // outside the contract.
    if p.is_finite() && (0.0..=1.0).contains(&p) && !p.is_sign_negative() {
        Ok(())
    } else {
        Err(format!("{at}: {p} is outside 0..1"))
    }
}

/// Checks an answer against the contract, for the input it answers; the error
/// names the field of the answer at fault.
pub(crate) fn check_answer(
    answer: &Answer,
    facts: &OrgFacts,
    input: InputRef<'_>,
) -> Result<(), String> {
    let scope = Scope {
        facts,
        candidates: match input {
            InputRef::Convert { candidates, .. } => candidates.len(),
            _ => 0,
        },
    };
    match answer {
        Answer::Qualify(q) => {
            if q.score > 100 {
                return Err(format!("score: {} is outside 0..100", q.score));
            }
            if let l::Outcome::NeedsInformation(fields) = &q.outcome {
                for f in fields {
                    scope.field(At::root("outcome").field("missing"), f)?;
                }
            }
            scope.reasons(&q.reasons)?;
            for (i, f) in q.follow_ups.iter().enumerate() {
                let at = At::item("follow_ups", i);
                date(at.field("due"), f.due)?;
                scope.args(at.field("subject"), f.subject.template, &f.subject.args)?;
            }
        }
        Answer::Convert(c) => {
            scope.link(At::root("account"), &c.account)?;
            scope.link(At::root("contact"), &c.contact)?;
            scope.link(At::root("opportunity"), &c.opportunity)?;
            scope.stage(At::root("initial_stage"), c.initial_stage)?;
            money(At::root("estimated_value"), &c.estimated_value)?;
            if let Some(close) = c.estimated_close {
                date(At::root("estimated_close"), close)?;
            }
            if let Some(name) = &c.opportunity_name {
                scope.args(At::root("opportunity_name"), name.template, &name.args)?;
            }
            scope.reasons(&c.reasons)?;
        }
        Answer::Transition(t) => {
            for f in &t.missing {
                scope.field(At::root("missing"), f)?;
            }
            scope.reasons(&t.reasons)?;
        }
        Answer::Forecast(f) => {
            unit_interval(At::root("probability"), f.probability)?;
            money(At::root("weighted_value"), &f.weighted_value)?;
            for (i, s) in f.stages.iter().enumerate() {
                let at = At::item("stages", i);
                scope.stage(at.field("stage"), s.stage)?;
                finite(at.field("weight"), s.weight)?;
                unit_interval(at.field("mean_rating"), s.mean_rating)?;
            }
            scope.reasons(&f.reasons)?;
        }
    }
    Ok(())
}
