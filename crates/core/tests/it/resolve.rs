//! Resolution against the mirror's compact index: RubyGems' version semantics checked against
//! `ruby` itself, fixture graphs checked against `bundle lock` on the same index, conflicts
//! explained, and a warm index cache that only asks "changed?".

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use wow_fetch_core::{
    CancellationToken, ClientOptions, Fetcher, GemRequest, Item, Requirement, ResolveError,
    ResolveOptions, Status, Version,
};
use wow_mirror::fixtures::{write_fixture_set, write_gem, FixtureSet, GemFile};

use crate::support::{env, run, Env};

// ---------------------------------------------------------------------------------------------
// RubyGems semantics, with `ruby` as the oracle
// ---------------------------------------------------------------------------------------------

/// SplitMix64: the same few thousand cases on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A version RubyGems accepts, biased to small numbers so comparisons and requirements often
/// meet at the interesting places (trailing zeros, prereleases next to releases).
fn generate_version(rng: &mut Rng) -> String {
    const NUMBERS: &[&str] = &["0", "1", "1", "2", "2", "3", "9", "10", "00", "01"];
    const LETTERS: &[&str] = &["a", "b", "rc", "pre", "A", "z", "beta"];
    let mut text = rng.pick(&["0", "1", "1", "2", "3"]).to_owned();
    for _ in 0..rng.below(5) {
        text.push('.');
        match rng.below(10) {
            0..=5 => text.push_str(rng.pick(NUMBERS)),
            6 | 7 => text.push_str(rng.pick(LETTERS)),
            8 => {
                text.push_str(rng.pick(LETTERS));
                text.push_str(rng.pick(NUMBERS));
            }
            _ => {
                text.push_str(rng.pick(NUMBERS));
                text.push_str(rng.pick(LETTERS));
            }
        }
    }
    if rng.chance(4) {
        text.push('-');
        text.push_str(rng.pick(&["rc1", "beta-2", "1", "x.y"]));
    }
    if rng.chance(1) {
        text = format!("{text}.12345678901234567890123");
    }
    text
}

/// Mostly valid versions, some broken in the ways people break them.
fn generate_version_texts(rng: &mut Rng, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let version = generate_version(rng);
            match rng.below(40) {
                0 => format!("{version}."),
                1 => format!(".{version}"),
                2 => version.replacen('.', "..", 1),
                3 => format!(" {version}\t"),
                4 => version.replacen('.', "_", 1),
                5 => format!("v{version}"),
                6 => version.replacen('.', " ", 1),
                7 => String::new(),
                _ => version,
            }
        })
        .collect()
}

/// Runs one `ruby` over every case (one process, JSON both ways). Without Ruby the test
/// fails, saying so: it is the oracle, and a test that passes without it checks nothing.
fn ask_ruby(input: &Value) -> Value {
    const SCRIPT: &str = r#"
        require "json"
        input = JSON.parse($stdin.read)
        texts = input["versions"]
        objs = texts.map { |s| Gem::Version.correct?(s) ? Gem::Version.new(s) : nil }
        order = (0...texts.size).select { |i| objs[i] }.sort { |a, b| objs[a] <=> objs[b] }
        rank = {}
        order.each_with_index do |i, k|
          rank[i] = (k.zero? ? 0 : rank[order[k - 1]] + ((objs[order[k - 1]] <=> objs[i]).zero? ? 0 : 1))
        end
        versions = texts.each_index.map do |i|
          v = objs[i]
          next nil unless v
          [v.to_s, v.prerelease?, v.release.to_s, v.bump.to_s, rank[i]]
        end
        requirements = input["requirements"].map do |list|
          begin
            Gem::Requirement.new(*list)
          rescue Gem::Requirement::BadRequirementError
            nil
          end
        end
        checks = input["checks"].map do |r, v|
          req = requirements[r]
          dep = Gem::Dependency.new("x", req)
          [req.satisfied_by?(objs[v]), dep.match?("x", texts[v])]
        end
        puts JSON.generate("versions" => versions,
                           "requirements" => requirements.map { |r| r && r.to_s },
                           "checks" => checks)
    "#;
    let mut child = match Command::new("ruby")
        .args(["-e", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            panic!("cannot run ruby ({e}): the RubyGems oracle needs it (bin/setup installs it)")
        }
    };
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.to_string().as_bytes())
        .expect("write to ruby");
    drop(stdin);
    let output = child.wait_with_output().expect("ruby output");
    assert!(output.status.success(), "ruby failed: {:?}", output.status);
    serde_json::from_slice(&output.stdout).expect("ruby's JSON")
}

