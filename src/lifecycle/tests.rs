//! The lifecycle against a real SQLite database, with change sets written by hand.

use super::*;
use crate::changeset::{RoleRef, SCHEMA, SubmissionInfo};
use crate::validate::Scope;

fn add(id: &str, code: u32, name: &str, needs_approval: bool, line: &str) -> Operation {
    Operation::AddRole {
        institution: "01FALSC_GCSU".into(),
        primary_id: id.into(),
        role: RoleRef {
            code,
            name: name.into(),
        },
        scope: Scope::Institution("01FALSC_GCSU".into()),
        parameters: vec![],
        expiry: None,
        needs_approval,
        separation_of_duties: None,
        profile: None,
        lines: vec![line.into()],
    }
}

fn cs(id: &str, operations: Vec<Operation>) -> ChangeSet {
    ChangeSet {
        schema: SCHEMA.into(),
        submission: SubmissionInfo {
            id: id.into(),
            source: "w.xlsx".into(),
            sha256: "00".into(),
            processed_at: "2026-11-24T10:00:00Z".into(),
            requester_name: Some("Pat Lee".into()),
            requester_email: Some("pat@gcsu.edu".into()),
        },
        catalog_version: "x".into(),
        state_version: None,
        state: None,
        operations,
    }
}

fn life() -> (tempfile::TempDir, Lifecycle) {
    let dir = tempfile::tempdir().unwrap();
    let l = Lifecycle::open(dir.path()).unwrap();
    (dir, l)
}

fn catalog() -> Catalog {
    crate::catalog::load::bundled()
}

const T0: &str = "2026-11-24T10:00:00Z";

/// Circulation Desk Operator (32) for `id`, from `line`: needs no approval.
fn desk_op(id: &str, line: &str) -> Operation {
    add(id, 32, "Circulation Desk Operator", false, line)
}

/// General System Administrator (26) for `id`, from `line`: privileged, two approvers.
fn admin_op(id: &str, line: &str) -> Operation {
    add(id, 26, "General System Administrator", true, line)
}

fn states(l: &Lifecycle, id: &str) -> Vec<OpState> {
    l.ops(id).unwrap().iter().map(|o| o.state).collect()
}

#[test]
fn a_privileged_op_waits_for_approval_and_the_others_for_the_push() {
    let (_d, mut l) = life();
    let c = cs(
        "S1",
        vec![desk_op("u1", "Accounts!9"), admin_op("u1", "Accounts!10")],
    );
    l.record("S1", &c, &catalog(), T0).unwrap();
    assert_eq!(
        states(&l, "S1"),
        [OpState::WaitingPush, OpState::WaitingApproval]
    );
    let pushable = l.pushable("S1", &c).unwrap();
    assert_eq!(pushable.operations, vec![c.operations[0].clone()]);
    assert!(!l.decided("S1").unwrap());
}

#[test]
fn recording_the_same_change_set_again_changes_nothing() {
    let (_d, mut l) = life();
    let c = cs("S1", vec![desk_op("u1", "Accounts!9")]);
    l.record("S1", &c, &catalog(), T0).unwrap();
    l.record("S1", &c, &catalog(), "2026-11-25T10:00:00Z")
        .unwrap();
    let ops = l.ops("S1").unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].generation, 0);
    assert_eq!(ops[0].updated_at, T0);
    assert_eq!(l.transitions("S1").unwrap().len(), 1, "one row: recorded");
}

#[test]
fn a_later_submission_for_the_same_person_supersedes_what_still_waits() {
    let (_d, mut l) = life();
    let first = cs(
        "S1",
        vec![desk_op("U1", "Accounts!9"), admin_op("U1", "Accounts!10")],
    );
    l.record("S1", &first, &catalog(), T0).unwrap();
    l.transition("S1", 0, OpState::Pushed, SYSTEM, None, T0)
        .unwrap();
    let second = cs(
        "S2",
        vec![add("u1", 51, "Requests Operator", false, "Accounts!9")],
    );
    l.record("S2", &second, &catalog(), T0).unwrap();
    assert_eq!(states(&l, "S1"), [OpState::Pushed, OpState::Superseded]);
    assert_eq!(states(&l, "S2"), [OpState::WaitingPush]);
    assert!(l.decided("S1").unwrap());
    let log = l.transitions("S1").unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.note.as_deref(), Some("superseded by submission S2"));
}

#[test]
fn a_reprocess_with_a_new_change_set_supersedes_its_own_waiting_ops() {
    let (_d, mut l) = life();
    let first = cs("S1", vec![admin_op("u1", "Accounts!9")]);
    l.record("S1", &first, &catalog(), T0).unwrap();
    let again = cs("S1", vec![desk_op("u1", "Accounts!9")]);
    l.record("S1", &again, &catalog(), T0).unwrap();
    let ops = l.ops("S1").unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].generation, 1);
    assert_eq!(ops[0].state, OpState::WaitingPush);
    let old: OpState = l
        .conn()
        .query_row(
            "SELECT state FROM lifecycle_op WHERE submission_id = 'S1' AND generation = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, OpState::Superseded);
}

