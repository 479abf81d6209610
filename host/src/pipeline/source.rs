//! Inputs into records: one JSON object, a JSON array, or JSON lines, from a file,
//! stdin or a request body. JSON lines are streamed a chunk at a time, so an input
//! of millions of records is never held whole; each line is read as bytes and is
//! its own record: a line that is too long, not UTF-8 or not JSON fails alone,
//! named by its line number, and the others are still decided.

use std::io::BufRead;

use serde_json::value::RawValue;

use crate::crm::{expand, MorePages};
use crate::json::{Object, ObjectError};

/// The default largest record: a longer line is refused (and skipped without being
/// held in memory).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;

/// The largest input read whole (an array or a pretty-printed object); JSON lines
/// have no such limit.
pub const MAX_WHOLE_INPUT_BYTES: usize = 256 << 20;

/// One line of a JSON-lines input.
#[derive(Debug)]
pub struct Line {
    /// Its 1-based number in the input.
    pub number: usize,
    /// Its text, or why it cannot be a record.
    pub text: Result<String, String>,
}

/// An input as it is read.
pub enum Opened<R> {
    /// One JSON value per line, streamed.
    Lines(LineChunks<R>),
    /// A JSON array, a (pretty-printed) single value, or nothing.
    Whole(String),
}

/// Looks at the first non-blank line: when it is a complete JSON object on its own,
/// the input is JSON lines and is streamed; otherwise it is read whole.
pub fn open<R: BufRead>(mut reader: R, max_record: usize) -> std::io::Result<Opened<R>> {
    let mut head = Vec::new();
    let mut line_no = 0;
    loop {
        let mut line = Vec::new();
        let (read, overflow) = read_line_capped(&mut reader, &mut line, max_record)?;
        if read == 0 {
            return whole(head, reader);
        }
        line_no += 1;
        if overflow {
            // A first line too long to look at: it can only be a record of JSON lines.
            return Ok(Opened::Lines(LineChunks {
                reader,
                line_no: line_no - 1,
                pending: Some(Err(too_long(max_record))),
                max_record,
            }));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            head.extend_from_slice(&line);
            continue;
        }
        let single = match std::str::from_utf8(&line) {
            Ok(text) => is_object_line(text),
            // A first line that is not UTF-8 but otherwise an object on its own is
            // the first record of JSON lines: it fails alone, like any later line.
            Err(_) => is_object_line(&String::from_utf8_lossy(&line)),
        };
        if !single {
            head.extend_from_slice(&line);
            return whole(head, reader);
        }
        return Ok(Opened::Lines(LineChunks {
            reader,
            line_no: line_no - 1,
            pending: Some(String::from_utf8(line).map_err(|_| not_utf8())),
            max_record,
        }));
    }
}

/// Whether a line holds one complete JSON object.
fn is_object_line(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

fn whole<R: BufRead>(mut head: Vec<u8>, reader: R) -> std::io::Result<Opened<R>> {
    use std::io::Read as _;
    let limit = (MAX_WHOLE_INPUT_BYTES - head.len().min(MAX_WHOLE_INPUT_BYTES)) as u64 + 1;
    reader.take(limit).read_to_end(&mut head)?;
    if head.len() > MAX_WHOLE_INPUT_BYTES {
        return Err(std::io::Error::other(format!(
            "the input is larger than {} MiB and is not JSON lines; give one record per line \
             to stream it",
            MAX_WHOLE_INPUT_BYTES >> 20
        )));
    }
    String::from_utf8(head).map(Opened::Whole).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        std::io::Error::other(format!(
            "the input is not UTF-8 (line {line}, byte {}); it is one JSON value, so it is \
             refused whole",
            valid.len() + 1
        ))
    })
}

fn too_long(max: usize) -> String {
    format!("the record is longer than the limit of {max} bytes")
}

fn not_utf8() -> String {
    "the line is not valid UTF-8".to_owned()
}

/// Reads one line (up to and including `\n`) into `out`, keeping at most `cap`
/// bytes; a longer line is consumed to its end without being kept. Returns the
/// bytes consumed and whether the line was too long.
fn read_line_capped<R: BufRead>(
    reader: &mut R,
    out: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut overflow = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, overflow));
        }
        let (take, done) = match memchr(available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !overflow {
            let keep = cap.saturating_add(1);
            if out.len() + take > keep {
                overflow = true;
                // Let the memory go: the line will not be kept.
                *out = Vec::new();
            } else {
                out.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, overflow));
        }
    }
}

