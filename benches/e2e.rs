//! `cargo bench --bench e2e`: the whole `rolecall` process on the inputs a help desk sees,
//! the rows of the table in `docs/benchmarks.md`.
//!
//! Every figure is a whole process (start-up, reading, validation, result workbook, change set,
//! reply, fsyncs), the median of 3 runs after one warm-up, with its CPU time (user + system)
//! and peak memory (maximum resident set) as GNU time reports them. Inputs are generated into
//! a temporary folder: worksheets for the bundled catalog, copies of the sample form with a
//! different primary ID each (so that the watcher sees different submissions), and an account
//! state of 50,000 Alma users. `ROLECALL_NOW` is fixed so every run does the same work.
//!
//! `cargo bench --bench e2e -- forms` (or `drop`, `10k`, `100k`, `state`) runs one row.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::{median, person_id, write_worksheet};

const NOW: &str = "2026-11-24T15:00:00Z";
const RUNS: usize = 3;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rolecall"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one whole process cost.
#[derive(Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    cpu: Duration,
    max_rss_mb: f64,
}

impl Cost {
    fn show(&self) -> String {
        let mut text = format!("{:>8.2} s wall", self.wall.as_secs_f64());
        if !self.cpu.is_zero() {
            text += &format!(
                " {:>7.2} s CPU {:>6.0} MB",
                self.cpu.as_secs_f64(),
                self.max_rss_mb
            );
        }
        text
    }
}

/// Runs `rolecall ARGS` once under GNU time (when the machine has it) and returns its cost.
fn run_once(args: &[&str]) -> Cost {
    let gnu_time = Path::new("/usr/bin/time");
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut command = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%e %U %S %M").arg("-o").arg(report.path());
        c.arg(exe());
        c
    } else {
        Command::new(exe())
    };
    let started = Instant::now();
    let status = command
        .args(args)
        .env("ROLECALL_NOW", NOW)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("rolecall runs");
    let wall = started.elapsed();
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "rolecall {args:?} failed: {status}"
    );
    let text = fs::read_to_string(report.path()).unwrap_or_default();
    // GNU time puts "Command exited with non-zero status 1" before the figures when the
    // run needs attention (exit 1): the figures are the last line.
    let fields: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    match fields[..] {
        [_, user, sys, rss_kb] => Cost {
            wall,
            cpu: Duration::from_secs_f64(user + sys),
            max_rss_mb: rss_kb / 1024.0,
        },
        _ => Cost {
            wall,
            ..Cost::default()
        },
    }
}

