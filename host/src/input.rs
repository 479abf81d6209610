//! Reading records: one JSON object, a JSON array, or JSON lines, from a file or
//! stdin. A record that cannot be read is reported with its position and JSON path;
//! the others are still returned.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// One record of an input, or why it could not be read.
pub struct Record<T> {
    /// 1-based position in the input.
    pub position: usize,
    /// The record, or the error naming its position and JSON path.
    pub value: Result<T, Error>,
    /// Where the record was inside its input value when it came out of a CRM
    /// collection (`records[3]`); empty otherwise.
    pub at: String,
}

/// A collection of the input that was one page of a longer result: the records
/// of the pages after it were not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageNotice {
    /// The position of the page's last record (0 when nothing came before it).
    pub after: usize,
    /// Which CRM, and where its next page is.
    pub paging: crate::crm::Paging,
}

/// Takes the records out of CRM collections (a Dataverse `value` array, a
/// Salesforce `records` list, a HubSpot `results` list) and numbers every record
/// from 1 again; a collection that is one page of more gives a notice.
pub fn unwrap_collections(
    records: Vec<Record<serde_json::Value>>,
) -> (Vec<Record<serde_json::Value>>, Vec<PageNotice>) {
    let mut out = Vec::with_capacity(records.len());
    let mut notices = Vec::new();
    for record in records {
        match record.value {
            Ok(value) => {
                let expanded = crate::crm::expand(value);
                for unwrapped in expanded.records {
                    out.push(Record {
                        position: out.len() + 1,
                        value: Ok(unwrapped.value),
                        at: unwrapped.at,
                    });
                }
                if let Some(paging) = expanded.more {
                    notices.push(PageNotice {
                        after: out.len(),
                        paging,
                    });
                }
            }
            Err(e) => out.push(Record {
                position: out.len() + 1,
                value: Err(e),
                at: String::new(),
            }),
        }
    }
    (out, notices)
}

/// Splits `text` into JSON values: an array's elements, a single object, or one
/// object per line. A malformed array or single object is one error for the whole
/// input; a malformed line is an error for that line only.
pub fn split(source_name: &str, text: &str) -> Result<Vec<Record<serde_json::Value>>, Error> {
    let input_error = |position: String, message: String| Error::Input {
        source_name: source_name.to_owned(),
        position,
        path: None,
        message,
    };
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(input_error("-".into(), "the input is empty".into()));
    }
    if trimmed.starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| input_error("-".into(), format!("malformed JSON array: {e}")))?;
        return Ok(values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Record {
                position: i + 1,
                value: Ok(value),
                at: String::new(),
            })
            .collect());
    }
    // A single (possibly pretty-printed) value.
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    if let Some(Ok(first)) = stream.next() {
        if stream.next().is_none() {
            return Ok(vec![Record {
                position: 1,
                value: Ok(first),
                at: String::new(),
            }]);
        }
    }
    // JSON lines: each non-blank line is a record on its own.
    let records: Vec<_> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .enumerate()
        .map(|(i, (line_no, line))| Record {
            position: i + 1,
            at: String::new(),
            value: serde_json::from_str(line).map_err(|e| {
                input_error(
                    (i + 1).to_string(),
                    format!("malformed JSON on line {}: {e}", line_no + 1),
                )
            }),
        })
        .collect();
    Ok(records)
}

/// An input as it is read: JSON lines are streamed in chunks (so a file of
/// millions of records is never held whole); anything else is read whole.
pub enum Opened<R> {
    /// One JSON value per line.
    Lines(LineChunks<R>),
    /// A JSON array, a (pretty-printed) single value, or nothing.
    Whole(String),
}

/// Looks at the first non-blank line: when it is a complete JSON object on its
/// own, the input is JSON lines and is streamed.
pub fn open<R: std::io::BufRead>(mut reader: R) -> std::io::Result<Opened<R>> {
    let mut head = String::new();
    let mut line_no = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(Opened::Whole(head));
        }
        line_no += 1;
        head.push_str(&line);
        if line.trim().is_empty() {
            continue;
        }
        let single = line.trim_start().starts_with('{')
            && serde_json::from_str::<serde::de::IgnoredAny>(&line).is_ok();
        if !single {
            reader.read_to_string(&mut head)?;
            return Ok(Opened::Whole(head));
        }
        return Ok(Opened::Lines(LineChunks {
            reader,
            line_no: line_no - 1,
            pending: Some(line),
        }));
    }
}

/// JSON lines, read a chunk at a time.
pub struct LineChunks<R> {
    reader: R,
    line_no: usize,
    pending: Option<String>,
}

