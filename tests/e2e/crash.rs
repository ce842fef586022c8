//! Crash safety: `lookalike index add` killed with SIGKILL at random moments, many times. Every
//! image whose add was acknowledged (`added ID PATH`, printed once its batch is durable) must be
//! there and found by search; nothing may be corrupt; re-running the add completes the rest. The
//! second test does the same while the index seals segments and merges them.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lookalike_e2e::{lookalike, lookalike_bin, shapes_dataset, text};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Runs a command that must succeed without warnings (a warning would mean a corrupt dump).
fn json(args: &[&str]) -> Value {
    let run = lookalike(args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    assert!(!stderr.contains("warning"), "{args:?} warned:\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{stdout}"))
}

/// `lookalike search NAME QUERY -k 1000 --json`.
fn search_everything(name: &str, query: &str, data_dir: &str) -> Value {
    json(&[
        "search",
        name,
        query,
        "--data-dir",
        data_dir,
        "--json",
        "-k",
        "1000",
    ])
}

/// Checks that a search found every stored image once and every acknowledged one with its id;
/// returns path → id.
fn check_found(
    hits: &Value,
    points: u64,
    acked: &HashMap<String, u64>,
    round: usize,
) -> HashMap<String, u64> {
    let found: HashMap<String, u64> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["path"].as_str().unwrap().to_string(),
                h["id"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found.len() as u64,
        points,
        "round {round}: search sees every stored image, once"
    );
    for (path, id) in acked {
        assert_eq!(
            found.get(path),
            Some(id),
            "round {round}: acknowledged {path} lost"
        );
    }
    found
}

#[test]
fn sigkilled_adds_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 6, 40, 5);
    let total = 240u64;
    let data = dir.path().join("data");
    let (d, imgs) = (data.to_str().unwrap(), images.to_str().unwrap());
    let create = [
        "index",
        "create",
        "crash",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
    ];
    let run = lookalike(&[&create[..], &["--data-dir", d]].concat());
    assert!(run.status.success(), "{}", text(&run).1);

    let mut rng = StdRng::seed_from_u64(42);
    let mut acked: HashMap<String, u64> = HashMap::new(); // path → id
    let mut kills = 0;
    for round in 0..12 {
        let mut child = Command::new(lookalike_bin())
            .args([
                "index",
                "add",
                "crash",
                imgs,
                "--data-dir",
                d,
                "--batch",
                "4",
                "-v",
                "-q",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(rng.random_range(100..1200));
        let start = Instant::now();
        let mut finished = false;
        while start.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if !finished {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        for line in out.lines() {
            // `added ID PATH` (the closing summary, "added N images to ...", is not one).
            let Some((id, path)) = line.strip_prefix("added ").and_then(|r| r.split_once(' '))
            else {
                continue;
            };
            if path.starts_with('/') {
                let before = acked.insert(path.to_string(), id.parse().unwrap());
                assert!(before.is_none(), "{path} acknowledged twice");
            }
        }

        // Reopen: nothing corrupt, every acknowledged image there.
        let info = json(&["index", "info", "crash", "--data-dir", d, "--json"]);
        let points = info["store"]["points"].as_u64().unwrap();
        assert!(
            points >= acked.len() as u64,
            "round {round}: {points} stored, {} acknowledged",
            acked.len()
        );
        assert!(points <= total);
        eprintln!(
            "round {round}: {} after {delay:?}: {} acknowledged, {points} stored",
            if finished { "finished" } else { "killed" },
            acked.len()
        );
        let query = acked
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| format!("{imgs}/disc/000.png"));
        let hits = search_everything("crash", &query, d);
        check_found(&hits, points, &acked, round);
        if let Some(top) = hits["hits"].as_array().unwrap().first() {
            if acked.contains_key(&query) {
                assert_eq!(top["path"], query.as_str(), "an image finds itself first");
            }
        }
    }
    assert!(
        kills >= 5,
        "only {kills} adds were killed: the test did not test much"
    );

    // Running the add to the end completes the rest, without duplicates.
    let report = json(&["index", "add", "crash", imgs, "--data-dir", d, "--json"]);
    assert_eq!(report["found"], total);
    let info = json(&["index", "info", "crash", "--data-dir", d, "--json"]);
    assert_eq!(info["store"]["points"], total);
    let hits = json(&[
        "search",
        "crash",
        &format!("{imgs}/ring/001.png"),
        "--data-dir",
        d,
        "--json",
        "-k",
        "1000",
    ]);
    let paths: std::collections::HashSet<&str> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len() as u64, total);
    for path in acked.keys() {
        assert!(paths.contains(path.as_str()));
    }
}