/// One warm-up, then the median of `RUNS` runs (by wall time). Each run writes into a fresh
/// folder of its own under `runs` (`prepare` fills it, untimed, and `args` names it), and
/// nothing is deleted until the whole benchmark is over ([`Runs::finish`]).
///
/// Why not one folder emptied before each run: the disk is ext4 without a journal, which
/// will not reuse an inode freed in the last few seconds, so every file created right after
/// deleting a previous run's thousands of files costs a scan of recently freed inodes
/// (`find_inode_bit` → `recently_deleted`). A help desk's data folder is not emptied
/// seconds before each batch; that cost was the benchmark's, not Rolecall's.
fn measure(
    runs: &mut Runs,
    name: &str,
    mut prepare: impl FnMut(&Path),
    args: impl Fn(&Path) -> Vec<String>,
) -> Cost {
    let mut one = || {
        let dir = runs.fresh(name);
        prepare(&dir);
        let args = args(&dir);
        run_once(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    one();
    let mut costs: Vec<Cost> = (0..RUNS).map(|_| one()).collect();
    costs.sort_by_key(|c| c.wall);
    costs[costs.len() / 2]
}

/// The output folders of every run, each used once and all removed at the end.
struct Runs {
    root: PathBuf,
    made: usize,
}

impl Runs {
    /// Run folders under `tmp/runs`; what an earlier, interrupted benchmark left there is
    /// removed now, before the warm-up runs.
    fn new(tmp: &Path) -> Runs {
        let root = tmp.join("runs");
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        Runs { root, made: 0 }
    }

    /// A new, empty folder named after the row.
    fn fresh(&mut self, name: &str) -> PathBuf {
        self.made += 1;
        let dir = self.root.join(format!("{name}-{}", self.made));
        fs::create_dir(&dir).unwrap();
        dir
    }

    fn finish(self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `n` copies of the sample form, each with its own primary ID. The ID is 7 digits in the
/// sample and appears twice uncompressed (the field's `/V` and its appearance stream), so a
/// same-length replacement keeps every xref offset right.
fn write_forms(dir: &Path, n: u32) {
    let sample = fs::read(repo().join("samples/forms/clean.pdf")).unwrap();
    let old = b"0041277";
    assert_eq!(
        sample.windows(old.len()).filter(|w| w == old).count(),
        2,
        "the sample form changed: update write_forms"
    );
    fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let id = format!("{:07}", 5_000_000 + i);
        let mut bytes = sample.clone();
        let mut at = 0;
        while let Some(pos) = bytes[at..].windows(7).position(|w| w == old) {
            bytes[at + pos..at + pos + 7].copy_from_slice(id.as_bytes());
            at += pos + 7;
        }
        fs::write(dir.join(format!("form-{i:04}.pdf")), bytes).unwrap();
    }
}

/// An Alma Users API export (`{"user": [...]}`) of `n` patron-only Gulf Coast accounts, the
/// people of the generated worksheets among them, with the names and emails the worksheets
/// give them (so that the state changes only what it should: Adds become Modifys, and no
/// name or email update is found).
fn write_state_export(path: &Path, n: u32) {
    let users: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "primary_id": person_id(i),
                "first_name": "Sam",
                "last_name": "Alvarez",
                "account_type": {"value": "INTERNAL", "desc": "Internal"},
                "status": {"value": "ACTIVE", "desc": "Active"},
                "contact_info": {"email": [{"email_address": format!("s{i}@gcsu.example.edu"), "preferred": true}]},
                "user_role": [{
                    "status": {"value": "ACTIVE", "desc": "Active"},
                    "scope": {"value": "01FALSC_GCSU", "desc": "Gulf Coast State University"},
                    "role_type": {"value": "200", "desc": "Patron"},
                    "parameter": []
                }]
            })
        })
        .collect();
    let doc = serde_json::json!({ "user": users });
    fs::write(path, serde_json::to_vec(&doc).unwrap()).unwrap();
}

