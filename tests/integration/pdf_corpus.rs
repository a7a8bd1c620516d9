//! The form reader against the real-world corpus: every `../shared/corpus/pdf-forms/*.pdf`
//! through `rolecall inspect --json` (the built binary, so the child-process reader is
//! exercised too), compared with its `<name>.expected.json` oracle on every field's name,
//! type and value, in order (signature fields: name and type only). See that folder's
//! `SOURCES.md` for the oracle's conventions.
//!
//! On a checkout without `../shared` the test says loudly that it skipped, and passes.

use crate::support::test::rolecall;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pdf-forms")
}

/// Compares one file's fields; returns the differences, one line each.
fn compare(ours: &[Value], expected: &[Value]) -> Vec<String> {
    let mut diffs = Vec::new();
    if ours.len() != expected.len() {
        diffs.push(format!(
            "{} fields, oracle has {}",
            ours.len(),
            expected.len()
        ));
    }
    for (i, (o, e)) in ours.iter().zip(expected).enumerate() {
        let signature = e["type"] == "signature";
        for key in ["name", "type", "value"] {
            if key == "value" && signature {
                continue;
            }
            if o[key] != e[key] {
                let show = |v: &Value| {
                    let s = v.to_string();
                    if s.chars().count() > 120 {
                        format!(
                            "{}... ({} chars)",
                            s.chars().take(120).collect::<String>(),
                            s.len()
                        )
                    } else {
                        s
                    }
                };
                diffs.push(format!(
                    "field #{i} ({}): {key} is {}, oracle says {}",
                    e["name"],
                    show(&o[key]),
                    show(&e[key])
                ));
            }
        }
    }
    diffs
}

#[test]
fn inspect_agrees_with_the_oracle_on_every_corpus_form() {
    let dir = corpus_dir();
    if !dir.is_dir() {
        eprintln!(
            "\n\n*** SKIPPED: the PDF form corpus {} is missing; the form reader was NOT checked \
             against real-world forms. Put the shared folder beside the checkout. ***\n\n",
            dir.display()
        );
        return;
    }
    let mut pdfs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pdf"))
        .collect();
    pdfs.sort();
    assert!(!pdfs.is_empty(), "no PDFs in {}", dir.display());

    let mut table = Vec::new();
    let mut failures = Vec::new();
    let mut total_fields = 0;
    for pdf in &pdfs {
        let name = pdf.file_name().unwrap().to_string_lossy().into_owned();
        let oracle_path = pdf.with_extension("expected.json");
        let oracle: Value = serde_json::from_slice(&std::fs::read(&oracle_path).expect("oracle"))
            .expect("oracle JSON");
        let expected = oracle["fields"].as_array().cloned().unwrap_or_default();
        let out = rolecall(&std::env::temp_dir())
            .args(["inspect", "--json"])
            .arg(pdf)
            .output()
            .expect("run rolecall inspect");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let (ours, note) = if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).expect("inspect --json prints JSON");
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["fields"], "{name}: the document has exactly one key");
            (
                v["fields"].as_array().cloned().unwrap_or_default(),
                String::new(),
            )
        } else {
            (
                Vec::new(),
                format!("exit {:?}: {}", out.status.code(), stderr.trim()),
            )
        };
        // A file the oracle reads no fields from (XFA-only) must fail with a message.
        let diffs = if expected.is_empty() {
            if out.status.code() == Some(1) && stderr.contains("XFA") {
                Vec::new()
            } else {
                vec![format!("expected the XFA-only failure, got {note}")]
            }
        } else {
            let mut d = compare(&ours, &expected);
            if !note.is_empty() {
                d.insert(0, note.clone());
            }
            d
        };
        let agreeing = if expected.is_empty() {
            0
        } else {
            expected.len()
                - diffs
                    .iter()
                    .filter(|d| d.starts_with("field #"))
                    .count()
                    .min(expected.len())
        };
        total_fields += expected.len();
        table.push(format!(
            "{:<46} {:>4}/{:<4} {}",
            name,
            if diffs.is_empty() {
                expected.len()
            } else {
                agreeing
            },
            expected.len(),
            if diffs.is_empty() {
                if expected.is_empty() {
                    "pass (XFA-only failure)".into()
                } else {
                    "pass".to_string()
                }
            } else {
                "FAIL".into()
            }
        ));
        if !diffs.is_empty() {
            failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
        }
    }
    eprintln!(
        "\nPDF form corpus: {} files, {} oracle fields\n{:<46} {:>9} result\n{}",
        pdfs.len(),
        total_fields,
        "file",
        "fields",
        table.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus files disagree with the oracle:\n{}",
        failures.len(),
        pdfs.len(),
        failures.join("\n")
    );
}

#[test]
fn the_comparison_notices_a_wrong_value_a_missing_field_and_ignores_signature_values() {
    let e: Vec<Value> = serde_json::from_str(
        r#"[{"name":"a","type":"text","value":"x"},{"name":"s","type":"signature","value":null}]"#,
    )
    .unwrap();
    let same: Vec<Value> = serde_json::from_str(
        r#"[{"name":"a","type":"text","value":"x"},{"name":"s","type":"signature","value":"?"}]"#,
    )
    .unwrap();
    assert!(compare(&same, &e).is_empty());
    let wrong: Vec<Value> =
        serde_json::from_str(r#"[{"name":"a","type":"text","value":"y"}]"#).unwrap();
    let d = compare(&wrong, &e);
    assert_eq!(d.len(), 2, "{d:?}");
}