#[test]
fn versions_and_requirements_agree_with_rubygems() {
    let mut rng = Rng(0x5EED_0006);
    let texts = generate_version_texts(&mut rng, 2500);
    let parsed: Vec<Option<Version>> = texts.iter().map(|t| Version::parse(t).ok()).collect();
    let valid: Vec<usize> = (0..texts.len()).filter(|&i| parsed[i].is_some()).collect();

    const OPS: &[&str] = &["", "=", "!=", ">", "<", ">=", "<=", "~>", "~>", "~>", ">="];
    let mut requirement_lists: Vec<Vec<String>> = Vec::new();
    for _ in 0..1500 {
        let count = 1 + rng.below(2);
        let list = (0..count)
            .map(|_| {
                let op = rng.pick(OPS);
                let space = if rng.chance(80) { " " } else { "" };
                let version = &texts[valid[rng.below(valid.len())]];
                let text = format!("{op}{space}{}", version.trim());
                // Some broken constraints, to compare what each side refuses.
                match rng.below(30) {
                    0 => format!("=> {}", version.trim()),
                    1 => op.to_owned(),
                    _ => text,
                }
            })
            .collect();
        requirement_lists.push(list);
    }
    let requirements: Vec<Option<Requirement>> = requirement_lists
        .iter()
        .map(|list| Requirement::from_constraints(list.iter().map(String::as_str)).ok())
        .collect();
    let mut checks = Vec::new();
    for (r, requirement) in requirements.iter().enumerate() {
        if requirement.is_none() {
            continue;
        }
        for _ in 0..30 {
            checks.push((r, valid[rng.below(valid.len())]));
        }
    }

    let input = json!({ "versions": texts, "requirements": requirement_lists, "checks": checks });
    let answer = ask_ruby(&input);

    let ruby_versions = answer["versions"].as_array().expect("versions");
    let mut ranks = vec![0u64; texts.len()];
    for (i, text) in texts.iter().enumerate() {
        let ruby = &ruby_versions[i];
        let Some(ours) = &parsed[i] else {
            assert!(ruby.is_null(), "ruby accepts {text:?}, we do not");
            continue;
        };
        assert!(!ruby.is_null(), "we accept {text:?}, ruby does not");
        assert_eq!(ours.as_str(), ruby[0], "to_s of {text:?}");
        assert_eq!(ours.is_prerelease(), ruby[1], "prerelease? of {text:?}");
        assert_eq!(ours.release().as_str(), ruby[2], "release of {text:?}");
        assert_eq!(ours.bump().as_str(), ruby[3], "bump of {text:?}");
        ranks[i] = ruby[4].as_u64().expect("rank");
    }
    let mut compared = 0;
    for &a in &valid {
        for &b in &valid {
            let (x, y) = (parsed[a].as_ref(), parsed[b].as_ref());
            assert_eq!(
                x.cmp(&y),
                ranks[a].cmp(&ranks[b]),
                "{:?} <=> {:?}",
                texts[a],
                texts[b]
            );
            compared += 1;
        }
    }

    let ruby_requirements = answer["requirements"].as_array().expect("requirements");
    for (i, ours) in requirements.iter().enumerate() {
        match ours {
            None => assert!(
                ruby_requirements[i].is_null(),
                "ruby accepts {:?}",
                requirement_lists[i]
            ),
            Some(ours) => assert_eq!(
                ours.to_string(),
                ruby_requirements[i],
                "to_s of {:?}",
                requirement_lists[i]
            ),
        }
    }
    let ruby_checks = answer["checks"].as_array().expect("checks");
    for (&(r, v), ruby) in checks.iter().zip(ruby_checks) {
        let requirement = requirements[r].as_ref().expect("valid requirement");
        let version = parsed[v].as_ref().expect("valid version");
        assert_eq!(
            requirement.is_satisfied_by(version),
            ruby[0],
            "{requirement} satisfied_by? {version}"
        );
        assert_eq!(
            requirement.matches(version),
            ruby[1],
            "{requirement} match? {version}"
        );
    }
    assert!(
        valid.len() > 1800 && compared > 3_000_000 && checks.len() > 35_000,
        "{} versions, {} checks",
        valid.len(),
        checks.len()
    );
    eprintln!(
        "agreed with ruby on {} versions ({} invalid), {compared} comparisons, {} requirements, {} matches",
        valid.len(),
        texts.len() - valid.len(),
        requirements.len(),
        checks.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Fixture indexes on the mirror
// ---------------------------------------------------------------------------------------------

/// `(name, version, platform, runtime dependencies)`.
type Spec<'a> = (&'a str, &'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);

/// A Sinatra-shaped index: two majors with different Rack lines, a Rack prerelease and a
/// `!=` exclusion.
const SINATRA: &[Spec<'static>] = &[
    (
        "sinatra",
        "3.2.0",
        None,
        &[
            ("mustermann", "~> 3.0"),
            ("rack", "~> 2.2, != 2.2.5"),
            ("rack-protection", "= 3.2.0"),
            ("tilt", "~> 2.0"),
        ],
    ),
    (
        "sinatra",
        "4.0.0",
        None,
        &[
            ("mustermann", "~> 3.0"),
            ("rack", ">= 3.0, < 4"),
            ("rack-protection", "= 4.0.0"),
            ("rack-session", ">= 2.0.0, < 3"),
            ("tilt", "~> 2.0"),
        ],
    ),
    (
        "rack-protection",
        "3.2.0",
        None,
        &[("base64", ">= 0.1.0"), ("rack", "~> 2.2, >= 2.2.4")],
    ),
    (
        "rack-protection",
        "4.0.0",
        None,
        &[("base64", ">= 0.1.0"), ("rack", ">= 3.0.0, < 4")],
    ),
    ("rack", "2.2.4", None, &[]),
    ("rack", "2.2.5", None, &[]),
    ("rack", "2.2.8", None, &[]),
    ("rack", "3.0.9", None, &[]),
    ("rack", "3.1.0.rc1", None, &[]),
    ("rack-session", "2.0.0", None, &[("rack", ">= 3.0.0")]),
    ("tilt", "2.3.0", None, &[]),
    ("tilt", "2.4.0", None, &[]),
    (
        "mustermann",
        "3.0.0",
        None,
        &[("ruby2_keywords", "~> 0.0.1")],
    ),
    ("ruby2_keywords", "0.0.5", None, &[]),
    ("base64", "0.1.0", None, &[]),
    ("base64", "0.2.0", None, &[]),
];

/// Backtracking needed twice: the newest `lib` needs a `util` that `app` forbids, and the
/// newest `a` needs a `c` that `b` forbids.
const BACKTRACK: &[Spec<'static>] = &[
    (
        "app",
        "1.0",
        None,
        &[
            ("a", ">= 0"),
            ("b", ">= 0"),
            ("lib", ">= 1"),
            ("util", "~> 1.0"),
        ],
    ),
    ("lib", "1.0", None, &[]),
    ("lib", "1.5", None, &[("util", "~> 1.0")]),
    ("lib", "2.0", None, &[("util", ">= 2")]),
    ("util", "1.0.3", None, &[]),
    ("util", "1.4.0", None, &[]),
    ("util", "2.1.0", None, &[]),
    ("a", "1.0", None, &[("c", ">= 1")]),
    ("a", "2.0", None, &[("c", "~> 2.0")]),
    ("b", "1.0", None, &[("c", "~> 1.2")]),
    ("c", "1.1", None, &[]),
    ("c", "1.2.5", None, &[]),
    ("c", "1.9", None, &[]),
    ("c", "2.0.1", None, &[]),
];

/// Every `web` needs Rack 2 or later; one gem is built only for JRuby, one needs a gem the
/// index does not have.
const CONFLICT: &[Spec<'static>] = &[
    ("web", "1.0.0", None, &[("rack", ">= 2")]),
    ("web", "2.0.0", None, &[("rack", ">= 2.2")]),
    ("rack", "1.6.13", None, &[]),
    ("rack", "2.2.8", None, &[]),
    ("jruby-only", "1.0", Some("java"), &[]),
    ("needs-ghost", "1.0", None, &[("ghost", ">= 1")]),
];

fn write_specs(dir: &Path, specs: &[Spec<'_>]) -> Vec<GemFile> {
    specs
        .iter()
        .map(|(name, version, platform, deps)| {
            write_gem(dir, name, version, *platform, 256, deps).expect("fixture gem")
        })
        .collect()
}

/// A mirror serving the gems `write` puts in its directory (returned beside it).
fn mirror_env(write: impl FnOnce(&Path) -> Vec<GemFile>) -> (Env, Vec<GemFile>) {
    let mut gems = Vec::new();
    let env = env(&[], |config| gems = write(&config.gems_dir));
    (env, gems)
}

/// A mirror 50 ms away, for timing.
fn distant_mirror_env(write: impl FnOnce(&Path) -> Vec<GemFile>) -> Env {
    env(&[], |config| {
        write(&config.gems_dir);
        config.latency = Duration::from_millis(50);
    })
}

fn resolve_options(env: &Env) -> ResolveOptions {
    let mut options = ResolveOptions::new(env.mirror.base_url(), env.cache_dir());
    options.platforms = vec!["x86_64-linux".to_owned(), "ruby".to_owned()];
    options.ruby_version = Some(Version::parse("3.1.2").expect("version"));
    options.retry.backoff_base = Duration::from_millis(20);
    options
}

fn requests(texts: &[&str]) -> Vec<GemRequest> {
    texts
        .iter()
        .map(|t| GemRequest::parse(t).expect("valid request"))
        .collect()
}

/// `name → version[-platform]`, as a lockfile lists them.
fn chosen(items: &[Item]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|item| {
            let full = item.full_name();
            let version = full[item.name().len() + 1..].to_owned();
            (item.name().to_owned(), version)
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// What `bundle lock` picks for `gemfile_body` against the mirror; `Err` carries Bundler's
/// output when it cannot resolve. Without Bundler the test fails, saying so.
fn bundle_lock(env: &Env, gemfile_body: &str) -> Result<BTreeMap<String, String>, String> {
    let work = tempfile::tempdir().expect("tempdir");
    let gemfile = work.path().join("Gemfile");
    std::fs::write(
        &gemfile,
        format!("source \"{}\"\n{gemfile_body}", env.mirror.base_url()),
    )
    .expect("Gemfile");
    let home = work.path().join("home");
    let mut command = Command::new("bundle");
    command
        .args(["lock"])
        .current_dir(work.path())
        .env("BUNDLE_GEMFILE", &gemfile)
        .env("SSL_CERT_FILE", &env.ca)
        .env("HOME", &home)
        .env("BUNDLE_USER_HOME", home.join(".bundle"))
        .env("BUNDLE_APP_CONFIG", work.path().join(".bundle"))
        .env("GEM_HOME", work.path().join("gems"))
        .env_remove("BUNDLE_FROZEN")
        .env_remove("BUNDLE_DEPLOYMENT");
    let output = command.output().unwrap_or_else(|e| {
        panic!("cannot run bundle ({e}): the Bundler comparison needs it (bin/setup installs it)")
    });
    if !output.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let lock = std::fs::read_to_string(work.path().join("Gemfile.lock")).expect("Gemfile.lock");
    Ok(lockfile_specs(&lock))
}

/// The `GEM` section's `    name (version[-platform])` lines.
fn lockfile_specs(lock: &str) -> BTreeMap<String, String> {
    let mut specs = BTreeMap::new();
    let mut in_gem = false;
    for line in lock.lines() {
        if !line.starts_with(' ') {
            in_gem = line == "GEM";
            continue;
        }
        let Some(entry) = line.strip_prefix("    ") else {
            continue;
        };
        if !in_gem || entry.starts_with(' ') {
            continue;
        }
        if let Some((name, rest)) = entry.split_once(" (") {
            specs.insert(name.to_owned(), rest.trim_end_matches(')').to_owned());
        }
    }
    specs
}

/// Resolves `request` with wow-fetch and `gemfile` with Bundler and asserts the same choice.
fn assert_same_as_bundler(env: &Env, request: &[&str], gemfile: &str, expected: &[(&str, &str)]) {
    let items = env
        .fetcher()
        .resolve(&requests(request), &resolve_options(env))
        .unwrap_or_else(|e| panic!("resolve {request:?}: {e}"));
    let ours = chosen(&items);
    assert_eq!(ours, expect(expected), "wow-fetch for {request:?}");
    match bundle_lock(env, gemfile) {
        Ok(bundler) => assert_eq!(ours, bundler, "Bundler for {gemfile:?}"),
        Err(output) => panic!("bundle lock failed for {gemfile:?}:\n{output}"),
    }
}

#[test]
fn sinatra_graph_matches_bundler() {
    let (env, _) = mirror_env(|dir| write_specs(dir, SINATRA));
    assert_same_as_bundler(
        &env,
        &["sinatra"],
        "gem \"sinatra\"\n",
        &[
            ("base64", "0.2.0"),
            ("mustermann", "3.0.0"),
            ("rack", "3.0.9"),
            ("rack-protection", "4.0.0"),
            ("rack-session", "2.0.0"),
            ("ruby2_keywords", "0.0.5"),
            ("sinatra", "4.0.0"),
            ("tilt", "2.4.0"),
        ],
    );
    assert_same_as_bundler(
        &env,
        &["sinatra", "rack < 3"],
        "gem \"sinatra\"\ngem \"rack\", \"< 3\"\n",
        &[
            ("base64", "0.2.0"),
            ("mustermann", "3.0.0"),
            ("rack", "2.2.8"),
            ("rack-protection", "3.2.0"),
            ("ruby2_keywords", "0.0.5"),
            ("sinatra", "3.2.0"),
            ("tilt", "2.4.0"),
        ],
    );
    let error = env
        .fetcher()
        .resolve(
            &requests(&["sinatra >= 4", "rack < 3"]),
            &resolve_options(&env),
        )
        .expect_err("sinatra 4 needs rack 3");
    eprintln!("{error}");
    for needle in [
        "sinatra 4.0.0 depends on rack >= 3.0",
        "you requested rack < 3",
        "sinatra 4.0.0 cannot be used",
    ] {
        assert!(
            error.to_string().contains(needle),
            "{needle:?} missing from:\n{error}"
        );
    }
    // A prerelease only when asked for.
    assert_same_as_bundler(
        &env,
        &["rack:>= 3.1.0.rc1"],
        "gem \"rack\", \">= 3.1.0.rc1\"\n",
        &[("rack", "3.1.0.rc1")],
    );
}

#[test]
fn backtracking_graph_matches_bundler() {
    let (env, _) = mirror_env(|dir| write_specs(dir, BACKTRACK));
    assert_same_as_bundler(
        &env,
        &["app"],
        "gem \"app\"\n",
        &[
            ("a", "1.0"),
            ("app", "1.0"),
            ("b", "1.0"),
            ("c", "1.9"),
            ("lib", "1.5"),
            ("util", "1.4.0"),
        ],
    );
}

#[test]
fn rails_app_with_platform_gems_matches_bundler() {
    let (env, _) =
        mirror_env(|dir| write_fixture_set(dir, FixtureSet::Demo).expect("demo fixtures"));
    let items = env
        .fetcher()
        .resolve(&requests(&["rails"]), &resolve_options(&env))
        .expect("resolve rails");
    let ours = chosen(&items);
    assert_eq!(items[0].name(), "rails", "requested gem first");
    assert_eq!(
        ours.get("nokogiri").map(String::as_str),
        Some("1.16.2-x86_64-linux")
    );
    assert!(ours.len() > 35, "{ours:?}");
    let bundler = bundle_lock(&env, "gem \"rails\"\n");
    assert_eq!(ours, bundler.expect("bundle lock"), "Bundler for rails");
    // With only the `ruby` platform, the pure-Ruby nokogiri and its build dependency.
    let mut options = resolve_options(&env);
    options.platforms = vec!["ruby".to_owned()];
    let portable = chosen(
        &env.fetcher()
            .resolve(&requests(&["rails"]), &options)
            .expect("resolve"),
    );
    assert_eq!(portable.get("nokogiri").map(String::as_str), Some("1.16.2"));
    assert!(portable.contains_key("mini_portile2"), "{portable:?}");
}

#[test]
fn conflict_names_the_gems_and_requirements() {
    let (env, _) = mirror_env(|dir| write_specs(dir, CONFLICT));
    let error = env
        .fetcher()
        .resolve(&requests(&["web", "rack < 2"]), &resolve_options(&env))
        .expect_err("no version of web takes rack < 2");
    let ResolveError::Conflict { explanation } = &error else {
        panic!("expected a conflict, got {error:?}");
    };
    eprintln!("{explanation}");
    for needle in [
        "web",
        "rack >= 2",
        "you requested rack < 2",
        "your request cannot be satisfied",
    ] {
        assert!(
            explanation.contains(needle),
            "{needle:?} missing from:\n{explanation}"
        );
    }
    let conflict = |request: &[&str]| match env
        .fetcher()
        .resolve(&requests(request), &resolve_options(&env))
    {
        Err(ResolveError::Conflict { explanation }) => explanation,
        other => panic!("expected a conflict for {request:?}, got {other:?}"),
    };
    let explanation = conflict(&["jruby-only"]);
    eprintln!("{explanation}");
    assert!(
        explanation.contains("there is no usable version of jruby-only"),
        "{explanation}"
    );
    assert!(
        explanation.contains("Note: jruby-only 1.0 skipped: has no build for x86_64-linux or ruby"),
        "{explanation}"
    );
    let explanation = conflict(&["needs-ghost"]);
    eprintln!("{explanation}");
    let source = env.mirror.base_url();
    assert!(
        explanation.contains(&format!("Note: there is no gem named ghost in {source}")),
        "{explanation}"
    );
    let bundler = bundle_lock(&env, "gem \"web\"\ngem \"rack\", \"< 2\"\n");
    let output = bundler.expect_err("Bundler cannot resolve it either");
    assert!(output.contains("rack"), "{output}");
}

#[test]
fn unknown_gem_and_bad_requests() {
    let (env, _) = mirror_env(|dir| write_specs(dir, CONFLICT));
    let error = env
        .fetcher()
        .resolve(&requests(&["nope"]), &resolve_options(&env))
        .expect_err("no such gem");
    assert!(
        matches!(&error, ResolveError::UnknownGem { name, .. } if name == "nope"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&env.mirror.base_url()),
        "{error}"
    );
    // Bad input fails before any traffic.
    assert!(GemRequest::parse("rack:>= x").is_err());
    env.mirror.reset_stats();
    let mut options = resolve_options(&env);
    options.source = "ftp://example.test".to_owned();
    let error = env
        .fetcher()
        .resolve(&requests(&["web"]), &options)
        .expect_err("bad source");
    assert!(matches!(error, ResolveError::Input(_)), "{error:?}");
    let mut options = resolve_options(&env);
    options.platforms.clear();
    let error = env
        .fetcher()
        .resolve(&requests(&["web"]), &options)
        .expect_err("no platform");
    assert!(error.to_string().contains("platforms"), "{error}");
    assert_eq!(env.mirror.stats().requests, 0);
    // Cancelled (as a Ruby interrupt does): stops with that, whatever is in flight.
    let mut options = resolve_options(&env);
    let cancel = CancellationToken::new();
    cancel.cancel();
    options.cancel = Some(cancel);
    let error = env
        .fetcher()
        .resolve(&requests(&["web"]), &options)
        .expect_err("cancelled");
    assert!(matches!(error, ResolveError::Cancelled), "{error:?}");
}

/// Issue 15: `resolve` always used the instance's pool, so a per-call `ca_file`,
/// `http1_only` or `connect_timeout` (the CLI passes the lockfile's `ssl_ca_cert` as one) had
/// no effect on the index requests.
#[test]
fn resolve_honours_per_call_client_options() {
    let (env, _) = mirror_env(|dir| write_specs(dir, SINATRA));
    // An instance that trusts no test CA: only the call's options can make this work.
    let fetcher = Fetcher::new(ClientOptions::default()).expect("fetcher");
    let error = fetcher
        .resolve(&requests(&["sinatra"]), &resolve_options(&env))
        .expect_err("the instance does not trust the mirror");
    assert!(error.to_string().contains("TLS"), "{error}");
    env.mirror.reset_stats();
    let call = ClientOptions {
        ca_file: Some(env.ca.clone()),
        http1_only: true,
        ..ClientOptions::default()
    };
    let items = fetcher
        .resolve_with(&requests(&["sinatra"]), &resolve_options(&env), Some(&call))
        .expect("resolve with the call's CA");
    assert_eq!(items[0].name(), "sinatra");
    let stats = env.mirror.stats();
    assert_eq!(stats.h2_connections, 0, "http1_only applies: {stats:?}");
    assert!(stats.http1_connections > 0, "{stats:?}");
    // An unreadable CA bundle for this call is reported, before any traffic.
    let bad = ClientOptions {
        ca_file: Some(env.dir.path().join("missing.pem")),
        ..ClientOptions::default()
    };
    let error = fetcher
        .resolve_with(&requests(&["sinatra"]), &resolve_options(&env), Some(&bad))
        .expect_err("unreadable CA");
    assert!(matches!(error, ResolveError::Client(_)), "{error:?}");
}

#[test]
fn resolved_items_download_verified() {
    let (env, gems) = mirror_env(|dir| write_specs(dir, SINATRA));
    let fetcher = env.fetcher();
    let items = fetcher
        .resolve(&requests(&["sinatra"]), &resolve_options(&env))
        .expect("resolve");
    let names: Vec<&str> = items.iter().map(Item::name).collect();
    assert_eq!(
        names,
        [
            "sinatra",
            "base64",
            "mustermann",
            "rack",
            "rack-protection",
            "rack-session",
            "ruby2_keywords",
            "tilt"
        ]
    );
    for item in &items {
        let gem = gems
            .iter()
            .find(|g| g.full_name == item.full_name())
            .expect("fixture");
        assert_eq!(
            item.sha256().expect("checksum from the index").to_hex(),
            gem.sha256
        );
        assert_eq!(item.url().as_str(), env.url(gem));
    }
    let (outcomes, _) = run(&fetcher, items, env.options());
    assert!(
        outcomes.iter().all(|o| o.status == Status::Downloaded),
        "{outcomes:?}"
    );
    let stats = env.mirror.stats();
    // The index goes over the first lane; the gems spread over every lane, the first
    // reusing the index's connection.
    assert_eq!(
        stats.tcp_connections,
        wow_fetch_core::LANES.min(outcomes.len()) as u64,
        "index and gems share the lanes' pooled connections: {stats:?}"
    );
}

/// The single source directory under `compact-index-v1/`.
fn index_dir(env: &Env) -> PathBuf {
    let bucket = env.cache_dir().join("compact-index-v1");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&bucket)
        .expect("index cache")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

/// The body of a cached index file (after its ETag line).
fn cached_body(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("cached file");
    let newline = bytes.iter().position(|b| *b == b'\n').expect("etag line");
    bytes[newline + 1..].to_vec()
}

#[test]
fn warm_cache_asks_only_whether_anything_changed() {
    let (env, _) = mirror_env(|dir| write_specs(dir, SINATRA));
    let request = requests(&["sinatra", "rack < 3"]);
    let first = env
        .fetcher()
        .resolve(&request, &resolve_options(&env))
        .expect("cold");
    let cold = env.mirror.stats();
    assert!(
        cold.paths.contains_key("/versions") && cold.bytes_sent > 0,
        "{cold:?}"
    );
    let versions_path = index_dir(&env).join("versions");
    let served_versions = cached_body(&versions_path);

    // Warm, with a fresh pool: conditional requests only, every one answered 304.
    env.mirror.reset_stats();
    let second = env
        .fetcher()
        .resolve(&request, &resolve_options(&env))
        .expect("warm");
    assert_eq!(chosen(&second), chosen(&first));
    let warm = env.mirror.stats();
    eprintln!(
        "warm resolve: {} requests ({:?})",
        warm.requests, warm.paths
    );
    assert_eq!(warm.bytes_sent, 0, "nothing but 304s: {warm:?}");
    assert!(
        warm.range_requests >= 1,
        "/versions asked with Range: {warm:?}"
    );
    assert!(warm.paths.values().all(|&n| n == 1), "{warm:?}");
    assert!(
        warm.paths
            .keys()
            .all(|p| p == "/versions" || p.starts_with("/info/")),
        "{warm:?}"
    );
    assert!(warm.requests <= cold.requests, "{warm:?} vs {cold:?}");

    // A cached /versions missing its newest line: the tail is appended with one Range
    // request and checked against the ETag.
    let full = std::fs::read(&versions_path).expect("versions");
    let cut = full[..full.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("lines")
        + 1;
    let mut stale = b"\"stale-tag\"\n".to_vec();
    stale.extend_from_slice(&served_versions[..served_versions.len() - (full.len() - cut)]);
    std::fs::write(&versions_path, &stale).expect("write stale");
    env.mirror.reset_stats();
    env.fetcher()
        .resolve(&request, &resolve_options(&env))
        .expect("append");
    let appended = env.mirror.stats();
    assert_eq!(cached_body(&versions_path), served_versions);
    assert_eq!(appended.paths.get("/versions"), Some(&1), "{appended:?}");
    assert!(appended.range_requests >= 1);
    assert!(
        appended.bytes_sent < 200,
        "only the tail of /versions: {appended:?}"
    );

    // A cached copy that differs inside: the splice fails its check, the file is refetched.
    let mut corrupt = stale.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x20;
    std::fs::write(&versions_path, &corrupt).expect("write corrupt");
    env.mirror.reset_stats();
    env.fetcher()
        .resolve(&request, &resolve_options(&env))
        .expect("refetch");
    let refetched = env.mirror.stats();
    assert_eq!(cached_body(&versions_path), served_versions);
    assert_eq!(refetched.paths.get("/versions"), Some(&2), "{refetched:?}");
}

/// Cold and warm `rails` against a mirror 50 ms away, next to `bundle lock` on the same
/// index: the index requests go out in parallel (a cold resolve takes far fewer round trips
/// than it makes requests), and a warm one, answered from the cache, is faster still. Prints
/// the timings with `--nocapture`.
#[test]
#[ignore = "50 ms per request: several seconds; bin/test runs it with --ignored"]
fn resolve_timing_with_latency() {
    const LATENCY: Duration = Duration::from_millis(50);
    let env = distant_mirror_env(|dir| write_fixture_set(dir, FixtureSet::Demo).expect("demo"));
    let fetcher = env.fetcher();
    let options = resolve_options(&env);
    let request = requests(&["rails"]);
    let mut times = Vec::new();
    for run in ["cold", "warm"] {
        env.mirror.reset_stats();
        let started = std::time::Instant::now();
        let items = fetcher.resolve(&request, &options).expect("resolve");
        let elapsed = started.elapsed();
        let requests = env.mirror.stats().requests;
        eprintln!(
            "wow-fetch resolve rails ({run}): {} gems, {requests} requests in {:.2}s",
            items.len(),
            elapsed.as_secs_f64()
        );
        times.push((elapsed, requests));
    }
    let (cold, cold_requests) = times[0];
    let (warm, _) = times[1];
    let one_by_one = LATENCY * u32::try_from(cold_requests).expect("a few requests");
    assert!(cold_requests > 20, "{cold_requests} requests");
    assert!(
        cold < one_by_one / 2,
        "cold resolve {cold:?}: not pipelined ({cold_requests} requests one by one take {one_by_one:?})"
    );
    assert!(warm < cold, "warm {warm:?}, cold {cold:?}");
    let started = std::time::Instant::now();
    let bundler = bundle_lock(&env, "gem \"rails\"\n").expect("bundle lock");
    eprintln!(
        "bundle lock rails (cold): {} gems in {:.2}s",
        bundler.len(),
        started.elapsed().as_secs_f64()
    );
}