/// The end of a line: the `memchr` crate's SIMD search (a byte-at-a-time scan was
/// 2 % of reading a file, measured).
fn memchr(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// JSON lines, read a chunk at a time.
pub struct LineChunks<R> {
    reader: R,
    line_no: usize,
    pending: Option<Result<String, String>>,
    max_record: usize,
}

impl<R: BufRead> LineChunks<R> {
    /// Up to `max` non-blank lines; an empty chunk at the end of the input.
    pub fn next_chunk(&mut self, max: usize) -> std::io::Result<Vec<Line>> {
        let mut chunk = Vec::with_capacity(max.min(1 << 16));
        if let Some(text) = self.pending.take() {
            self.line_no += 1;
            chunk.push(Line {
                number: self.line_no,
                text,
            });
        }
        let mut buf = Vec::new();
        while chunk.len() < max {
            buf.clear();
            let (read, overflow) = read_line_capped(&mut self.reader, &mut buf, self.max_record)?;
            if read == 0 {
                break;
            }
            self.line_no += 1;
            let text = if overflow {
                Err(too_long(self.max_record))
            } else if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            } else {
                String::from_utf8(std::mem::take(&mut buf)).map_err(|_| not_utf8())
            };
            chunk.push(Line {
                number: self.line_no,
                text,
            });
        }
        Ok(chunk)
    }
}

/// One record of an input, as text.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// 1-based position among the records of the input.
    pub position: usize,
    /// The record's text, or why it cannot be read (malformed JSON on its line...).
    pub value: Result<&'a str, String>,
    /// The record read as an object, when reading its input already did that.
    pub object: Option<Object<'a>>,
    /// Its JSON path inside its input value, when it came out of a collection.
    pub at: String,
    /// The Dataverse collection's `@odata.context`, for records that came out of one.
    pub context: Option<String>,
}

/// The records of a chunk of text: each value unwrapped from its CRM collection,
/// numbered from `first_position`, with what the values said about more pages.
#[derive(Debug, Default)]
pub struct Records<'a> {
    /// The records, in input order.
    pub records: Vec<RawRecord<'a>>,
    /// Collections that were one page of more, by the position of their last
    /// record.
    pub more: Vec<MorePages>,
}

