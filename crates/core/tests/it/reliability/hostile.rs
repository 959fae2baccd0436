//! Hostile input: names, versions and URLs from a lockfile or a Ruby caller nobody checked.
//! Every input is a typed error or an item whose files stay inside the cache and `dest`;
//! nothing panics; credentials never surface in errors or events.
//!
//! Property tests run 2,000 cases each by default; `PROPTEST_CASES=100000` runs longer.

use std::path::{Component, Path};

use proptest::prelude::*;
use proptest::test_runner::Config;
use wow_fetch_core::{cache_path, parse_specifier, Item, Status};
use wow_mirror::{Fault, FaultRule, MirrorConfig, PathMatch, TlsFault};

use crate::support::{env, run};

fn config() -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 2_000;
    }
    // A failure prints its minimal input; no regression files in the source tree.
    config.failure_persistence = None;
    config
}

/// Pieces that have broken file-name handling somewhere: traversal, separators, NUL,
/// Windows device names and drive letters, percent-encoding, Unicode look-alikes and
/// direction overrides, whitespace and the empty string.
fn nasty_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "..",
            ".",
            "/",
            "\\",
            "\0",
            "%2e%2e",
            "%2f",
            "~",
            ":",
            "C:",
            "CON",
            "NUL",
            "-",
            "_",
            "..\\..",
            "../",
            "./",
            " ",
            "\n",
            "\t",
            "\u{202e}",
            "\u{2024}\u{2024}",
            "\u{ff0f}",
            "\u{2215}",
            "é",
            "日本",
            "🦀",
            "\u{200b}",
            "*",
            "?",
            "|",
            "<",
            ">",
            "\"",
            "'",
            "1.0",
            "0",
            "x86_64-linux",
            "java",
            "ruby",
            "",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9._-]{1,12}",
        "\\PC{1,8}",
        any::<String>(),
    ]
}

fn nasty_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(nasty_piece(), 0..6).prop_map(|parts| parts.concat()),
        // Around the 255-byte limit of a file name, and far past it.
        (250usize..262).prop_map(|n| "a".repeat(n)),
        (1usize..5_000).prop_map(|n| "é".repeat(n)),
    ]
}

fn version() -> impl Strategy<Value = String> {
    prop_oneof![
        nasty_segment(),
        nasty_segment().prop_map(|rest| format!("1{rest}")),
    ]
}

/// URLs with odd schemes, userinfo, IPv6 and IDN hosts, ports out of range and junk paths.
fn url() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "https://",
        "http://",
        "HTTPS://",
        "hTTp://",
        "ftp://",
        "file://",
        "javascript:",
        "data:",
        "gopher://",
        "ws://",
        "https:",
        "https:///",
        "//",
        "",
    ]);
    let userinfo = prop::sample::select(vec![
        "",
        "alice:SECRETpw@",
        "TOKENabc123@",
        ":SECRETpw@",
        "a@b:SECRETpw@",
        "%40:%3A@",
    ]);
    let host = prop::sample::select(vec![
        "localhost",
        "127.0.0.1",
        "[::1]",
        "[fe80::1%25eth0]",
        "[::ffff:127.0.0.1]",
        "xn--n3h.test",
        "例え.テスト",
        "a..b",
        "-x-",
        "",
        "[",
        "host name",
        "999.1.1.1",
        "0x7f.1",
        "..",
        "%2e%2e",
    ]);
    let port = prop::sample::select(vec!["", ":0", ":443", ":65535", ":65536", ":-1", ":x"]);
    let path = prop_oneof![
        Just("/gems/x.gem".to_owned()),
        "(/[^/?#]{0,12}){0,4}",
        "\\PC{0,20}",
    ];
    (scheme, userinfo, host, port, path)
        .prop_map(|(s, u, h, p, path)| format!("{s}{u}{h}{p}{path}"))
}