#[test]
fn a_transition_repeated_changes_nothing_and_a_forbidden_one_is_refused() {
    let (_d, mut l) = life();
    let c = cs("S1", vec![admin_op("u1", "Accounts!9")]);
    l.record("S1", &c, &catalog(), T0).unwrap();
    assert!(
        l.transition("S1", 0, OpState::Denied, "Ana", Some("no"), T0)
            .unwrap()
    );
    assert!(
        !l.transition("S1", 0, OpState::Denied, "Ana", Some("no"), T0)
            .unwrap()
    );
    assert_eq!(l.transitions("S1").unwrap().len(), 2);
    let err = l
        .transition("S1", 0, OpState::Pushed, SYSTEM, None, T0)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("it is denied, so it cannot become pushed"),
        "{err}"
    );
    assert!(l.pushable("S1", &c).unwrap().operations.is_empty());
}

#[test]
fn a_change_set_other_than_the_recorded_one_is_refused_by_pushable() {
    let (_d, mut l) = life();
    let c = cs("S1", vec![desk_op("u1", "Accounts!9")]);
    l.record("S1", &c, &catalog(), T0).unwrap();
    let other = cs(
        "S1",
        vec![add("u1", 51, "Requests Operator", false, "Accounts!9")],
    );
    let err = l.pushable("S1", &other).unwrap_err();
    assert!(
        matches!(err, LifecycleError::Mismatch { index: 0, .. }),
        "{err}"
    );
}

#[test]
fn an_unknown_state_word_is_an_error_never_a_default() {
    assert!(OpState::parse("waiting").is_err());
    for s in ALL_STATES {
        assert_eq!(OpState::parse(s.as_str()).unwrap(), s);
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}

fn account(
    id: &str,
    outcome: crate::alma::push::Outcome,
    why: &str,
) -> crate::alma::push::AccountReport {
    crate::alma::push::AccountReport {
        institution: "01FALSC_GCSU".into(),
        primary_id: id.into(),
        outcome,
        changes: vec![],
        reasons: if why.is_empty() {
            vec![]
        } else {
            vec![why.into()]
        },
        alma_errors: vec![],
    }
}

#[test]
fn a_push_marks_its_accounts_ops_pushed_failed_or_refused_for_drift_and_pending_stays() {
    use crate::alma::push::{Outcome, PushReport};
    let (_d, mut l) = life();
    let c = cs(
        "S1",
        vec![
            desk_op("a", "Accounts!9"),
            desk_op("b", "Accounts!10"),
            desk_op("c", "Accounts!11"),
            desk_op("d", "Accounts!12"),
        ],
    );
    l.record("S1", &c, &catalog(), T0).unwrap();
    let report = PushReport {
        submission_id: "S1".into(),
        dry_run: false,
        accounts: vec![
            account("A", Outcome::Changed, ""),
            account("b", Outcome::Failed, "401664 Mandatory field is missing"),
            account(
                "c",
                Outcome::Refused,
                "in Alma, not in the state: Selector (46)",
            ),
            account("d", Outcome::Pending, "daily threshold"),
        ],
        not_pushed: vec![],
    };
    let sent = l.pushable("S1", &c).unwrap();
    l.record_push("S1", &sent, &report, T0).unwrap();
    let ops = l.ops("S1").unwrap();
    let got: Vec<_> = ops.iter().map(|o| (o.state, o.reason_kind)).collect();
    assert_eq!(
        got,
        [
            (OpState::Pushed, None),
            (OpState::Failed, Some(ReasonKind::Alma)),
            (OpState::Failed, Some(ReasonKind::Drift)),
            (OpState::WaitingPush, None),
        ]
    );
    assert_eq!(
        ops[1].reason.as_deref(),
        Some("401664 Mandatory field is missing")
    );
    // A failed op is tried again by the next push; a pushed one never is.
    let again = l.pushable("S1", &c).unwrap();
    assert_eq!(again.operations, c.operations[1..].to_vec());
}

#[test]
fn a_line_is_named_as_the_change_set_writes_it_by_sheet_and_row_or_by_row() {
    use super::approve::line_matches;
    assert!(line_matches("Accounts!9:9", "Accounts!9:9"));
    assert!(line_matches("Accounts!9:9", "accounts!9"));
    assert!(line_matches("Accounts!9:9", "9"));
    assert!(line_matches("Accounts!9", " 9 "));
    assert!(!line_matches("Accounts!9:9", "19"));
    assert!(!line_matches("Accounts!9:9", "Other!9"));
    assert!(!line_matches("form field role.26.add", "26"));
}

#[test]
fn an_op_superseded_while_its_push_ran_stays_superseded() {
    use crate::alma::push::{Outcome, PushReport};
    let (_d, mut l) = life();
    let c = cs("S1", vec![desk_op("u1", "Accounts!9")]);
    l.record("S1", &c, &catalog(), T0).unwrap();
    let sent = l.pushable("S1", &c).unwrap();
    let later = cs(
        "S2",
        vec![add("u1", 51, "Requests Operator", false, "Accounts!9")],
    );
    l.record("S2", &later, &catalog(), T0).unwrap();
    let report = PushReport {
        submission_id: "S1".into(),
        dry_run: false,
        accounts: vec![account("u1", Outcome::Changed, "")],
        not_pushed: vec![],
    };
    l.record_push("S1", &sent, &report, T0).unwrap();
    assert_eq!(states(&l, "S1"), [OpState::Superseded]);
}
