//! `/versions` and `/info/NAME` agree with the gems on disk.

use crate::support::{client, start};
use md5::{Digest, Md5};
use reqwest::header;

#[tokio::test]
async fn versions_and_info_list_every_gem_with_its_checksum() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    let versions = http
        .get(setup.url("/versions"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let (head, body) = versions.split_once("\n---\n").expect("separator");
    assert!(head.starts_with("created_at: "), "{head}");
    let lines: Vec<Vec<&str>> = body.lines().map(|l| l.split(' ').collect()).collect();
    let names: Vec<&str> = lines.iter().map(|l| l[0]).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);

    for line in &lines {
        let [name, list, md5] = line[..] else {
            panic!("bad versions line {line:?}");
        };
        let info = http
            .get(setup.url(&format!("/info/{name}")))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("text");
        assert_eq!(hex::encode(Md5::digest(info.as_bytes())), md5, "{name}");
        assert!(info.starts_with("---\n"));
        let info_versions: Vec<&str> = info
            .lines()
            .skip(1)
            .map(|l| l.split(' ').next().expect("version"))
            .collect();
        assert_eq!(info_versions.join(","), list);
        for gem in setup
            .gems
            .iter()
            .filter(|g| g.full_name.starts_with(&format!("{name}-")))
        {
            let version = &gem.full_name[name.len() + 1..];
            let line = info
                .lines()
                .find(|l| l.split(' ').next() == Some(version))
                .unwrap_or_else(|| panic!("{} missing from {info}", gem.full_name));
            assert!(
                line.ends_with(&format!("|checksum:{},ruby:>= 2.7", gem.sha256)),
                "{line}"
            );
        }
    }
    let beta = http
        .get(setup.url("/info/beta"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let sha = &setup.gem("beta-2.0.0").sha256;
    assert_eq!(
        beta,
        format!("---\n2.0.0 alpha:~> 1.0,gamma:>= 0.1&< 2|checksum:{sha},ruby:>= 2.7\n")
    );
    assert!(versions.contains("\ngamma 0.5.0,0.5.0-x86_64-linux "));
}

#[tokio::test]
async fn the_index_supports_etags_and_appending_ranges() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    let full = http.get(setup.url("/versions")).send().await.expect("get");
    let etag = full.headers()[header::ETAG].clone();
    let full = full.bytes().await.expect("body");
    let unchanged = http
        .get(setup.url("/versions"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("get");
    assert_eq!(unchanged.status(), 304);
    // Bundler re-fetches /versions from the length it has, minus one byte to check overlap.
    let tail = http
        .get(setup.url("/versions"))
        .header(header::RANGE, format!("bytes={}-", full.len() - 10))
        .send()
        .await
        .expect("get");
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.expect("body"), full[full.len() - 10..]);
    let names = http
        .get(setup.url("/names"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert_eq!(names, "---\nalpha\nbeta\ngamma\n");
}

/// The real consumer: Bundler resolves and installs from the mirror's compact index, verifying
/// each gem against the index checksum. Fails where Bundler is not installed: without it,
/// nothing would be checked (issue 15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundler_installs_from_the_mirror() {
    let available = std::process::Command::new("bundle")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        available,
        "bundle is not on PATH: this test drives Bundler (bin/setup installs it)"
    );
    let setup = start(|_| {}).await;
    let work = setup.root.path().join("app");
    std::fs::create_dir(&work).expect("mkdir");
    std::fs::write(
        work.join("Gemfile"),
        format!("source {:?}\ngem \"beta\"\n", setup.mirror.base_url()),
    )
    .expect("Gemfile");
    let ca = setup.root.path().join("ca.pem");
    setup.mirror.write_ca(&ca).expect("CA");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bundle")
            .arg("install")
            .current_dir(&work)
            .env("HOME", &work)
            .env("SSL_CERT_FILE", &ca)
            .env("BUNDLE_PATH", work.join("vendor"))
            .env("BUNDLE_GEMFILE", work.join("Gemfile"))
            .env("BUNDLE_USER_HOME", work.join(".bundle"))
            .env_remove("BUNDLE_FROZEN")
            .env_remove("BUNDLE_DEPLOYMENT")
            .output()
    })
    .await
    .expect("join")
    .expect("run bundle");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    let stats = setup.mirror.stats();
    // The compact index was used (no fallback to the legacy specs index) and the resolution
    // pulled in beta's dependencies.
    assert!(stats.paths.contains_key("/info/beta"), "{stats:?}");
    assert!(
        !stats.paths.keys().any(|p| p.starts_with("/specs")),
        "{stats:?}"
    );
    for gem in ["/gems/alpha-1.0.0.gem", "/gems/beta-2.0.0.gem"] {
        assert_eq!(stats.paths.get(gem), Some(&1), "{gem}: {stats:?}");
    }
    assert!(
        stats
            .paths
            .keys()
            .any(|p| p.starts_with("/gems/gamma-0.5.0")),
        "{stats:?}"
    );
}