/// One non-blank line of a JSON-lines input and its 1-based line number.
pub struct Line {
    /// The line number in the input.
    pub number: usize,
    /// The text.
    pub text: String,
}

impl<R: std::io::BufRead> LineChunks<R> {
    /// Up to `max` non-blank lines; an empty chunk at the end of the input.
    pub fn next_chunk(&mut self, max: usize) -> std::io::Result<Vec<Line>> {
        let mut chunk = Vec::with_capacity(max);
        if let Some(text) = self.pending.take() {
            self.line_no += 1;
            chunk.push(Line {
                number: self.line_no,
                text,
            });
        }
        while chunk.len() < max {
            let mut text = String::new();
            if self.reader.read_line(&mut text)? == 0 {
                break;
            }
            self.line_no += 1;
            if !text.trim().is_empty() {
                chunk.push(Line {
                    number: self.line_no,
                    text,
                });
            }
        }
        Ok(chunk)
    }
}

/// Parses lines into records (unwrapping CRM collections), numbering them from
/// `first_position`. Malformed lines are errors of their own record; a line that
/// is one page of a longer result gives a notice.
pub fn parse_lines(
    source_name: &str,
    lines: &[Line],
    first_position: usize,
) -> (Vec<Record<serde_json::Value>>, Vec<PageNotice>) {
    let mut out = Vec::with_capacity(lines.len());
    let mut notices = Vec::new();
    for line in lines {
        match serde_json::from_str::<serde_json::Value>(&line.text) {
            Ok(value) => {
                let expanded = crate::crm::expand(value);
                for unwrapped in expanded.records {
                    out.push(Record {
                        position: first_position + out.len(),
                        value: Ok(unwrapped.value),
                        at: unwrapped.at,
                    });
                }
                if let Some(paging) = expanded.more {
                    notices.push(PageNotice {
                        after: first_position + out.len() - 1,
                        paging,
                    });
                }
            }
            Err(e) => {
                let position = first_position + out.len();
                out.push(Record {
                    position,
                    value: Err(Error::Input {
                        source_name: source_name.to_owned(),
                        position: position.to_string(),
                        path: None,
                        message: format!("malformed JSON on line {}: {e}", line.number),
                    }),
                    at: String::new(),
                })
            }
        }
    }
    (out, notices)
}

/// Moves records numbered from 1 to start at `first_position` (errors included).
pub fn renumber(records: &mut [Record<serde_json::Value>], first_position: usize) {
    let shift = first_position - 1;
    for record in records {
        record.position += shift;
        if let Err(Error::Input { position, .. }) = &mut record.value {
            *position = record.position.to_string();
        }
    }
}

/// Reads a JSON value into `T`, naming the JSON path of what is wrong.
pub fn typed<T: DeserializeOwned>(
    source_name: &str,
    position: usize,
    value: &serde_json::Value,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let id = value
            .get("id")
            .or_else(|| value.get("lead").and_then(|l| l.get("id")))
            .or_else(|| value.get("opportunity").and_then(|o| o.get("id")))
            .and_then(|id| id.as_str());
        let path = e.path().to_string();
        Error::Input {
            source_name: source_name.to_owned(),
            position: match id {
                Some(id) => format!("{position} (`{id}`)"),
                None => position.to_string(),
            },
            path: (path != ".").then_some(path),
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shapes_are_read() {
        assert_eq!(split("t", r#"{"a": 1}"#).unwrap().len(), 1);
        assert_eq!(split("t", "{\n  \"a\": 1\n}\n").unwrap().len(), 1);
        assert_eq!(split("t", r#"[{"a": 1}, {"a": 2}]"#).unwrap().len(), 2);
        assert_eq!(split("t", "{\"a\": 1}\n\n{\"a\": 2}\n").unwrap().len(), 2);
    }

    #[test]
    fn a_bad_line_spoils_only_itself() {
        let records = split("t", "{\"a\": 1}\n{\"a\": \n{\"a\": 3}\n").unwrap();
        assert_eq!(records.len(), 3);
        assert!(records[0].value.is_ok());
        let err = records[1].value.as_ref().err().unwrap().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(records[2].value.is_ok());
    }

    #[test]
    fn wrong_type_names_the_path() {
        let value = serde_json::json!({"id": "L-9", "decision_maker_known": "yes"});
        let err = typed::<crm_rules_model::Lead>("t", 4, &value).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("decision_maker_known"), "{text}");
        assert!(text.contains("L-9"), "{text}");
    }

    #[test]
    fn malformed_array_is_one_error() {
        assert!(split("t", "[{\"a\": 1},").is_err());
        assert!(split("t", "   ").is_err());
    }
}
