//! Version labels as the service takes them from a caller (an upload's
//! `?version=`, the path of an activation or a removal). A label goes into a
//! response header, log lines, metric labels and the audit log, so it is kept to
//! a plain token: nothing that could end a header or a line, name a path, or
//! read as two labels.

/// The longest label taken.
pub const MAX_LEN: usize = 64;

/// The rule a label must follow, as said to a caller whose label breaks it.
pub const RULE: &str = "a version label is 1 to 64 characters, letters, digits, `.`, `_`, `-` \
                        and `+`, starting with a letter or a digit, without `..`";

/// Checks a label; the error names the label (escaped) and the rule.
pub fn check(label: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-+".contains(c);
    let ok = !label.is_empty()
        && label.len() <= MAX_LEN
        && label.chars().all(plain)
        && label.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !label.contains("..");
    if ok {
        Ok(())
    } else {
        let shown: String = label.chars().take(MAX_LEN + 8).collect();
        Err(format!(
            "version label `{}` refused: {RULE}",
            shown.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_labels_pass_and_anything_else_is_refused() {
        for good in ["v1", "2026-11-25", "1.2.3+build.7", "a_b", &"x".repeat(64)] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "\r\nX-Injected: 1",
            "../../x",
            "a/b",
            "..",
            ".hidden",
            "v1..v2",
            "-v",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            let error = check(bad).unwrap_err();
            assert!(error.contains(RULE), "{error}");
            assert!(!error.contains('\n') && !error.contains('\r'), "{error}");
        }
    }
}
