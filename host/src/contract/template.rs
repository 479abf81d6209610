//! Templates: the texts a module declares once at `init` and its answers refer to by
//! index. `{0}` is the first argument, `{1:.2}` the second as a number with two
//! decimals, `{{` and `}}` are braces. A template is parsed once, when its version
//! loads, so rendering is a walk over ready pieces.

/// A template, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// A stable name, e.g. `source.web_form`: what reports count reasons by.
    pub code: String,
    /// The text as declared.
    pub text: String,
    pieces: Vec<Piece>,
    /// How many arguments the text uses (one more than the highest index).
    arity: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Arg {
        index: usize,
        decimals: Option<usize>,
    },
}

impl Template {
    /// Parses `text`; the error says what is wrong and where.
    pub fn parse(code: &str, text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        let mut arity = 0;
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut spec = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, c)) => spec.push(c),
                            None => return Err(format!("`{{` at byte {at} is never closed")),
                        }
                    }
                    let (index, decimals) = match spec.split_once(":.") {
                        Some((index, decimals)) => (index, Some(decimals)),
                        None => (spec.as_str(), None),
                    };
                    let index: usize = index.parse().map_err(|_| {
                        format!("`{{{spec}}}` at byte {at} is not `{{N}}` or `{{N:.P}}`")
                    })?;
                    let decimals = match decimals {
                        Some(d) => Some(d.parse::<usize>().ok().filter(|d| *d <= 17).ok_or_else(
                            || format!("`{{{spec}}}` at byte {at}: decimals must be 0..17"),
                        )?),
                        None => None,
                    };
                    if index >= 64 {
                        return Err(format!("`{{{spec}}}` at byte {at}: at most 64 arguments"));
                    }
                    arity = arity.max(index + 1);
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Arg { index, decimals });
                }
                '}' => return Err(format!("lone `}}` at byte {at} (write `}}}}`)")),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template {
            code: code.to_owned(),
            text: text.to_owned(),
            pieces,
            arity,
        })
    }

    /// How many arguments an answer must give this template.
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Writes the text into `out`, each argument written by `arg(index, decimals, out)`.
    pub fn render(&self, out: &mut String, mut arg: impl FnMut(usize, Option<usize>, &mut String)) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Arg { index, decimals } => arg(*index, *decimals, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, args: &[&str]) -> String {
        let t = Template::parse("t", text).unwrap();
        let mut out = String::new();
        t.render(&mut out, |i, d, out| {
            out.push_str(args[i]);
            if let Some(d) = d {
                out.push_str(&format!("/{d}"));
            }
        });
        out
    }

    #[test]
    fn arguments_braces_and_decimals_are_rendered() {
        assert_eq!(render("score {0} of {1}", &["7", "9"]), "score 7 of 9");
        assert_eq!(render("{{literal}} {0:.2}", &["x"]), "{literal} x/2");
        assert_eq!(render("no arguments", &[]), "no arguments");
        assert_eq!(Template::parse("t", "{1} {0}").unwrap().arity(), 2);
    }

    #[test]
    fn malformed_templates_name_what_is_wrong() {
        assert!(Template::parse("t", "open {0")
            .unwrap_err()
            .contains("never closed"));
        assert!(Template::parse("t", "x } y").unwrap_err().contains("lone"));
        assert!(Template::parse("t", "{name}").unwrap_err().contains("{N}"));
        assert!(Template::parse("t", "{0:.99}")
            .unwrap_err()
            .contains("decimals"));
    }
}
