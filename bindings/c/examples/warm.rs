//! The Rust side of the bindings' benchmark (`bench/python/bindings.py` runs it in
//! the same session as the Python figures): µs per warm qualify of each lead of a
//! JSON-lines file, through the library's typed call (the bench's
//! `warm_qualify`), through `Org::decide` on the record's bytes (what a binding
//! does), and through the C ABI (`crm_org_decide`, JSON in, a JSON line out).
//!
//! ```sh
//! cargo run --release -p crm-rules-c --example warm -- LEADS.jsonl [ROUNDS]
//! ```

use std::error::Error;
use std::ffi::{c_char, CString};
use std::hint::black_box;
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::time::Instant;

use crm_rules::model::Lead;
use crm_rules::{DecideOptions, Host, InputRef, Kind, Org};
use crm_rules_c::{crm_org_decide, crm_org_free, crm_org_load, crm_string_free, CrmStatus};

const NOW: &str = "2026-11-25T09:00:00Z";

/// The median over `rounds` of the time per item of `work` on `items` items.
fn median_micros(rounds: usize, items: usize, mut work: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64() * 1e6 / items as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: warm LEADS.jsonl [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(21), |r| r.parse())?;
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let leads: Vec<Lead> = lines
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()?;

    let host = Arc::new(Host::new()?);
    let org = Org::load(host.clone(), "examples/strict".as_ref())?;
    let options = DecideOptions::at(NOW.parse()?);
    let ctx = org.context(&options);

    let dir = CString::new("examples/strict")?;
    let mut c_org = null_mut();
    // SAFETY: valid strings and out-pointers; the org is freed below.
    let status = unsafe { crm_org_load(null(), dir.as_ptr(), &mut c_org, null_mut()) };
    assert_eq!(status, CrmStatus::Ok, "crm_org_load");
    let kind = CString::new("qualify")?;
    let c_options = CString::new(format!(r#"{{"now": "{NOW}"}}"#))?;

    let n = leads.len();
    let typed = median_micros(rounds, n, || {
        for lead in &leads {
            black_box(host.decide(&ctx, InputRef::Qualify(lead)).ok());
        }
    });
    let bytes = median_micros(rounds, n, || {
        for line in &lines {
            black_box(org.decide(Kind::Qualify, line.as_bytes(), &options).ok());
        }
    });
    let c_abi = median_micros(rounds, n, || {
        for line in &lines {
            let mut out: *mut c_char = null_mut();
            // SAFETY: the org is live, the input is `line.len()` bytes, the
            // options a NUL-terminated string; the result is freed at once.
            let status = unsafe {
                crm_org_decide(
                    c_org,
                    kind.as_ptr(),
                    line.as_ptr(),
                    line.len(),
                    c_options.as_ptr(),
                    &mut out,
                    null_mut(),
                    null_mut(),
                )
            };
            black_box(status);
            // SAFETY: `out` came from the library (or is NULL).
            unsafe { crm_string_free(out) };
        }
    });
    // SAFETY: made by crm_org_load, not used after.
    unsafe { crm_org_free(c_org) };
    println!(
        "{}",
        serde_json::json!({
            "warm_qualify": typed,
            "org_decide_one": bytes,
            "c_warm_qualify": c_abi,
            "leads": n,
            "rounds": rounds,
        })
    );
    Ok(())
}
