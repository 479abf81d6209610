//! The README's C example is the one the C test program runs.

use std::path::Path;

/// The README's C example is the one the C test program runs.
#[test]
fn readme_example_is_run_by_the_c_test() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(crate_dir.join("../../README.md")).expect("README.md");
    let section = readme
        .split("### Use it from C")
        .nth(1)
        .expect("the README has a C section");
    let example = section
        .split("```c\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the C section has a C example");
    let program = std::fs::read_to_string(crate_dir.join("tests/c/crm_rules_test.c"))
        .expect("the C test program");
    for line in example.lines() {
        assert!(
            program.contains(&format!("  {line}\n")),
            "the C test program does not run the README's line {line:?}"
        );
    }
}