fn copy_all(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Arguments as owned strings, for [`measure`].
fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn forms(tmp: &Path, runs: &mut Runs) {
    let forms = tmp.join("forms");
    write_forms(&forms, 1_000);
    let cost = measure(
        runs,
        "forms-out",
        |_| {},
        |out| owned(&["process", s(&forms), "--out", s(out)]),
    );
    println!("1,000 forms, process          {}", cost.show());
    let cost = measure(
        runs,
        "forms-data",
        |data| copy_all(&forms, &data.join("inbox")),
        |data| owned(&["watch", "--data", s(data), "--once"]),
    );
    println!("1,000 forms, watch --once     {}", cost.show());
}

/// A running watcher; each form is renamed into the inbox (the drop convention) and timed
/// until its reply is in the outbox.
fn drop_latency(tmp: &Path, runs: &mut Runs) {
    let forms = tmp.join("drop-forms");
    write_forms(&forms, 21);
    let data = runs.fresh("drop-data");
    fs::create_dir_all(data.join("inbox")).unwrap();
    let mut watcher = Command::new(exe())
        .args(["watch", "--data", s(&data)])
        .env("ROLECALL_NOW", NOW)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    let replies = |data: &Path| {
        fs::read_dir(data.join("outbox"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let mut times = Vec::new();
    for i in 0..21 {
        let name = format!("form-{i:04}.pdf");
        let staged = data.join(format!(".{name}.part"));
        fs::copy(forms.join(&name), &staged).unwrap();
        let before = replies(&data);
        let started = Instant::now();
        fs::rename(&staged, data.join("inbox").join(&name)).unwrap();
        while replies(&data) == before {
            assert!(started.elapsed() < Duration::from_secs(30), "no reply");
            std::thread::sleep(Duration::from_millis(1));
        }
        if i > 0 {
            times.push(started.elapsed());
        }
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    let m = median(times);
    println!(
        "one form dropped -> reply     {:>8.0} ms (median of 20 drops)",
        m.as_secs_f64() * 1000.0
    );
}

fn worksheet(tmp: &Path, runs: &mut Runs, lines: u32, label: &str) {
    let path = tmp.join(format!("ws-{lines}.xlsx"));
    write_worksheet(&path, lines);
    let cost = measure(
        runs,
        &format!("ws-{lines}-out"),
        |_| {},
        |out| owned(&["process", s(&path), "--out", s(out)]),
    );
    println!("{label} {}", cost.show());
}

/// The sample catalog with a named-user allotment for Gulf Coast above the state's 50,000
/// accounts. With the sample's 150, the state run would refuse 9,850 of the 10,000 lines
/// (`over-allotment`) and write a note on each: another result, not the cost of a state.
fn roomy_catalog(tmp: &Path) -> PathBuf {
    let dir = tmp.join("catalog-roomy");
    copy_all(&repo().join("samples/catalog"), &dir);
    let file = dir.join("institutions.toml");
    let text = fs::read_to_string(&file).unwrap();
    let gcsu = "code = \"01FALSC_GCSU\"\nname = \"Gulf Coast State University\"\nnamed_user_allotment = 150\n";
    assert!(
        text.contains(gcsu),
        "the sample catalog changed: update roomy_catalog"
    );
    let roomy = gcsu.replace("= 150", "= 100000");
    fs::write(&file, text.replacen(gcsu, &roomy, 1)).unwrap();
    dir
}

fn state(tmp: &Path, runs: &mut Runs) {
    let path = tmp.join("ws-10000.xlsx");
    if !path.exists() {
        write_worksheet(&path, 10_000);
    }
    let export = tmp.join("users-50000.json");
    write_state_export(&export, 50_000);
    let db = tmp.join("state.db");
    let status = Command::new(exe())
        .args(["state", "import", s(&export), "--db", s(&db)])
        .env("ROLECALL_NOW", NOW)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "state import failed");
    let catalog = roomy_catalog(tmp);
    let args = |out: &Path| {
        owned(&[
            "process",
            "--catalog",
            s(&catalog),
            s(&path),
            "--out",
            s(out),
        ])
    };
    let none = measure(runs, "state-out", |_| {}, args);
    let with = measure(
        runs,
        "state-out",
        |_| {},
        |out| [args(out), owned(&["--db", s(&db)])].concat(),
    );
    println!("10,000 lines, no state        {}", none.show());
    println!(
        "10,000 lines, 50,000 accounts {}  ({:.1} x)",
        with.show(),
        with.wall.as_secs_f64() / none.wall.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument names the rows to run.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs = |row: &str| wanted.is_empty() || wanted.iter().any(|w| w == row);
    // `ROLECALL_BENCH_DIR=DIR` keeps the generated inputs and outputs there (for profiling
    // one run by hand); by default they go to a temporary folder removed at the end.
    let kept = std::env::var_os("ROLECALL_BENCH_DIR").map(PathBuf::from);
    let temporary = tempfile::tempdir().unwrap();
    let tmp = kept.as_deref().unwrap_or(temporary.path());
    let mut folders = Runs::new(tmp);
    if runs("forms") {
        forms(tmp, &mut folders);
    }
    if runs("drop") {
        drop_latency(tmp, &mut folders);
    }
    if runs("10k") {
        worksheet(tmp, &mut folders, 10_000, "10,000-line worksheet        ");
    }
    if runs("100k") {
        worksheet(tmp, &mut folders, 100_000, "100,000-line worksheet       ");
    }
    if runs("state") {
        state(tmp, &mut folders);
    }
    folders.finish();
}
