//! The host's own attack surface: org folders that point outside themselves,
//! limits above the engine's ceiling, a poisoned compiled-module cache, and an
//! audit log that is forged, cut, edited or written by two processes at once.
//! Each test is named after the attack it pins.

use std::path::Path;

use crm_rules::org::OrgDir;
use crm_rules::{Error, Host, Limits, REFERENCE_MODULE};

use support::{root, text};

#[path = "support.rs"]
mod support;

fn strict_policy() -> String {
    std::fs::read_to_string(root().join("examples/strict/policy.json")).expect("example policy")
}

/// An org folder with the reference module as `rules.wasm`, the strict policy as
/// `policy.json`, and `org.json` made of `fields` over a valid base.
fn org_folder(dir: &Path, fields: serde_json::Value) {
    std::fs::write(dir.join("rules.wasm"), REFERENCE_MODULE).expect("module");
    std::fs::write(dir.join("policy.json"), strict_policy()).expect("policy");
    let mut org = serde_json::json!({
        "org_id": "folder-co", "module": "rules.wasm", "policy": "policy.json"
    });
    for (key, value) in fields.as_object().expect("fields").iter() {
        org[key] = value.clone();
    }
    std::fs::write(dir.join("org.json"), org.to_string()).expect("org.json");
}

fn read_error(dir: &Path) -> String {
    match OrgDir::read(dir) {
        Ok(_) => panic!("{} was read", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn an_org_policy_path_climbing_to_etc_passwd_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(
        dir.path(),
        serde_json::json!({"policy": "../../../../etc/passwd"}),
    );
    let error = read_error(dir.path());
    assert!(
        error.contains("`policy`") && error.contains("`..`"),
        "{error}"
    );

    // Through the program: refused before anything reads the file.
    let out = support::cli(
        &[
            "--no-cache",
            "--org-dir",
            dir.path().to_str().expect("utf-8"),
            "info",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`..`"), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("root:"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn absolute_org_paths_for_policy_module_and_signature_are_refused() {
    for field in ["policy", "module", "signature"] {
        let dir = tempfile::tempdir().expect("tmp");
        org_folder(dir.path(), serde_json::json!({ field: "/etc/passwd" }));
        let error = read_error(dir.path());
        assert!(
            error.contains(&format!("`{field}`")) && error.contains("absolute"),
            "{field}: {error}"
        );
    }
}

#[cfg(unix)]
#[test]
fn an_org_path_leading_out_through_a_symbolic_link_is_refused() {
    let outside = tempfile::tempdir().expect("tmp");
    let secret = outside.path().join("secret.json");
    std::fs::write(&secret, "{\"name\": \"not the org's\"}").expect("secret");
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(dir.path(), serde_json::json!({}));
    std::fs::remove_file(dir.path().join("policy.json")).expect("rm");
    std::os::unix::fs::symlink(&secret, dir.path().join("policy.json")).expect("link");
    let error = read_error(dir.path());
    assert!(error.contains("outside the org folder"), "{error}");

    // A folder link out, with the file below it, is refused the same way.
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(
        dir.path(),
        serde_json::json!({"policy": "shared/secret.json"}),
    );
    std::os::unix::fs::symlink(outside.path(), dir.path().join("shared")).expect("link");
    let error = read_error(dir.path());
    assert!(error.contains("outside the org folder"), "{error}");

    // A link that stays inside the folder is fine.
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(dir.path(), serde_json::json!({"policy": "current.json"}));
    std::os::unix::fs::symlink("policy.json", dir.path().join("current.json")).expect("link");
    let org = OrgDir::read(dir.path()).expect("a link inside the folder is followed");
    assert_eq!(org.policy, strict_policy());
}

#[test]
fn an_org_asking_for_more_memory_than_the_engine_allows_is_refused_not_capped() {
    let host = Host::new().expect("host");
    let limits = Limits {
        memory_bytes: 128 << 20,
        ..Limits::default()
    };
    let error = host
        .load("greedy", REFERENCE_MODULE, &strict_policy(), limits)
        .expect_err("refused");
    let message = error.to_string();
    assert!(matches!(error, Error::Limits { .. }), "{message}");
    assert!(
        message.contains("memory_bytes is 134217728")
            && message.contains("ceiling of 67108864")
            && message.contains("max_memory_bytes"),
        "{message}"
    );
    let at_ceiling = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    host.load("fits", REFERENCE_MODULE, &strict_policy(), at_ceiling)
        .expect("a limit at the ceiling loads");
}

use crm_rules_test_modules::ACME;

/// A cache in `dir/cache`, keyed by `dir/keys/cache.key`.
fn cache_settings(dir: &Path) -> crm_rules::EngineSettings {
    crm_rules::EngineSettings {
        cache_dir: Some(dir.join("cache")),
        cache_key: Some(dir.join("keys").join("cache.key")),
        ..crm_rules::EngineSettings::default()
    }
}

/// Loads the reference module pinned by its SHA-256, as an approved org would,
/// and says where its code came from and what it decided.
fn load_pinned(
    settings: &crm_rules::EngineSettings,
) -> (crm_rules::cache::Origin, String, serde_json::Value) {
    let host = Host::with_settings(settings).expect("host");
    let loaded = host
        .add_and_activate(
            "pinned",
            crm_rules::VersionSpec {
                version: "v1".to_owned(),
                wasm: REFERENCE_MODULE,
                policy: &strict_policy(),
                limits: Limits::default(),
                integrity: crm_rules::Integrity {
                    sha256: Some(crm_rules::module_hash(REFERENCE_MODULE)),
                    ..crm_rules::Integrity::default()
                },
            },
        )
        .expect("the pinned module loads");
    let ctx = crm_rules::model::Context {
        org_id: "pinned".into(),
        now: "2026-11-25T09:00:00Z".parse().expect("instant"),
        user: None,
        team: None,
    };
    let lead = serde_json::from_value(serde_json::json!({
        "id": "L-1", "source": "web_form", "engagement": "evaluation",
        "budget_status": "can_buy", "decision_maker_known": true, "need": "must_have",
        "timeframe": "this_quarter"
    }))
    .expect("lead");
    let decided = host.qualify(&ctx, &lead).expect("decides");
    let rendered =
        crm_rules::render::Renderer::new(&decided.facts, crm_rules::InputRef::Qualify(&lead))
            .qualification(&decided.value);
    let decision = serde_json::to_value(&rendered).expect("json");
    (loaded.origin, loaded.info.name, decision)
}

/// Compiles `wasm` into the cache of `settings` and returns its entry.
fn component_entry(
    settings: &crm_rules::EngineSettings,
    wasm: &[u8],
    policy: &str,
) -> std::path::PathBuf {
    let host = Host::with_settings(settings).expect("host");
    host.load("other", wasm, policy, Limits::default())
        .expect("loads");
    newest_entry(settings)
}

#[test]
fn another_modules_cache_entry_copied_over_an_approved_ones_is_refused_not_run() {
    use crm_rules::cache::Origin;
    let dir = tempfile::tempdir().expect("tmp");
    let settings = cache_settings(dir.path());
    let (origin, approved_name, approved) = load_pinned(&settings);
    assert_eq!(origin, Origin::Compiled);
    assert_eq!(load_pinned(&settings).0, Origin::Cache);
    let approved_entry = newest_entry(&settings);
    let acme_policy =
        std::fs::read_to_string(root().join("examples/acme/policy.json")).expect("policy");
    let other_entry = component_entry(&settings, ACME, &acme_policy);
    assert_ne!(approved_entry, other_entry);
    std::fs::copy(&other_entry, &approved_entry).expect("poison");

    let (origin, name, decision) = load_pinned(&settings);
    assert_eq!(origin, Origin::Compiled, "the poisoned entry is not used");
    assert_eq!((name, decision), (approved_name, approved));
    assert_eq!(load_pinned(&settings).0, Origin::Cache, "and was rewritten");
}

/// The bytes file of the entry written last (its MAC is beside it, `.mac`).
fn newest_entry(settings: &crm_rules::EngineSettings) -> std::path::PathBuf {
    std::fs::read_dir(settings.cache_dir.as_ref().expect("cache dir"))
        .expect("cache folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "entry"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .expect("an entry")
}

#[test]
fn a_cache_entry_edited_and_given_a_fresh_digest_is_refused_not_run() {
    use crm_rules::cache::Origin;
    let dir = tempfile::tempdir().expect("tmp");
    let settings = cache_settings(dir.path());
    let (_, approved_name, approved) = load_pinned(&settings);
    let entry = newest_entry(&settings);
    let mac_file = entry.with_extension("mac");
    let mut bytes = std::fs::read(&entry).expect("entry");
    let mut stamp = std::fs::read(&mac_file).expect("mac");
    // The layout is public: the bytes in one file; 16 bytes of magic, a 32-byte
    // MAC and the header in the other. An attacker edits the bytes and writes the
    // digest anyone can compute over the header and the bytes.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let digest = blake3::hash(&[&stamp[48..], &bytes[..]].concat());
    stamp[16..48].copy_from_slice(digest.as_bytes());
    std::fs::write(&entry, &bytes).expect("edit");
    std::fs::write(&mac_file, &stamp).expect("edit");
    let (origin, name, decision) = load_pinned(&settings);
    assert_eq!(origin, Origin::Compiled);
    assert_eq!((name, decision), (approved_name, approved));
}

#[cfg(unix)]
#[test]
fn a_cache_folder_others_can_write_or_a_cache_key_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tmp");
    let settings = cache_settings(dir.path());
    load_pinned(&settings);
    let cache_dir = dir.path().join("cache");
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    set(&cache_dir, 0o777);
    let error = Host::with_settings(&settings).err().expect("refused");
    let message = format!("{}", anyhow::Error::new(error));
    assert!(message.contains("cache folder"), "{message}");
    set(&cache_dir, 0o700);
    let key = dir.path().join("keys").join("cache.key");
    set(&key, 0o644);
    let error = Host::with_settings(&settings).err().expect("refused");
    let message = format!("{:#}", anyhow::Error::new(error));
    assert!(
        message.contains("cache.key") && message.contains("chmod 600"),
        "{message}"
    );
}

#[test]
fn a_two_mebibyte_cache_entry_is_verified_in_well_under_a_millisecond() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = crm_rules::cache::ArtifactCache::open(
        dir.path().join("cache"),
        &dir.path().join("keys").join("cache.key"),
    )
    .expect("cache");
    let code: Vec<u8> = (0..2u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    cache
        .store("component", &[b"module", b"engine"], &code)
        .expect("store");
    let runs = 50;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let loaded = cache
            .load("component", &[b"module", b"engine"])
            .expect("load")
            .expect("entry");
        assert_eq!(loaded.len(), code.len());
    }
    let per_load = start.elapsed() / runs;
    let verify_start = std::time::Instant::now();
    for _ in 0..runs {
        std::hint::black_box(blake3::keyed_hash(&[7; 32], &code));
    }
    let per_mac = verify_start.elapsed() / runs;
    println!(
        "2 MiB entry: read and verified in {per_load:?} per load, of which the MAC {per_mac:?}"
    );
    // A generous bound against a busy machine; the figure printed is what counts.
    assert!(
        per_load < std::time::Duration::from_millis(20),
        "{per_load:?}"
    );
}

mod audit_log {
    use std::path::{Path, PathBuf};

    use crm_rules::audit::{
        self, AuditKey, AuditLog, AuditPolicy, Entry, Expectations, Expected, Verifier,
    };
    use serde_json::{json, Value};

    use super::support::{self, text};

    fn key(dir: &Path) -> PathBuf {
        dir.join("keys").join("audit.key")
    }

    /// Appends `n` decisions to the log at `path` as one run (closed with a
    /// checkpoint).
    fn run(path: &Path, key_file: &Path, n: usize) {
        let key = AuditKey::load_or_create(key_file).expect("key");
        let mut log = AuditLog::open(path, key).expect("log");
        let ctx = crm_rules::model::Context {
            org_id: "acme".into(),
            now: "2026-11-25T09:00:00Z".parse().expect("instant"),
            user: None,
            team: None,
        };
        for i in 0..n {
            let input = json!({"id": format!("L-{i}"), "source": "web_form"});
            let decision = json!({"outcome": "qualified", "score": 70});
            let entry = Entry {
                decision: "qualify",
                ctx: &ctx,
                record: input["id"].as_str(),
                position: i + 1,
                input: &input,
                by: None,
                result: Ok(&decision),
                key_id: None,
            };
            log.append(&entry, &AuditPolicy::default()).expect("append");
        }
        log.sync().expect("sync");
    }

    fn with_key(dir: &Path) -> Verifier {
        Verifier::Key(AuditKey::load(&key(dir)).expect("key"))
    }

    fn public(dir: &Path) -> Verifier {
        let key = AuditKey::load(&key(dir)).expect("key");
        Verifier::Public(
            crm_rules::integrity::parse_public_key(&key.public_hex()).expect("public key"),
        )
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .expect("log")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        std::fs::write(path, lines.join("\n") + "\n").expect("write");
    }

    fn failure(path: &Path, verifier: &Verifier, expect: &Expectations) -> audit::Broken {
        match audit::verify(path, verifier, expect) {
            Ok(found) => panic!("{} verified: {found:?}", path.display()),
            Err(broken) => broken,
        }
    }

    /// A line's JSON with its `hash` recomputed for `prev` and its `mac` dropped,
    /// as anyone without the key could write it.
    fn rehashed(line: &str, prev: &str) -> (String, String) {
        let mut value: Value = serde_json::from_str(line).expect("line");
        let map = value.as_object_mut().expect("object");
        map.remove("hash");
        map.remove("mac");
        map.insert("prev".into(), json!(prev));
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hasher, prev.as_bytes());
        sha2::Digest::update(&mut hasher, b"\n");
        sha2::Digest::update(&mut hasher, value.to_string().as_bytes());
        let hash: String = sha2::Digest::finalize(hasher)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let map = value.as_object_mut().expect("object");
        map.insert("hash".into(), json!(hash));
        map.insert("mac".into(), json!("00".repeat(32)));
        (value.to_string(), hash)
    }

    fn hash_of(line: &str) -> String {
        let value: Value = serde_json::from_str(line).expect("line");
        value["hash"].as_str().expect("hash").to_owned()
    }

    #[test]
    fn a_forged_line_appended_with_a_correct_hash_fails_verification() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("audit.jsonl");
        run(&log, &key(dir.path()), 5);
        let ok = audit::verify(&log, &with_key(dir.path()), &Expectations::default());
        assert_eq!(
            ok.expect("a sound log").entries,
            6,
            "5 decisions, 1 checkpoint"
        );
        let mut all = lines(&log);
        let last = all.last().expect("line").clone();
        let forged = all[2].replace("\"seq\":3", "\"seq\":7");
        let (forged, _) = rehashed(&forged, &hash_of(&last));
        all.push(forged);
        write_lines(&log, &all);
        let broken = failure(&log, &with_key(dir.path()), &Expectations::default());
        assert_eq!(broken.line, 7, "{broken}");
        assert!(broken.message.contains("MAC"), "{broken}");
        let broken = failure(&log, &public(dir.path()), &Expectations::default());
        assert!(
            broken
                .message
                .contains("not covered by a signed checkpoint"),
            "{broken}"
        );
    }

    #[test]
    fn an_edit_with_the_rest_of_the_chain_recomputed_fails_verification() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("audit.jsonl");
        run(&log, &key(dir.path()), 5);
        let mut all = lines(&log);
        all[2] = all[2].replace("\"score\":70", "\"score\":99");
        let mut prev = hash_of(&all[1]);
        for line in all.iter_mut().skip(2) {
            let (fixed, hash) = rehashed(line, &prev);
            *line = fixed;
            prev = hash;
        }
        write_lines(&log, &all);
        let broken = failure(&log, &with_key(dir.path()), &Expectations::default());
        assert_eq!(broken.line, 3, "{broken}");
        assert!(broken.message.contains("MAC"), "{broken}");
        // Without the secret key, the checkpoint's signature gives it away.
        let broken = failure(&log, &public(dir.path()), &Expectations::default());
        assert_eq!(broken.line, 6, "{broken}");
        assert!(broken.message.contains("checkpoint"), "{broken}");
    }

    #[test]
    fn cutting_the_last_lines_off_fails_verification() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("audit.jsonl");
        run(&log, &key(dir.path()), 3);
        let first_run = lines(&log);
        run(&log, &key(dir.path()), 3);
        let all = lines(&log);
        assert_eq!(all.len(), 8, "two runs of 3 decisions and a checkpoint");
        let saved = Expected::from_line(all.last().expect("line")).expect("head");

        // Cut in the middle of a run: the log does not end with a checkpoint.
        write_lines(&log, &all[..6]);
        let broken = failure(&log, &with_key(dir.path()), &Expectations::default());
        assert!(
            broken.message.contains("does not end with a checkpoint"),
            "{broken}"
        );

        // Cut back to the first run's checkpoint: only the saved head tells.
        write_lines(&log, &first_run);
        assert!(audit::verify(&log, &with_key(dir.path()), &Expectations::default()).is_ok());
        let expect = Expectations {
            line: Some(saved),
            open_end: false,
        };
        let broken = failure(&log, &with_key(dir.path()), &expect);
        assert!(broken.message.contains("its end was cut off"), "{broken}");
    }

    #[test]
    fn a_half_cut_last_line_is_an_error_and_the_next_writer_records_its_repair() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("audit.jsonl");
        run(&log, &key(dir.path()), 3);
        let all = lines(&log);
        let text = format!("{}\n{}", all[..3].join("\n"), &all[3][..40]);
        std::fs::write(&log, text).expect("cut");
        let broken = failure(&log, &with_key(dir.path()), &Expectations::default());
        assert_eq!(broken.line, 4, "{broken}");
        assert!(broken.message.contains("incomplete"), "{broken}");

        run(&log, &key(dir.path()), 2);
        let found =
            audit::verify(&log, &with_key(dir.path()), &Expectations::default()).expect("repaired");
        assert_eq!(found.entries, 7, "3 + repair + 2 + checkpoint");
        assert!(
            found
                .warnings
                .iter()
                .any(|w| w.contains("cut off 40 bytes")),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn a_line_with_a_key_twice_is_refused_even_when_its_hash_and_mac_hold() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("audit.jsonl");
        run(&log, &key(dir.path()), 3);
        let mut all = lines(&log);
        // The first `org` is what a first-wins reader shows; the hash and MAC
        // cover the last one.
        all[1] = all[1].replacen("\"org\":", "\"org\":\"forged-co\",\"org\":", 1);
        write_lines(&log, &all);
        let broken = failure(&log, &with_key(dir.path()), &Expectations::default());
        assert_eq!(broken.line, 2, "{broken}");
        assert!(broken.message.contains("`org` appears twice"), "{broken}");
    }

    #[test]
    fn two_processes_writing_one_log_append_whole_numbered_chained_lines() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("audit.jsonl");
        let key_file = key(dir.path());
        AuditKey::load_or_create(&key_file).expect("key");
        let records: String = (0..1_000)
            .map(|i| format!("{{\"id\": \"L-{i}\", \"source\": \"web_form\"}}\n"))
            .collect();
        let args: Vec<String> = [
            "--no-cache",
            "--now",
            "2026-11-25T09:00:00Z",
            "--audit",
            log.to_str().expect("utf-8"),
            "--audit-key",
            key_file.to_str().expect("utf-8"),
            "--jobs",
            "1",
            "qualify",
        ]
        .map(str::to_owned)
        .to_vec();
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (records, args) = (records.clone(), args.clone());
                std::thread::spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    support::cli(&args, Some(&records))
                })
            })
            .collect();
        for writer in writers {
            let out = writer.join().expect("writer");
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let found = audit::verify(&log, &with_key(dir.path()), &Expectations::default())
            .unwrap_or_else(|broken| panic!("{broken}"));
        let all = lines(&log);
        let decisions = all.iter().filter(|l| l.contains("\"decision\":")).count();
        assert_eq!(decisions, 2_000);
        assert_eq!(found.entries as usize, all.len());
        let verify = support::cli(
            &[
                "audit",
                "verify",
                log.to_str().expect("utf-8"),
                "--audit-key",
                key_file.to_str().expect("utf-8"),
            ],
            None,
        );
        assert!(verify.status.success(), "{}", text(&verify.stdout));
    }
}