impl<'a> Records<'a> {
    /// A run of these records (a slice of `self.records`) with the notices that
    /// fall inside it: a part for one thread.
    pub fn part(&self, chunk: &[RawRecord<'a>]) -> Records<'a> {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            return Records::default();
        };
        Records {
            records: chunk.to_vec(),
            more: self
                .more
                .iter()
                .filter(|m| m.after >= first.position && m.after <= last.position)
                .cloned()
                .collect(),
        }
    }

    /// Adds the records of one JSON value: read once as an object (a collection's
    /// records are read as they are decided); anything else is one record that
    /// will be refused with the reason.
    fn push_text(&mut self, first_position: usize, text: &'a str, line: Option<usize>) {
        match Object::parse(text) {
            Ok(object) => {
                let expanded = expand(text, object);
                for record in expanded.records {
                    self.records.push(RawRecord {
                        position: first_position + self.records.len(),
                        value: Ok(record.text),
                        object: record.object,
                        at: record.at,
                        context: record.context,
                    });
                }
                // `after` counted the page's records: make it the last one's position.
                self.more.extend(expanded.more.map(|mut more| {
                    more.after = (first_position + self.records.len()).saturating_sub(1);
                    more
                }));
            }
            Err(ObjectError::Malformed(e)) => {
                let message = match line {
                    Some(n) => format!("malformed JSON on line {n}: {e}"),
                    None => format!("malformed JSON: {e}"),
                };
                self.push_error(first_position, message)
            }
            // Not an object, or a key given twice: the record's reading says so.
            Err(_) => self.records.push(RawRecord {
                position: first_position + self.records.len(),
                value: Ok(text),
                object: None,
                at: String::new(),
                context: None,
            }),
        }
    }

    fn push_value(&mut self, first_position: usize, value: &'a RawValue) {
        self.push_text(first_position, value.get(), None)
    }

    fn push_error(&mut self, first_position: usize, message: String) {
        self.records.push(RawRecord {
            position: first_position + self.records.len(),
            value: Err(message),
            object: None,
            at: String::new(),
            context: None,
        });
    }

    /// The records of JSON lines.
    pub fn of_lines(lines: &'a [Line], first_position: usize) -> Records<'a> {
        let mut records = Records::default();
        for line in lines {
            match &line.text {
                Ok(text) => records.push_text(first_position, text, Some(line.number)),
                Err(why) => {
                    records.push_error(first_position, format!("line {}: {why}", line.number))
                }
            }
        }
        records
    }

    /// The records of an input read whole: an array's elements, a single value, or
    /// (when the text holds several values) one value per line. A malformed array
    /// or single value is one error for the whole input.
    pub fn of_text(text: &'a str) -> Result<Records<'a>, String> {
        let trimmed = text.trim_start();
        if trimmed.is_empty() {
            return Err("the input is empty".to_owned());
        }
        let mut records = Records::default();
        if trimmed.starts_with('[') {
            let value: &RawValue =
                serde_json::from_str(text).map_err(|e| format!("malformed JSON array: {e}"))?;
            let items = crate::json::array(value)?;
            for item in items {
                records.push_value(1, item);
            }
            return Ok(records);
        }
        if let Ok(value) = serde_json::from_str::<&RawValue>(text) {
            records.push_value(1, value);
            return Ok(records);
        }
        // Several values: JSON lines that did not start with an object on its own line.
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            records.push_text(1, line, Some(number + 1));
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, cap: usize) -> Vec<Line> {
        match open(std::io::Cursor::new(text.as_bytes().to_vec()), cap).unwrap() {
            Opened::Lines(mut chunks) => chunks.next_chunk(100).unwrap(),
            Opened::Whole(_) => panic!("not lines"),
        }
    }

    #[test]
    fn three_shapes_are_read() {
        assert_eq!(Records::of_text(r#"{"a": 1}"#).unwrap().records.len(), 1);
        assert_eq!(
            Records::of_text("{\n  \"a\": 1\n}\n")
                .unwrap()
                .records
                .len(),
            1
        );
        assert_eq!(
            Records::of_text(r#"[{"a": 1}, {"a": 2}]"#)
                .unwrap()
                .records
                .len(),
            2
        );
        assert_eq!(
            Records::of_text("{\"a\": 1}\n\n{\"a\": 2}\n")
                .unwrap()
                .records
                .len(),
            2
        );
        assert!(Records::of_text("[{\"a\": 1},").is_err());
        assert!(Records::of_text("   ").is_err());
    }

    #[test]
    fn a_bad_line_spoils_only_itself() {
        let read = lines("{\"a\": 1}\n{\"a\": \n{\"a\": 3}\n", 1 << 20);
        let records = Records::of_lines(&read, 1);
        assert_eq!(records.records.len(), 3);
        assert!(records.records[0].value.is_ok());
        assert!(records.records[1]
            .value
            .as_ref()
            .unwrap_err()
            .contains("line 2"));
        assert!(records.records[2].value.is_ok());
    }

    #[test]
    fn an_invalid_utf8_line_fails_alone_and_names_its_line() {
        let mut bytes = b"{\"a\": 1}\n{\"a\": 2}\n{\"a\": \"".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"\"}\n{\"a\": 4}\n{\"a\": 5}\n");
        let mut chunks = match open(std::io::Cursor::new(bytes), 1 << 20).unwrap() {
            Opened::Lines(chunks) => chunks,
            Opened::Whole(_) => panic!("not lines"),
        };
        let read = chunks.next_chunk(100).unwrap();
        let records = Records::of_lines(&read, 1);
        assert_eq!(records.records.len(), 5);
        let bad: Vec<_> = records
            .records
            .iter()
            .filter_map(|r| r.value.as_ref().err())
            .collect();
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].contains("line 3") && bad[0].contains("UTF-8"),
            "{}",
            bad[0]
        );
    }

    #[test]
    fn an_invalid_utf8_first_line_fails_alone() {
        let mut bytes = b"{\"a\": \"".to_vec();
        bytes.extend_from_slice(&[0xc3, 0x28]);
        bytes.extend_from_slice(b"\"}\n{\"a\": 2}\n");
        let mut chunks = match open(std::io::Cursor::new(bytes), 1 << 20).unwrap() {
            Opened::Lines(chunks) => chunks,
            Opened::Whole(_) => panic!("not lines"),
        };
        let read = chunks.next_chunk(100).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].number, 1);
        assert!(read[0].text.as_ref().unwrap_err().contains("UTF-8"));
        assert!(read[1].text.is_ok());
    }

    #[test]
    fn a_whole_input_that_is_not_utf8_names_the_line() {
        let mut bytes = b"[\n  {\"a\": 1},\n  {\"a\": \"".to_vec();
        bytes.extend_from_slice(&[0xff]);
        bytes.extend_from_slice(b"\"}\n]\n");
        let err = match open(std::io::Cursor::new(bytes), 1 << 20) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a whole input that is not UTF-8 was read"),
        };
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn a_line_over_the_record_limit_fails_alone_without_being_kept() {
        let long = format!("{{\"a\": \"{}\"}}", "x".repeat(5000));
        let text = format!("{{\"a\": 1}}\n{long}\n{{\"a\": 3}}\n");
        let read = lines(&text, 1000);
        assert_eq!(read.len(), 3);
        assert!(read[1]
            .text
            .as_ref()
            .unwrap_err()
            .contains("longer than the limit"));
        assert!(read[2].text.is_ok());
    }
}
