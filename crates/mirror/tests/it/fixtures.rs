//! Fixture gems are real gems, and the same every time.

use sha2::{Digest, Sha256};
use std::process::Command;
use tempfile::TempDir;
use wow_mirror::{write_fixture_set, write_gem, FixtureSet};

#[test]
fn same_inputs_give_the_same_bytes() {
    let (a, b) = (TempDir::new().expect("tmp"), TempDir::new().expect("tmp"));
    let deps = [("rack", "~> 3.0"), ("json", ">= 2, < 3")];
    let one = write_gem(
        a.path(),
        "demo",
        "1.2.3",
        Some("x86_64-linux"),
        50_000,
        &deps,
    )
    .expect("write");
    let two = write_gem(
        b.path(),
        "demo",
        "1.2.3",
        Some("x86_64-linux"),
        50_000,
        &deps,
    )
    .expect("write");
    assert_eq!(one.full_name, "demo-1.2.3-x86_64-linux");
    assert_eq!(one.path, a.path().join("demo-1.2.3-x86_64-linux.gem"));
    let bytes = std::fs::read(&one.path).expect("read");
    assert_eq!(bytes, std::fs::read(&two.path).expect("read"));
    assert_eq!(one.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(one.size, bytes.len() as u64);
    // The payload does not compress, so the file is about as big as asked.
    assert!((50_000..60_000).contains(&one.size), "{}", one.size);
    // Nothing but the gem is left behind.
    assert_eq!(std::fs::read_dir(a.path()).expect("ls").count(), 1);
}

#[test]
fn small_sets_are_numbered() {
    let dir = TempDir::new().expect("tmp");
    let gems = write_fixture_set(&dir.path().join("new"), FixtureSet::Small(3)).expect("write");
    let names: Vec<&str> = gems.iter().map(|g| g.full_name.as_str()).collect();
    assert_eq!(
        names,
        ["small-000-1.0.0", "small-001-1.0.0", "small-002-1.0.0"]
    );
}

fn ruby_available() -> bool {
    Command::new("ruby")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The real check: RubyGems reads the spec, verifies the checksums, installs, and Ruby loads it.
#[test]
fn rubygems_reads_and_installs_fixture_gems() {
    // Without Ruby this checks nothing, so it fails rather than pass (issue 15).
    assert!(
        ruby_available(),
        "ruby is not on PATH: RubyGems is this test's oracle (bin/setup installs it)"
    );
    let dir = TempDir::new().expect("tmp");
    let gem = write_gem(
        dir.path(),
        "wowdemo",
        "0.3.1",
        None,
        20_000,
        &[("rack", "~> 3.0"), ("json", ">= 2, < 3")],
    )
    .expect("write");
    let native = write_gem(
        dir.path(),
        "wownative",
        "1.0.0",
        Some("x86_64-linux"),
        1000,
        &[],
    )
    .expect("write");
    let home = dir.path().join("home");

    // A Ruby script rather than parsing `gem spec` text: it sees the real objects.
    let script = r##"
        require "rubygems/package"
        spec = Gem::Package.new(ARGV[0]).spec
        deps = spec.runtime_dependencies.map { |d| "#{d.name} #{d.requirement}" }.sort
        puts [spec.full_name, spec.platform.to_s, spec.required_ruby_version.to_s, *deps].join("|")
    "##;
    let described = run(Command::new("ruby").args(["-e", script]).arg(&gem.path));
    assert_eq!(
        described.trim(),
        "wowdemo-0.3.1|ruby|>= 2.7|json >= 2, < 3|rack ~> 3.0"
    );
    let described = run(Command::new("ruby").args(["-e", script]).arg(&native.path));
    assert_eq!(
        described.trim(),
        "wownative-1.0.0-x86_64-linux|x86_64-linux|>= 2.7"
    );

    let spec = run(Command::new("gem").arg("spec").arg(&gem.path));
    assert!(spec.contains("name: wowdemo"), "{spec}");

    run(Command::new("gem")
        .args([
            "install",
            "--local",
            "--ignore-dependencies",
            "--no-document",
        ])
        .arg("--install-dir")
        .arg(&home)
        .arg(&gem.path)
        .env("HOME", dir.path()));
    let lib = home.join("gems/wowdemo-0.3.1/lib");
    assert!(lib.join("wowdemo.rb").is_file());
    assert!(home.join("gems/wowdemo-0.3.1/data/payload.bin").is_file());
    let loaded = run(Command::new("ruby")
        .arg("-I")
        .arg(&lib)
        .args(["-e", "require 'wowdemo'; print WowFixture::GEMS['wowdemo']"]));
    assert_eq!(loaded, "0.3.1");
    assert!(home.join("specifications/wowdemo-0.3.1.gemspec").is_file());
}
