//! The template registry: every text a module's answers may refer to, declared once
//! at `init` and listed in `module-info.templates`.
//!
//! An answer names a text by its index ([`TemplateId`]) and passes arguments; the
//! host renders it only when something needs text. Indices only grow: the reference
//! rules declare theirs first, a custom module adds its own after them and keeps the
//! ids it got back, so no reference index ever moves.
//!
//! Template text: `{0}`, `{1}`... stand for the arguments, `{0:.2}` for a number
//! with two decimals, `{{` and `}}` for literal braces. A reason with points is
//! rendered as its text followed by ` (+N)` or ` (-N)`.

use crate::contract::{Arg, ErrorCode, Message, Reason, RuleError, Template};

/// A declared template: its index in `module-info.templates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateId(u32);

impl TemplateId {
    /// The index answers carry (`reason.template`, `message.template`).
    pub const fn index(self) -> u32 {
        self.0
    }

    /// A reason without points.
    pub fn reason(self, args: Vec<Arg>) -> Reason {
        Reason {
            template: self.0,
            points: None,
            args,
        }
    }

    /// A reason that added `points` to a score (rendered ` (+N)` / ` (-N)`).
    pub fn scored(self, points: i32, args: Vec<Arg>) -> Reason {
        Reason {
            template: self.0,
            points: Some(points),
            args,
        }
    }

    /// A text by reference, e.g. a follow-up's subject.
    pub fn message(self, args: Vec<Arg>) -> Message {
        Message {
            template: self.0,
            args,
        }
    }
}

/// The templates of a module, in index order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Templates {
    list: Vec<Template>,
}

impl Templates {
    /// No templates yet.
    pub fn new() -> Self {
        Templates::default()
    }

    /// Declares a template and returns its id.
    ///
    /// `code` is the stable name reports count by (e.g. `source.web_form`); it must
    /// be new. `text` uses the template syntax of this module's docs: pass a text
    /// from elsewhere (a policy) through [`literal`] first.
    pub fn add(
        &mut self,
        code: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<TemplateId, RuleError> {
        let (code, text) = (code.into(), text.into());
        if self.find(&code).is_some() {
            return Err(internal(format!("template `{code}` is declared twice")));
        }
        if let Err(why) = check_syntax(&text) {
            return Err(internal(format!("template `{code}`: {why}: {text}")));
        }
        let index = u32::try_from(self.list.len())
            .map_err(|_| internal("more templates than an index can count".to_owned()))?;
        self.list.push(Template { code, text });
        Ok(TemplateId(index))
    }

    /// The id of the template with this code.
    pub fn find(&self, code: &str) -> Option<TemplateId> {
        let at = self.list.iter().position(|t| t.code == code)?;
        u32::try_from(at).ok().map(TemplateId)
    }

    /// The template of an id.
    pub fn get(&self, id: TemplateId) -> Option<&Template> {
        self.list.get(id.0 as usize)
    }

    /// Every template, in index order.
    pub fn as_slice(&self) -> &[Template] {
        &self.list
    }

    /// How many templates there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none was declared.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

fn internal(message: String) -> RuleError {
    RuleError::new(ErrorCode::Internal, message, None)
}

/// A text as a template that renders it unchanged: braces doubled.
pub fn literal(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

/// Checks that every brace of a template belongs to `{{`, `}}`, `{N}` or `{N:.P}`,
/// so a mistake shows at `init` and not when the host renders an answer.
fn check_syntax(text: &str) -> Result<(), &'static str> {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '{' => {
                let mut spec = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => spec.push(c),
                        None => return Err("a `{` is not closed"),
                    }
                }
                let (index, precision) = match spec.split_once(':') {
                    Some((index, format)) => (index, Some(format)),
                    None => (spec.as_str(), None),
                };
                if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("a placeholder is not `{N}` or `{N:.P}`");
                }
                if let Some(format) = precision {
                    let digits = format.strip_prefix('.').unwrap_or("");
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err("a placeholder is not `{N}` or `{N:.P}`");
                    }
                }
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '}' => return Err("a `}` is not doubled"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_order_of_declaration() {
        let mut t = Templates::new();
        let a = t.add("a", "first").unwrap();
        let b = t.add("b", "second {0}").unwrap();
        assert_eq!((a.index(), b.index()), (0, 1));
        assert_eq!(t.find("b"), Some(b));
        assert_eq!(t.get(b).map(|t| t.text.as_str()), Some("second {0}"));
    }

    #[test]
    fn a_code_is_declared_once() {
        let mut t = Templates::new();
        t.add("a", "x").unwrap();
        let err = t.add("a", "y").unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
    }

    #[test]
    fn placeholders_are_checked() {
        let mut t = Templates::new();
        for good in ["{0}", "{12:.2} {{x}}", "plain", "{{}}"] {
            assert!(t.add(good, good).is_ok(), "{good}");
        }
        for bad in ["{", "}", "{x}", "{0:2}", "{0:.}", "{}"] {
            assert!(t.add(bad, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn literal_text_keeps_its_braces() {
        assert_eq!(literal("a {b} c"), "a {{b}} c");
        assert!(check_syntax(&literal("}{")).is_ok());
    }
}
