//! One busy host must not starve the others.

use std::time::{Duration, Instant};

use wow_fetch_core::{EventKind, Item, Status};
use wow_mirror::MirrorConfig;

use crate::support::{env, places};

/// Issue 15: `Slot::take` held a place of the run while it waited for the host's, so with
/// `per_host` below `concurrency` the queue of a slow host held every place, and two gems of
/// a fast host queued behind twelve slow ones finished after 4.3 s instead of at once.
#[test]
fn a_slow_host_does_not_hold_back_a_fast_one() {
    const SLOW: Duration = Duration::from_millis(500);
    let sizes = vec![2_000; 14];
    let env = env(&sizes, |config| config.latency = SLOW);
    let fast = env.start_mirror(MirrorConfig::new(env.gems_dir()));
    let fetcher = env.fetcher_trusting(&[&fast]);
    let mut items: Vec<Item> = env.items()[..12].to_vec();
    for gem in &env.gems[12..] {
        let url = format!("{}/gems/{}.gem", fast.base_url(), gem.full_name);
        let (name, version) = gem.full_name.rsplit_once('-').expect("name-version");
        items.push(Item::new(name, version, None, Some(&gem.sha256), &url).expect("item"));
    }
    let mut options = env.options();
    options.concurrency = places(4);
    options.per_host = Some(places(2));

    let started = Instant::now();
    let mut run = fetcher.start(items, options, None).expect("start");
    let mut finished = Vec::new();
    let mut batch = Vec::new();
    while run.next_batch(&mut batch, 256) {
        for event in batch.drain(..) {
            if event.kind == EventKind::Finished {
                finished.push((event.index, started.elapsed()));
            }
        }
    }
    let outcomes = run.wait().expect("outcomes");
    assert!(outcomes.iter().all(|o| o.status == Status::Downloaded));
    assert_eq!(finished.len(), 14);
    let order: Vec<usize> = finished.iter().map(|(index, _)| *index).collect();
    let first_slow = order.iter().position(|&i| i < 12).expect("a slow gem");
    let fast_done: Vec<Duration> = finished
        .iter()
        .filter(|(index, _)| *index >= 12)
        .map(|(_, at)| *at)
        .collect();
    eprintln!(
        "[reliability] 2 fast gems behind 12 slow ones (concurrency 4, per_host 2): done at \
         {fast_done:?}; the slow host's last at {:?}",
        finished.last().map(|(_, at)| at)
    );
    assert!(
        order[..2].iter().all(|&i| i >= 12) && first_slow == 2,
        "the fast host's gems must finish before any slow one (one slow round is {SLOW:?}); \
         finished in order {order:?} at {finished:?}"
    );
    assert!(
        fast_done.iter().all(|at| *at < SLOW),
        "fast gems finished at {fast_done:?}"
    );
}
