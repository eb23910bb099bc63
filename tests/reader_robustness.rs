//! Never a panic: the scene-log reader, `validate`, `inspect` and the `.npy`/`.npz` parser must
//! turn any input into `Ok` or `Err`.
//!
//! - Every file under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` (crash inputs
//!   found by `cargo fuzz`, see `fuzz/README.md`) is replayed through the fuzz target's own code
//!   (`fuzz/harness.rs`, shared with the fuzz targets).
//! - A deterministic mutation sweep over a small valid log (2 cameras x 3 PNG frames, objects,
//!   map): truncations of every table file, which validation must reject, and seeded random byte
//!   mutations, which must not panic.
//!
//! A panicking input is written to `$CARGO_TARGET_TMPDIR/reader_robustness/` so it can be moved
//! into `fuzz/regressions/<target>/` once the bug is fixed.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

use harness::{base_tables, catch_panic, check_log, table_input, TABLES};
use worldrig_scenelog::inspect::inspect;
use worldrig_scenelog::validate::{validate, ValidateOptions};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Saves a failing input for later triage and returns where it went.
fn save_failure(target: &str, name: &str, data: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reader_robustness").join(target);
    std::fs::create_dir_all(&dir).expect("creating the failure directory");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("saving a failing input");
    path
}

fn report(failures: &[String], what: &str) {
    assert!(failures.is_empty(), "{} {what} failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Regular files of `fuzz/<kind>/<target>/`, as (target, path), skipping dotfiles.
fn inputs(kind: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(targets) = std::fs::read_dir(fuzz_dir().join(kind)) else { return out };
    for t in targets.flatten().filter(|e| e.path().is_dir()) {
        let target = t.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(t.path()).expect("listing a corpus directory").flatten() {
            let hidden = f.file_name().to_string_lossy().starts_with('.');
            if f.path().is_file() && !hidden {
                out.push((target.clone(), f.path()));
            }
        }
    }
    out.sort();
    out
}

fn replay(kind: &str) -> usize {
    let mut failures = Vec::new();
    let list = inputs(kind);
    for (target, path) in &list {
        let data = std::fs::read(path).expect("reading a corpus file");
        match catch_panic(|| harness::run_target(target, &data)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{}: {e}", path.display())),
            Err(panic) => failures.push(format!("{} ({} bytes): {panic}", path.display(), data.len())),
        }
    }
    report(&failures, &format!("of {} fuzz/{kind} inputs", list.len()));
    list.len()
}

#[test]
fn crash_regressions_do_not_panic() {
    replay("regressions");
}

#[test]
fn seed_corpus_does_not_panic() {
    let n = replay("corpus");
    assert!(n > 0, "no corpus files under {}", fuzz_dir().join("corpus").display());
}

/// The hand-made seeds (`fuzz/corpus/<target>/seed-*`) are valid inputs, so the fuzzer starts
/// from files that reach deep into the readers.
#[test]
fn seeds_are_valid_inputs() {
    let mut seen = 0;
    for (target, path) in inputs("corpus") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("seed-") {
            continue;
        }
        seen += 1;
        let data = std::fs::read(&path).unwrap();
        match target.as_str() {
            "scenelog_table" => {
                let out = harness::scenelog_table(&data).expect("non-empty seed");
                let report = out.validate.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(report.valid, "{name}: {:#?}", report.problems);
                out.inspect.unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            "npy" if name.ends_with(".npz") => {
                let npz = worldrig_scenelog::npy::read_npz_bytes(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!npz.is_empty(), "{name}: no arrays");
            }
            "npy" => {
                worldrig_scenelog::npy::parse_npy(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            other => panic!("unknown fuzz target `{other}`"),
        }
    }
    assert!(seen >= 12, "only {seen} seed files");
}

#[test]
fn base_log_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    harness::write_log(dir.path(), usize::MAX, &[]).unwrap();
    let out = check_log(dir.path());
    let report = out.validate.expect("validate");
    assert!(report.valid, "{:#?}", report.problems);
    assert_eq!(report.frames, 2 * harness::FRAMES_PER_CAMERA as u64);
    let summary = out.inspect.expect("inspect");
    assert_eq!(summary.clips.len(), 1);
    assert_eq!(summary.clips[0].frames_per_camera.values().sum::<u64>(), 2 * harness::FRAMES_PER_CAMERA as u64);
    assert_eq!(summary.clips[0].object_tracks, 2);
    assert_eq!(summary.clips[0].map_elements.values().sum::<usize>(), 3);
}

/// xorshift64*: a fixed, dependency-free pseudo-random sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const MUTATIONS_PER_TABLE: usize = 400;

/// One seeded mutation of `base`: bit flips, random bytes, runs of "interesting" bytes (length
/// and offset fields), copies of a range elsewhere, inserted or deleted ranges. Half of them hit
/// the Thrift footer region at the end of the file.
fn mutate(base: &[u8], rng: &mut Rng) -> (String, Vec<u8>) {
    let mut v = base.to_vec();
    let len = v.len();
    let footer = len.saturating_sub(len.min(512).max(len / 4));
    let pos = |rng: &mut Rng| if rng.next() & 1 == 0 { footer + rng.below(len - footer) } else { rng.below(len) };
    let at = pos(rng);
    let kind = rng.below(7);
    let desc = match kind {
        0 => {
            let bit = rng.below(8);
            v[at] ^= 1 << bit;
            format!("flip bit {bit} of byte {at}")
        }
        1 => {
            let b = rng.next() as u8;
            v[at] = b;
            format!("byte {at} = {b:#04x}")
        }
        2 => {
            let n = 1 + rng.below(8).min(len - at - 1);
            for b in &mut v[at..at + n] {
                *b = rng.next() as u8;
            }
            format!("{n} random bytes at {at}")
        }
        3 => {
            let fill = [0x00u8, 0xff, 0x7f, 0x80, 0x01][rng.below(5)];
            let n = [1usize, 2, 4, 8][rng.below(4)].min(len - at);
            v[at..at + n].fill(fill);
            format!("{n} bytes of {fill:#04x} at {at}")
        }
        4 => {
            let from = rng.below(len);
            let n = (1 + rng.below(16)).min(len - from).min(len - at);
            v.copy_within(from..from + n, at);
            format!("{n} bytes copied from {from} to {at}")
        }
        5 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            v.splice(at..at, bytes);
            format!("{n} random bytes inserted at {at}")
        }
        _ => {
            let n = (1 + rng.below(8)).min(len - at);
            v.drain(at..at + n);
            format!("{n} bytes deleted at {at}")
        }
    };
    (desc, v)
}

/// Truncation lengths: a coarse sweep over the file plus each of the last 64 lengths.
fn truncation_lengths(len: usize) -> Vec<usize> {
    let step = (len / 97).max(1);
    let mut lens: Vec<usize> = (0..len).step_by(step).chain(len.saturating_sub(64)..len).collect();
    lens.sort_unstable();
    lens.dedup();
    lens
}

/// Problems found with one table of the base log: panics, and truncations accepted as valid.
#[derive(Default)]
struct Findings {
    cases: usize,
    panics: Vec<String>,
    accepted: Vec<String>,
}

/// Truncates and mutates table `t` of the base log, checking each variant.
fn sweep_table(t: usize) -> Findings {
    let name = TABLES[t];
    let base = &base_tables()[t];
    let mut found = Findings::default();
    let dir = tempfile::tempdir().unwrap();
    harness::write_log(dir.path(), t, base).unwrap();
    let file = dir.path().join(format!("{name}.parquet"));
    let run = |found: &mut Findings, label: String, bytes: &[u8], inspect_too: bool| {
        found.cases += 1;
        std::fs::write(&file, bytes).unwrap();
        let result = catch_panic(|| {
            let opts = ValidateOptions { max_issues: 100, decode_images: true };
            let report = validate(dir.path(), &opts);
            let inspected = inspect_too.then(|| inspect(dir.path()));
            (report, inspected)
        });
        match result {
            Ok(out) => Some(out),
            Err(panic) => {
                let saved = save_failure("scenelog_table", &format!("{name}-{}", label.replace(|c: char| !c.is_ascii_alphanumeric(), "_")), &table_input(t, bytes));
                found.panics.push(format!("{name}.parquet, {label}: {panic}\n  input saved to {}", saved.display()));
                None
            }
        }
    };
    for cut in truncation_lengths(base.len()) {
        let label = format!("truncated to {cut} of {} bytes", base.len());
        if let Some((report, inspected)) = run(&mut found, label.clone(), &base[..cut], true) {
            if report.as_ref().is_ok_and(|r| r.valid) {
                found.accepted.push(format!("{name}.parquet {label}: validate reported a valid log"));
            }
            if inspected.is_some_and(|r| r.is_ok()) {
                found.accepted.push(format!("{name}.parquet {label}: inspect read it without error"));
            }
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1) << 32);
    for i in 0..MUTATIONS_PER_TABLE {
        let (desc, bytes) = mutate(base, &mut rng);
        // validate on every mutation; inspect (strict reading, frames without images) on every other.
        run(&mut found, format!("mutation {i} ({desc})"), &bytes, i % 2 == 0);
    }
    found
}

#[test]
fn truncated_and_mutated_tables_never_panic() {
    let started = std::time::Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(TABLES.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, Findings)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let t = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if t >= TABLES.len() {
                            return out;
                        }
                        out.push((t, sweep_table(t)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("sweep worker")).collect()
    });
    results.sort_by_key(|(t, _)| *t);
    let cases: usize = results.iter().map(|(_, f)| f.cases).sum();
    eprintln!("{cases} truncated/mutated logs checked in {:.1?} ({workers} threads)", started.elapsed());
    let panics: Vec<String> = results.iter().flat_map(|(_, f)| f.panics.clone()).collect();
    let accepted: Vec<String> = results.iter().flat_map(|(_, f)| f.accepted.clone()).collect();
    report(&panics, "truncated/mutated table files (panics)");
    report(&accepted, "truncated table files (not rejected)");
}

/// Rewrites `fuzz/corpus/scenelog_table/*.seed` (one valid file per table, selector byte first).
/// Run by hand: `cargo test --release --test reader_robustness -- --ignored write_seed_corpus`.
#[test]
#[ignore]
fn write_seed_corpus() {
    let dir = fuzz_dir().join("corpus/scenelog_table");
    std::fs::create_dir_all(&dir).unwrap();
    for (t, name) in TABLES.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{name}")), table_input(t, &base_tables()[t])).unwrap();
    }
}
