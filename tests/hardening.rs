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

const ACME: &[u8] = include_bytes!(env!("CRM_RULES_ACME_WASM"));

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
    let decision = serde_json::to_value(&decided.value).expect("json");
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

fn newest_entry(settings: &crm_rules::EngineSettings) -> std::path::PathBuf {
    std::fs::read_dir(settings.cache_dir.as_ref().expect("cache dir"))
        .expect("cache folder")
        .map(|e| e.expect("entry").path())
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
    let mut bytes = std::fs::read(&entry).expect("entry");
    // The layout is public: 16 bytes of magic, a 32-byte MAC, then the data. An
    // attacker edits the data and writes the digest anyone can compute.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let digest = blake3::hash(&bytes[48..]);
    bytes[16..48].copy_from_slice(digest.as_bytes());
    std::fs::write(&entry, &bytes).expect("edit");
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
