//! The compact index (`/versions`, `/info/NAME`, `/names`) that Bundler and `gem` read, built
//! once at start from the specs inside the served gems. Format:
//! <https://guides.rubygems.org/rubygems-org-compact-index-api/>.

use crate::gemspec::GemSpec;
use crate::store::Resource;
use bytes::Bytes;
use md5::{Digest, Md5};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// A gem in the index: its spec and the hex SHA-256 of the `.gem` file.
pub(crate) struct IndexedGem {
    pub spec: GemSpec,
    pub sha256: String,
}

pub(crate) struct CompactIndex {
    /// `/`: RubyGems before 3.5 (Ruby 3.1's 3.3.15 among them) sends `HEAD /` to decide whether
    /// a source has the compact index, and falls back to the full index (`specs.4.8.gz`, which
    /// this mirror does not serve) when it fails; later versions ask for `/versions` instead.
    pub root: Resource,
    pub versions: Resource,
    pub names: Resource,
    pub info: HashMap<String, Resource>,
}

impl CompactIndex {
    pub(crate) fn build(gems: &[IndexedGem], created_at: SystemTime) -> Self {
        let mut by_name: BTreeMap<&str, Vec<&IndexedGem>> = BTreeMap::new();
        for gem in gems {
            by_name.entry(&gem.spec.name).or_default().push(gem);
        }
        let mut versions = format!("created_at: {}\n---\n", crate::dates::rfc3339(created_at));
        let mut names = String::from("---\n");
        let mut info = HashMap::new();
        for (name, mut releases) in by_name {
            releases.sort_by(|a, b| {
                compare_versions(&a.spec.version, &b.spec.version)
                    .then_with(|| platform_rank(&a.spec).cmp(&platform_rank(&b.spec)))
            });
            let body: String = std::iter::once("---\n".to_owned())
                .chain(releases.iter().map(|g| info_line(g)))
                .collect();
            let list: Vec<String> = releases.iter().map(|g| g.spec.full_version()).collect();
            let info_file = index_file(body, created_at);
            versions.push_str(&format!(
                "{name} {} {}\n",
                list.join(","),
                info_file.etag.trim_matches('"')
            ));
            names.push_str(name);
            names.push('\n');
            info.insert(name.to_owned(), info_file);
        }
        Self {
            root: index_file(
                "wow-mirror: a gem source (/versions, /info/NAME, /gems/FILE)\n".to_owned(),
                created_at,
            ),
            versions: index_file(versions, created_at),
            names: index_file(names, created_at),
            info,
        }
    }
}

/// An index file whose entity tag is the quoted hex MD5 of its body, as rubygems.org sends:
/// Bundler before 2.5 checks a downloaded `/versions` or `/info/NAME` against its ETag as an MD5
/// and falls back to the legacy index on a mismatch. The MD5 of an info file is also its
/// checksum in `/versions`.
fn index_file(body: String, created_at: SystemTime) -> Resource {
    let etag = format!("\"{}\"", hex::encode(Md5::digest(body.as_bytes())));
    Resource::with_etag(Bytes::from(body), etag, created_at, CONTENT_TYPE)
}

/// `VERSION[-PLATFORM] DEP:REQ&REQ,DEP:REQ|checksum:SHA256[,ruby:REQ][,rubygems:REQ]`, with
/// dependencies sorted by name as rubygems.org writes them.
fn info_line(gem: &IndexedGem) -> String {
    let spec = &gem.spec;
    let mut deps: Vec<String> = spec
        .dependencies
        .iter()
        .map(|d| {
            let req = if d.requirements.is_empty() {
                ">= 0".to_owned()
            } else {
                d.requirements.join("&")
            };
            format!("{}:{req}", d.name)
        })
        .collect();
    deps.sort();
    let mut line = format!(
        "{} {}|checksum:{}",
        spec.full_version(),
        deps.join(","),
        gem.sha256
    );
    if !spec.required_ruby_version.is_empty() {
        line.push_str(&format!(",ruby:{}", spec.required_ruby_version.join("&")));
    }
    if !spec.required_rubygems_version.is_empty() {
        line.push_str(&format!(
            ",rubygems:{}",
            spec.required_rubygems_version.join("&")
        ));
    }
    line.push('\n');
    line
}

