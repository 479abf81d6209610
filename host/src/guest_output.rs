//! Text a rule module wrote, made safe to show in the host's log.
//!
//! A module's stdout and stderr end up in the host's log, and so on a terminal or
//! in a log file that people read. Raw, a module could move the cursor, clear a
//! line (`ESC[2K`, `\r`) and print a line that looks like the host's own, or
//! reorder what is shown with Unicode bidirectional controls. So every character
//! that is not printable text is shown as an escape: C0 controls and DEL as `\x1b`,
//! C1 controls, bidirectional and other invisible format characters as `\u{202e}`,
//! bytes that are not UTF-8 as `\xff`, and the backslash itself as `\\`, so an
//! escape the module printed as text cannot pass for one the host made.
//! Printable text, in any script, is kept as it is.

use std::fmt::Write as _;

use crate::engine::StoreState;

/// Moves what a module wrote to stdout and stderr during a call into the host's
/// log, line by line, escaped, tagged with org, version and stream.
pub(crate) fn drain(org: &str, version: &str, state: &StoreState) {
    for (stream, bytes) in [
        ("stdout", state.stdout.take()),
        ("stderr", state.stderr.take()),
    ] {
        if bytes.is_empty() {
            continue;
        }
        for line in lines(&bytes) {
            tracing::info!(target: "crm_rules::guest", "org `{org}` version {version} {stream}: {line}");
        }
    }
}

/// The lines of a module's output, each escaped. Lines end at `\n`; a `\r` is
/// not a line end but a character like any other control.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.split(|b| *b == b'\n').map(escape)
}

/// `bytes` as one line of readable text: see the module's documentation.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for byte in chunk.invalid() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c.is_ascii_control() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if c.is_control() || is_invisible_format(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Format characters that change how the text around them is shown, or hide
/// text, without being visible themselves.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00ad}'                // soft hyphen
        | '\u{061c}'              // Arabic letter mark
        | '\u{180e}'              // Mongolian vowel separator
        | '\u{200b}'..='\u{200f}' // zero-width spaces, joiners, LRM, RLM
        | '\u{2028}'..='\u{202e}' // line and paragraph separators, bidi embeddings
        | '\u{2060}'..='\u{206f}' // word joiner, invisible operators, bidi isolates
        | '\u{feff}'              // zero-width no-break space
        | '\u{fff9}'..='\u{fffb}' // interlinear annotations
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_log_line_shows_its_control_characters() {
        let forged = b"\x1b[2K\rinfo: org `acme` loaded\x07";
        assert_eq!(escape(forged), r"\x1b[2K\x0dinfo: org `acme` loaded\x07");
    }

    #[test]
    fn printable_text_in_any_script_is_kept() {
        let text = "Müller & Søn — 東京, score 35 (tab\there)";
        assert_eq!(escape(text.as_bytes()), text.replace('\t', r"\x09"));
    }

    #[test]
    fn bidi_controls_invalid_utf8_and_backslashes_are_escaped() {
        let bytes = "a\u{202e}b\\x1b\u{85}".as_bytes().to_vec();
        let mut bytes = bytes;
        bytes.push(0xff);
        assert_eq!(escape(&bytes), r"a\u{202e}b\\x1b\u{85}\xff");
    }

    #[test]
    fn output_is_split_into_lines_at_newlines_only() {
        let got: Vec<String> = lines(b"one\r\ntwo\n\nthree\n").collect();
        assert_eq!(got, ["one\\x0d", "two", "", "three"]);
    }
}