/// Whatever `Item::new` accepts has a file name of one normal component, and its cache entry
/// sits exactly two directories below the cache root; a `dest` file directly in `dest`.
fn check_item(item: &Item) -> Result<(), TestCaseError> {
    let root = Path::new("/cache-root");
    let entry = cache_path(root, item);
    prop_assert!(entry.starts_with(root), "{entry:?}");
    let relative = entry.strip_prefix(root).expect("inside");
    let below: Vec<Component> = relative.components().collect();
    prop_assert_eq!(below.len(), 3, "{:?}", entry);
    prop_assert!(
        below.iter().all(|c| matches!(c, Component::Normal(_))),
        "{:?}",
        entry
    );
    let file_name = item.file_name();
    prop_assert!(!file_name.contains(['/', '\\', '\0']), "{file_name:?}");
    prop_assert!(!file_name.starts_with('.'), "{file_name:?}");
    let dest = Path::new("/dest");
    let in_dest = dest.join(&file_name);
    prop_assert_eq!(in_dest.parent(), Some(dest));
    prop_assert!(matches!(item.url().scheme(), "https" | "http"));
    for secret in secrets(item.url().as_str()) {
        prop_assert!(
            !item.display_url().contains(secret),
            "{}",
            item.display_url()
        );
        prop_assert!(!format!("{item:?}").contains(secret), "{item:?}");
    }
    Ok(())
}

/// The generated secrets `text` must not show. As Bundler does, a user name is shown when a
/// password comes with it, so a token that ends up inside such a user name (as in the
/// generated `https://TOKEN@host:0@x`, whose user is `TOKEN@host`) may show.
fn secrets(text: &str) -> Vec<&'static str> {
    let token_shown = url::Url::parse(text)
        .is_ok_and(|url| url.password().is_some() && url.username().contains("TOKENabc123"));
    if token_shown {
        vec!["SECRETpw"]
    } else {
        vec!["SECRETpw", "TOKENabc123"]
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn item_new_never_panics_and_never_escapes(
        name in nasty_segment(),
        version in version(),
        platform in prop::option::of(nasty_segment()),
        url in url(),
    ) {
        match Item::new(&name, &version, platform.as_deref(), None, &url) {
            Ok(item) => check_item(&item)?,
            Err(error) => {
                for shown in [error.to_string(), format!("{error:?}")] {
                    for secret in secrets(&url) {
                        prop_assert!(!shown.contains(secret), "{shown}");
                    }
                }
            }
        }
    }

    #[test]
    fn parse_specifier_never_panics_and_its_parts_stay_safe(text in prop_oneof![
        prop::collection::vec(nasty_piece(), 0..8).prop_map(|p| p.join("-")),
        any::<String>(),
    ]) {
        if let Ok(spec) = parse_specifier(&text) {
            let url = "https://example.test/gems/x.gem";
            if let Ok(item) = Item::new(&spec.name, &spec.version, spec.platform.as_deref(), None, url) {
                check_item(&item)?;
            }
        }
    }

    #[test]
    fn sha256_is_64_hex_or_an_error(text in prop_oneof!["[0-9a-fA-F]{60,68}", "\\PC{0,80}"]) {
        let item = Item::new("a", "1.0", None, Some(&text), "https://example.test/a.gem");
        let valid = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        prop_assert_eq!(item.is_ok(), valid, "{:?}", text);
    }
}

