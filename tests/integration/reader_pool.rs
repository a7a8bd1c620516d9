//! The pool of reader workers (`read::isolate::pool`): a hostile file costs that file and
//! its worker only, a hung worker costs its file's own time limit and nobody else's,
//! workers are recycled, and none outlives the process that started it, even a `kill -9`.

use super::support::run::{problem_rows, process_json};
use super::support::test::rolecall as binary;
use rolecall::document::Format;
use rolecall::read::isolate::pool::{Pool, Settings};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rolecall"))
}

fn form(name: &str) -> PathBuf {
    repo().join("samples/forms").join(name)
}

/// The reader workers of process `pid`, found by their working folder (the scratch folder
/// `rolecall-reader-PID-N`, removed once a worker is ready, so shown as deleted).
fn workers_of(pid: u32) -> Vec<u32> {
    let mark = format!("rolecall-reader-{pid}-");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/cwd"))
                .is_ok_and(|cwd| cwd.to_string_lossy().contains(&mark))
        })
        .collect()
}

/// Waits (at most `limit`) until process `pid` has no reader worker left.
fn wait_for_no_workers(pid: u32, limit: Duration) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let left = workers_of(pid);
        if left.is_empty() || started.elapsed() > limit {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_file_that_kills_its_worker_costs_that_file_only_and_the_next_files_are_read() {
    // calamine asks for about 3 GB for this ods: the worker dies at its 1024 MiB limit.
    let hostile = repo().join("tests/fixtures/read/hostile_dense_grid.ods");
    let run = process_json(&[], &[hostile, form("clean.pdf"), form("mistakes.pdf")]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let s = run.submission("hostile_dense_grid.ods");
    assert_eq!(s["status"], "unreadable", "{s:#}");
    let rows = problem_rows(&run.output(&s["workbook"]));
    assert!(
        rows.iter()
            .any(|p| p.rule == "file-too-large" && p.message.contains("memory limit")),
        "{rows:#?}"
    );
    // The next file went to a fresh worker and was read whole: the clean form's three
    // roles (see samples/forms/make_forms.py).
    let clean = run.submission("clean.pdf");
    assert_eq!(clean["status"], "accepted", "{clean:#}");
    assert_eq!(clean["accepted"], 3, "{clean:#}");
    // And the one after it: the mistakes form is read (its lines are judged, not lost).
    let mistakes = run.submission("mistakes.pdf");
    assert_ne!(mistakes["status"], "unreadable", "{mistakes:#}");
    assert!(mistakes["rejected"].as_u64().unwrap() > 0, "{mistakes:#}");
}

/// A stand-in `rolecall` whose first worker hangs before saying a word and whose others
/// are the real binary: `mkdir` is atomic, so exactly one start takes the hanging branch.
fn first_worker_hangs(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("rolecall-first-hangs");
    let flag = dir.join("first");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif /bin/mkdir '{}' 2>/dev/null; then exec /bin/sleep 60; fi\nexec '{}' \"$@\"\n",
            flag.display(),
            exe().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Reads with `pool`, starting over while the script just written is "busy" (ETXTBSY,
/// while another test thread forks).
fn read_form_retrying(pool: &Pool, path: &Path) -> Result<rolecall::read::form::Form, String> {
    for _ in 0..20 {
        match pool.read_form(path) {
            Err(f) if f.message.contains("could not start") => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(f) => return Err(format!("{:?}: {}", f.kind, f.message)),
            Ok(form) => return Ok(form),
        }
    }
    Err("the worker never started".to_string())
}

#[test]
fn a_hung_worker_costs_its_own_file_its_time_limit_and_delays_no_other_file() {
    let dir = tempfile::tempdir().unwrap();
    let limit = Duration::from_secs(3);
    let mut settings = Settings::new(&first_worker_hangs(dir.path()), 1024, limit);
    settings.workers = 2;
    let pool = Pool::new(settings);
    let clean = form("clean.pdf");
    let started = Instant::now();
    let (a, b) = std::thread::scope(|s| {
        let read = || {
            let result = read_form_retrying(&pool, &clean);
            (result, started.elapsed())
        };
        let a = s.spawn(read);
        let b = s.spawn(read);
        (a.join().unwrap(), b.join().unwrap())
    });
    let (mut done, mut hung): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(|r| r.0.is_ok());
    assert_eq!((done.len(), hung.len()), (1, 1), "{done:?} {hung:?}");
    let (done, hung) = (done.remove(0), hung.remove(0));
    let fields = done.0.unwrap().fields.len();
    // samples/forms/make_forms.py writes 163 fields (docs/benchmarks.md).
    assert_eq!(fields, 163);
    assert!(done.1 < limit, "the good file waited {:?}", done.1);
    let err = hung.0.unwrap_err();
    assert!(
        err.starts_with("TooLarge") && err.contains("within 3 seconds"),
        "{err}"
    );
    assert!(hung.1 >= limit, "killed early: {:?}", hung.1);
    assert!(
        hung.1 < limit + Duration::from_secs(2),
        "killed late: {:?}",
        hung.1
    );
    // The hung worker was killed and its slot freed: two files at once are read again,
    // by the worker that answered and a fresh one in the hung one's place.
    let again = std::thread::scope(|s| {
        let a = s.spawn(|| read_form_retrying(&pool, &clean));
        let b = s.spawn(|| read_form_retrying(&pool, &clean));
        [a.join().unwrap(), b.join().unwrap()]
    });
    assert!(again.iter().all(Result::is_ok), "{again:?}");
    assert!(pool.workers_started() <= 3, "{}", pool.workers_started());
}

#[test]
fn a_worker_is_recycled_after_its_files_and_after_its_bytes() {
    let mut settings = Settings::new(&exe(), 1024, Duration::from_secs(60));
    settings.workers = 1;
    settings.files_per_worker = 2;
    let pool = Pool::new(settings.clone());
    let mut pids = Vec::new();
    for _ in 0..5 {
        let form = pool
            .read_form(&form("clean.pdf"))
            .expect("the clean form reads");
        assert_eq!(form.fields.len(), 163);
        pids.extend(pool.idle_pids());
    }
    // Files 1-2, 3-4 and 5 each had a worker of their own, idle after files 1, 3 and 5; a
    // worn one (after files 2 and 4) is gone, not idle.
    assert_eq!(pool.workers_started(), 3);
    pids.dedup();
    assert_eq!(pids.len(), 3, "{pids:?}");
    for pid in &pids[..2] {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} was reaped"
        );
    }

    // The byte limit: a form is about 40 KB; 1 byte means one file per worker.
    settings.files_per_worker = 1_000;
    settings.bytes_per_worker = 1;
    let pool = Pool::new(settings);
    for _ in 0..3 {
        pool.read_raw(
            &repo().join("tests/fixtures/read/template_layout.xlsx"),
            Format::Xlsx,
        )
        .expect("the worksheet reads");
    }
    assert_eq!(pool.workers_started(), 3);
    assert!(pool.idle_pids().is_empty());
}

#[test]
fn no_worker_outlives_process_nor_a_watcher_killed_with_sigkill() {
    // `process`: the workers end with the run.
    let dir = tempfile::tempdir().unwrap();
    let child = binary(dir.path())
        .args(["process", "--out", "out"])
        .arg(form("clean.pdf"))
        .arg(form("mistakes.pdf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "mistakes.pdf has mistakes");
    assert_eq!(
        wait_for_no_workers(pid, Duration::from_secs(5)),
        Vec::<u32>::new()
    );

    // A watcher that is killed outright: its workers see their input end, and exit.
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    std::fs::write(
        dir.path().join("rolecall.toml"),
        "[watch]\nsettle_ms = 50\n",
    )
    .unwrap();
    let mut watcher = binary(dir.path())
        .args(["--config", "rolecall.toml", "watch", "--data", "data"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tmp = data.join("inbox/.clean.pdf.tmp");
    std::fs::copy(form("clean.pdf"), &tmp).unwrap();
    std::fs::rename(&tmp, data.join("inbox/clean.pdf")).unwrap();
    let started = Instant::now();
    while workers_of(watcher.id()).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the watcher never started a reader worker"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = watcher.id();
    // Each worker leads a process group of its own: a Ctrl-C for the watcher (which then
    // finishes its step) never reaches a worker in the middle of a file.
    for worker in workers_of(pid) {
        let stat = std::fs::read_to_string(format!("/proc/{worker}/stat")).unwrap_or_default();
        // After the command name in parentheses: state, ppid, pgrp.
        let pgrp = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split(' ').nth(2));
        if let Some(Some(pgrp)) = pgrp {
            assert_eq!(pgrp, worker.to_string(), "worker {worker}: {stat}");
        }
    }
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    assert_eq!(
        wait_for_no_workers(pid, Duration::from_secs(5)),
        Vec::<u32>::new()
    );
}