/// Runs `lookalike ARGS` with a seal threshold of 10 points and SIGKILLs it after `delay`,
/// unless it finished first; returns its stdout and whether it was killed.
fn run_and_kill(args: &[&str], delay: Duration) -> (String, bool) {
    let mut child = Command::new(lookalike_bin())
        .args(args)
        .env("LOOKALIKE_SEAL_AT", "10")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut killed = false;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() >= delay {
            child.kill().unwrap(); // SIGKILL
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (out, killed)
}

/// The same, with the mutable graph sealed every 10 points (so kills land in seals: segment
/// file, manifest, dump) and `index rebuild` (a merge of every segment) killed too; images are
/// deleted between rounds, and a deleted id must never come back.
#[test]
fn sigkilled_seals_and_merges_lose_nothing_and_resurrect_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 6, 30, 7);
    let data = dir.path().join("data");
    let (d, imgs) = (data.to_str().unwrap(), images.to_str().unwrap());
    let create = [
        "index",
        "create",
        "seal",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        d,
    ];
    let run = lookalike(&create);
    assert!(run.status.success(), "{}", text(&run).1);

    let mut rng = StdRng::seed_from_u64(7);
    let mut acked: HashMap<String, u64> = HashMap::new(); // path → id
    let mut removed: std::collections::HashSet<u64> = Default::default();
    let (mut add_kills, mut rebuild_kills) = (0, 0);
    let add = [
        "index",
        "add",
        "seal",
        imgs,
        "--data-dir",
        d,
        "--batch",
        "4",
        "-v",
        "-q",
    ];
    for round in 0..10 {
        let delay = Duration::from_millis(rng.random_range(150..1500));
        let (out, killed) = run_and_kill(&add, delay);
        add_kills += killed as u32;
        for line in out.lines() {
            let Some((id, path)) = line.strip_prefix("added ").and_then(|r| r.split_once(' '))
            else {
                continue;
            };
            if path.starts_with('/') {
                let id: u64 = id.parse().unwrap();
                if let Some(old) = acked.insert(path.to_string(), id) {
                    assert!(removed.contains(&old), "{path} acknowledged twice");
                }
            }
        }
        // Delete one acknowledged image (acknowledged deletes are durable too).
        if let Some((path, id)) = acked.iter().nth(round % 3).map(|(p, i)| (p.clone(), *i)) {
            let run = lookalike(&["index", "rm", "seal", &id.to_string(), "--data-dir", d]);
            assert!(run.status.success(), "{}", text(&run).1);
            removed.insert(id);
            acked.remove(&path);
        }
        if round % 2 == 1 {
            let delay = Duration::from_millis(rng.random_range(50..900));
            let (_, killed) = run_and_kill(&["index", "rebuild", "seal", "--data-dir", d], delay);
            rebuild_kills += killed as u32;
        }

        let info = json(&["index", "info", "seal", "--data-dir", d, "--json"]);
        let points = info["store"]["points"].as_u64().unwrap();
        assert!(
            points >= acked.len() as u64,
            "round {round}: {points} stored"
        );
        let hits = search_everything("seal", &format!("{imgs}/disc/000.png"), d);
        let found = check_found(&hits, points, &acked, round);
        for id in found.values() {
            assert!(
                !removed.contains(id),
                "round {round}: deleted id {id} came back"
            );
        }
        eprintln!(
            "round {round}: add {} after {delay:?}, {} acknowledged, {points} stored",
            if killed { "killed" } else { "finished" },
            acked.len()
        );
    }
    assert!(add_kills >= 4, "only {add_kills} adds were killed");
    eprintln!("{add_kills} adds and {rebuild_kills} rebuilds killed");

    // Finishing the add and the rebuild leaves every image once, and no deleted id.
    let report = json(&["index", "add", "seal", imgs, "--data-dir", d, "--json"]);
    assert_eq!(report["found"], 180);
    let run = lookalike(&["index", "rebuild", "seal", "--data-dir", d]);
    assert!(run.status.success(), "{}", text(&run).1);
    let info = json(&["index", "info", "seal", "--data-dir", d, "--json"]);
    assert_eq!(info["store"]["points"], 180);
    let hits = json(&[
        "search",
        "seal",
        &format!("{imgs}/ring/001.png"),
        "--data-dir",
        d,
        "--json",
        "-k",
        "1000",
    ]);
    let hits = hits["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 180);
    assert!(hits
        .iter()
        .all(|h| !removed.contains(&h["id"].as_u64().unwrap())));
}