/// The pure-Ruby release sorts before its platform builds of the same version.
fn platform_rank(spec: &GemSpec) -> (bool, &str) {
    (spec.platform != "ruby", &spec.platform)
}

/// `Gem::Version` ordering, roughly: dot-separated segments, numbers numerically, a letter
/// segment (a prerelease like `rc1`) before any number.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let seg = |v: &str| -> Vec<Result<u64, String>> {
        v.split(['.', '-'])
            .map(|s| s.parse::<u64>().map_err(|_| s.to_owned()))
            .collect()
    };
    let (a, b) = (seg(a), seg(b));
    for i in 0..a.len().max(b.len()) {
        let zero = Ok(0);
        let ord = match (a.get(i).unwrap_or(&zero), b.get(i).unwrap_or(&zero)) {
            (Ok(x), Ok(y)) => x.cmp(y),
            (Err(x), Err(y)) => x.cmp(y),
            (Err(_), Ok(_)) => Ordering::Less,
            (Ok(_), Err(_)) => Ordering::Greater,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemspec::Dependency;
    use std::time::{Duration, UNIX_EPOCH};

    fn gem(name: &str, version: &str, platform: &str, deps: &[(&str, &[&str])]) -> IndexedGem {
        IndexedGem {
            spec: GemSpec {
                name: name.into(),
                version: version.into(),
                platform: platform.into(),
                dependencies: deps
                    .iter()
                    .map(|(n, r)| Dependency {
                        name: (*n).into(),
                        requirements: r.iter().map(|s| (*s).to_owned()).collect(),
                    })
                    .collect(),
                required_ruby_version: vec![">= 2.7".into()],
                required_rubygems_version: vec![],
            },
            sha256: format!("{name}{version}"),
        }
    }

    #[test]
    fn builds_versions_and_info() {
        let gems = [
            gem("rack", "3.0.10", "ruby", &[]),
            gem(
                "nokogiri",
                "1.16.2",
                "x86_64-linux",
                &[("racc", &["~> 1.4"])],
            ),
            gem("rack", "3.0.9", "ruby", &[]),
            gem(
                "nokogiri",
                "1.16.2",
                "ruby",
                &[
                    ("racc", &["~> 1.4"]),
                    ("mini_portile2", &["~> 2.8", ">= 2.8.2"]),
                ],
            ),
        ];
        let index = CompactIndex::build(&gems, UNIX_EPOCH + Duration::from_secs(1_704_067_200));
        let info = &index.info["nokogiri"].body;
        assert_eq!(
            std::str::from_utf8(info).expect("utf8"),
            "---\n\
             1.16.2 mini_portile2:~> 2.8&>= 2.8.2,racc:~> 1.4|checksum:nokogiri1.16.2,ruby:>= 2.7\n\
             1.16.2-x86_64-linux racc:~> 1.4|checksum:nokogiri1.16.2,ruby:>= 2.7\n"
        );
        let md5 = hex::encode(Md5::digest(info));
        let versions = std::str::from_utf8(&index.versions.body)
            .expect("utf8")
            .to_owned();
        assert!(
            versions.starts_with("created_at: 2024-01-01T00:00:00Z\n---\n"),
            "{versions}"
        );
        assert!(versions.contains(&format!("\nnokogiri 1.16.2,1.16.2-x86_64-linux {md5}\n")));
        assert!(versions.contains("\nrack 3.0.9,3.0.10 "));
        assert_eq!(&index.names.body[..], b"---\nnokogiri\nrack\n");
        assert_eq!(
            std::str::from_utf8(&index.info["rack"].body).expect("utf8"),
            "---\n3.0.9 |checksum:rack3.0.9,ruby:>= 2.7\n3.0.10 |checksum:rack3.0.10,ruby:>= 2.7\n"
        );
    }

    #[test]
    fn version_order() {
        let mut v = ["1.10", "1.2.rc1", "1.2", "1.9.9", "0.4.0.1", "1.2.0"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(v, ["0.4.0.1", "1.2.rc1", "1.2", "1.2.0", "1.9.9", "1.10"]);
    }
}
