//! `lookalike bench ann` as `scripts/bench_ann.py` drives it: rounds taken in turns with a peer
//! over standard input, the fastest of each kept, and the errors of a peer that goes away.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use lookalike_e2e::{fails_with, lookalike_bin, write_npy};
use serde_json::Value;

/// `n` clustered `dim`-dimensional vectors (a fixed xorshift stream), row-major.
fn clustered(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.max(1);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let centres: Vec<f32> = (0..20 * dim).map(|_| next()).collect();
    (0..n)
        .flat_map(|i| {
            let c = (i * 7) % 20;
            (0..dim)
                .map(|j| centres[c * dim + j] + 0.2 * next())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn write_data(dir: &Path) -> (String, String) {
    let dim = 16;
    let base = dir.join("base.npy");
    let queries = dir.join("queries.npy");
    write_npy(&base, &[1200, dim as u64], &clustered(1200, dim, 7));
    write_npy(&queries, &[50, dim as u64], &clustered(50, dim, 99));
    (
        base.to_string_lossy().into_owned(),
        queries.to_string_lossy().into_owned(),
    )
}

#[test]
fn rounds_take_turns_with_the_peer_and_the_fastest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (base, queries) = write_data(dir.path());
    let mut child = Command::new(lookalike_bin())
        .args(["bench", "ann", "--base", &base, "--queries", &queries])
        .args([
            "--extra", "200", "--ef", "16", "--ef", "64", "--rounds", "2",
        ])
        .args(["--turns", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut turns = Vec::new();
    let mut report = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        match serde_json::from_str::<Value>(&line) {
            Ok(turn) if turn.get("turn").is_some() => {
                turns.push(format!(
                    "{}:{}",
                    turn["turn"].as_str().unwrap(),
                    turn["round"]
                ));
                writeln!(stdin, "go").unwrap();
            }
            _ => report.push_str(&line),
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        turns,
        [
            "unsealed:0",
            "unsealed:1",
            "sealed:0",
            "sealed:1",
            "extra:0",
            "extra:1"
        ]
    );
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["rounds"], 2);
    assert_eq!(
        (report["base"].as_u64(), report["extra"].as_u64()),
        (Some(1000), Some(200))
    );
    for phase in ["mutable_runs", "runs", "extra_runs"] {
        let runs = report[phase].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{phase}: {runs:?}");
        for run in runs {
            assert!(run["qps"].as_f64().unwrap() > 0.0, "{phase}: {run}");
        }
        // 1,200 points, ef 64: the graph finds nearly every true neighbour.
        assert!(
            runs[1]["recall"].as_f64().unwrap() >= 0.9,
            "{phase}: {runs:?}"
        );
    }
}

#[test]
fn a_peer_that_goes_away_or_bad_rounds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (base, queries) = write_data(dir.path());
    // No one answers the first turn: standard input is closed.
    let out = Command::new(lookalike_bin())
        .args([
            "bench",
            "ann",
            "--base",
            &base,
            "--queries",
            &queries,
            "--turns",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("standard input closed while waiting for a turn"),
        "{stderr}"
    );
    let args = ["bench", "ann", "--base", &base, "--queries", &queries];
    fails_with(&[&args[..], &["--rounds", "0"]].concat(), "--rounds");
}