#[test]
fn known_escapes_are_refused() {
    let url = "https://example.test/gems/x.gem";
    for (name, version, platform) in [
        ("..", "1.0", None),
        ("../../etc/passwd", "1.0", None),
        ("a", "1.0/../../x", None),
        ("a", "1.0", Some("../../x")),
        ("a", "1.0", Some("x/..")),
        ("a\0b", "1.0", None),
        ("a", "1.0\0", None),
        (".hidden", "1.0", None),
        ("a", "1.0", Some(".hidden")),
        ("C:\\x", "1.0", None),
        ("a", "1.0\n", None),
    ] {
        assert!(
            Item::new(name, version, platform, None, url).is_err(),
            "{name:?} {version:?} {platform:?}"
        );
    }
    let long = "a".repeat(256);
    assert!(Item::new(&long, "1.0", None, None, url).is_err());
    for bad in [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://example.test/x.gem",
        "data:text/plain,x",
        "https://",
        "//example.test/x.gem",
    ] {
        assert!(Item::new("a", "1.0", None, None, bad).is_err(), "{bad}");
    }
    // A password stays hidden even when the URL does not parse.
    for bad in [
        "https:alice:SECRETpw@localhost:65536/x.gem",
        "https://alice:SECRETpw@exa mple/x.gem",
        "alice:SECRETpw@host/x.gem",
        "https://TOKENabc123@[::1/x.gem",
    ] {
        let error = Item::new("a", "1.0", None, None, bad).expect_err(bad);
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(
                !shown.contains("SECRETpw") && !shown.contains("TOKENabc123"),
                "{shown}"
            );
        }
    }
    // IPv6 literals and IDN hosts are fine, and stay one directory of the cache; an IPv6
    // zone id (`%25eth0`) is refused by the URL parser, which is fine too.
    assert!(Item::new("a", "1.0", None, None, "https://[fe80::1%25eth0]/a.gem").is_err());
    for good in [
        "https://[::1]:8443/gems/a-1.0.gem",
        "https://例え.テスト/a.gem",
    ] {
        let item = Item::new("a", "1.0", None, None, good).expect(good);
        let entry = cache_path(Path::new("/c"), &item);
        assert_eq!(entry.components().count(), 5, "{entry:?}");
    }
}

/// Credentials (a password, or a token as the user name) through every kind of failure:
/// `{}` and `{:?}` of every error and event stay clean.
#[test]
fn credentials_never_appear_in_errors_or_events() {
    let env = env(&[50_000, 50_000, 50_000, 50_000, 50_000], |config| {
        config.plain_http = true;
    });
    let plain = env.mirror.plain_base_url().expect("plain");
    let rules = [
        (0, Fault::Status(500)),
        (1, Fault::ResetBeforeHeaders),
        (2, Fault::Truncate(1_000)),
        (
            3,
            Fault::Redirect {
                status: 302,
                // A Location with credentials of its own.
                location: plain.replace("http://", "http://bob:LOCATIONpw@"),
            },
        ),
        (4, Fault::Corrupt),
    ];
    for (index, fault) in rules {
        env.mirror.add_fault(FaultRule::new(
            PathMatch::exact(format!("/gems/{}.gem", env.gems[index].full_name)),
            fault,
        ));
    }
    let mut tls_config = MirrorConfig::new(env.gems_dir());
    tls_config.tls_fault = Some(TlsFault::UnknownCa);
    let bad_tls = env.start_mirror(tls_config);
    let fetcher = env.fetcher_trusting(&[&bad_tls]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = listener.local_addr().expect("addr").port();
    drop(listener);

    let secrets = ["hunter22", "TOKENabc123", "LOCATIONpw", "q9"];
    for userinfo in ["alice:hunter22@", "TOKENabc123@", "zz:q9@"] {
        let mut items: Vec<Item> = env
            .gems
            .iter()
            .map(|gem| {
                let url = env
                    .url(gem)
                    .replace("https://", &format!("https://{userinfo}"));
                let (name, version) = gem.full_name.rsplit_once('-').expect("name-version");
                Item::new(name, version, None, Some(&gem.sha256), &url).expect("item")
            })
            .collect();
        for base in [
            bad_tls.base_url(),
            format!("https://127.0.0.1:{dead_port}"),
            env.mirror.base_url(),
        ] {
            let url = format!("{base}/gems/missing-1.0.gem")
                .replace("https://", &format!("https://{userinfo}"));
            items.push(Item::new("missing", "1.0", None, None, &url).expect("item"));
        }
        let mut options = env.options();
        options.retry.retries = 1;
        let (outcomes, events) = run(&fetcher, items, options);
        assert!(
            outcomes.iter().all(|o| o.status == Status::Failed),
            "{outcomes:?}"
        );
        let shown = format!(
            "{outcomes:?} {events:?} {}",
            outcomes
                .iter()
                .filter_map(|o| o.error.as_ref().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join("\n")
        );
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
        }
        assert!(shown.contains("***@"), "URLs are shown redacted:\n{shown}");
    }
}
