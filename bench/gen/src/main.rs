//! `wow-bench-fixtures`: write a benchmark gem set with `wow_mirror::write_gem`, printing one
//! `full_name<TAB>size<TAB>sha256` line per gem. Same arguments, same bytes, on every machine.
//!
//!   wow-bench-fixtures manifest FILE OUT   lines `name|version|platform|KiB|dep:req;dep:req`
//!   wow-bench-fixtures small N OUT         N independent gems of 5–50 KB (files)
//!   wow-bench-fixtures big MIB OUT         one gem of MIB MiB

use std::path::Path;
use std::process::ExitCode;
use wow_mirror::{write_gem, GemFile};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["manifest", file, out] => manifest(Path::new(file), Path::new(out)),
        ["small", n, out] => n.parse().map_err(|_| format!("bad count {n:?}")).and_then(|n| small(n, Path::new(out))),
        ["big", mib, out] => mib.parse().map_err(|_| format!("bad size {mib:?}")).and_then(|m| big(m, Path::new(out))),
        _ => Err("usage: wow-bench-fixtures manifest FILE OUT | small N OUT | big MIB OUT".to_owned()),
    };
    match result {
        Ok(gems) => {
            for g in gems {
                println!("{}\t{}\t{}", g.full_name, g.size, g.sha256);
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("wow-bench-fixtures: {message}");
            ExitCode::from(2)
        }
    }
}

fn prepare(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))
}

fn manifest(file: &Path, out: &Path) -> Result<Vec<GemFile>, String> {
    prepare(out)?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut gems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let [name, version, platform, kib, deps] = fields[..] else {
            return Err(format!("{}:{}: want name|version|platform|KiB|deps", file.display(), n + 1));
        };
        let kib: usize = kib
            .parse()
            .map_err(|_| format!("{}:{}: bad size {kib:?}", file.display(), n + 1))?;
        let deps: Vec<(&str, &str)> = deps
            .split(';')
            .filter(|d| !d.trim().is_empty())
            .map(|d| d.split_once(':').map(|(a, b)| (a.trim(), b.trim())))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("{}:{}: a dependency lacks `:`", file.display(), n + 1))?;
        let platform = Some(platform).filter(|p| *p != "ruby");
        gems.push(write_gem(out, name, version, platform, kib * 1024, &deps).map_err(|e| e.to_string())?);
    }
    Ok(gems)
}

/// Files of 5–50 KB, spread evenly by a fixed stride so every run has the same mix: payloads
/// of 1–46 KB plus the ~4 KB that the tar headers, metadata and checksums of a `.gem` take.
fn small(n: usize, out: &Path) -> Result<Vec<GemFile>, String> {
    prepare(out)?;
    (0..n)
        .map(|i| {
            let kb = 1 + (i * 37) % 46;
            write_gem(out, &format!("tiny-{i:04}"), "1.0.0", None, kb * 1000, &[]).map_err(|e| e.to_string())
        })
        .collect()
}

fn big(mib: usize, out: &Path) -> Result<Vec<GemFile>, String> {
    prepare(out)?;
    Ok(vec![write_gem(out, "bigdata", "1.0.0", None, mib << 20, &[]).map_err(|e| e.to_string())?])
}
