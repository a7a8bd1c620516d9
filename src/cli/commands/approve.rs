//! `rolecall approve ID [--line L ...] --by NAME [--note TEXT]` and `rolecall deny ID
//! [--line L ...] --by NAME --note TEXT`: a decision on a submission's waiting lines
//! ([`crate::lifecycle::approve`]). A refusal (not waiting, one's own request, approved
//! twice, an exception without a note) changes nothing and exits 2.

use crate::cli::args::{Chosen, DecisionArgs, DenyArgs};
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::lifecycle::approve::{Decided, Decision, Verdict};
use crate::lifecycle::{Lifecycle, OpState};
use serde::Serialize;
use std::io::Write;

/// What a decision did.
#[derive(Debug, Serialize)]
pub struct DecisionReport {
    submission_id: String,
    verdict: Verdict,
    by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    operations: Vec<Decided>,
}

/// Runs `approve`.
pub fn approve(ctx: &Context, args: DecisionArgs) -> Result<DecisionReport, CliError> {
    decide(ctx, &args.chosen, (Verdict::Approve, args.note.as_deref()))
}

/// Runs `deny`.
pub fn deny(ctx: &Context, args: DenyArgs) -> Result<DecisionReport, CliError> {
    if args.note.trim().is_empty() {
        return Err(CliError::Usage(
            "deny needs a --note: the requester is told why".into(),
        ));
    }
    decide(ctx, &args.chosen, (Verdict::Deny, Some(args.note.as_str())))
}

fn decide(
    ctx: &Context,
    chosen: &Chosen,
    (verdict, note): (Verdict, Option<&str>),
) -> Result<DecisionReport, CliError> {
    let (submission, lines, by) = (&chosen.submission, &chosen.lines, chosen.by.as_str());
    if by.trim().is_empty() {
        return Err(CliError::Usage("--by needs the name of who decides".into()));
    }
    let data = ctx.existing_data_dir()?;
    let (path, _) = crate::lifecycle::push::submission_changeset(submission, &data)?;
    let cs = super::state::read_changeset(&path)?;
    let mut life = Lifecycle::open(&data)?;
    let stamp = now()?.timestamp().to_string();
    if life.ops(submission)?.is_empty() {
        // Processed before the lifecycle existed: recorded now, as the watcher would have.
        life.record(submission, &cs, ctx.catalog()?, &stamp)?;
    }
    let requester = (
        cs.submission.requester_name.as_deref(),
        cs.submission.requester_email.as_deref(),
    );
    let d = Decision {
        verdict,
        lines,
        by,
        note,
        requester,
    };
    let operations = life.decide(submission, &d, &stamp)?;
    Ok(DecisionReport {
        submission_id: submission.to_string(),
        verdict,
        by: by.to_string(),
        note: note.map(str::to_string),
        operations,
    })
}

impl Report for DecisionReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let what = match self.verdict {
            Verdict::Approve => "approved",
            Verdict::Deny => "denied",
        };
        writeln!(out, "{}: {what} by {}", self.submission_id, self.by)?;
        for op in &self.operations {
            let state = match op.state {
                OpState::WaitingApproval => format!(
                    "{} of {} approvals: waits for another approver",
                    op.approvals, op.approvals_needed
                ),
                OpState::Approved => "approved: `rolecall push` sends it".to_string(),
                other => other.words().to_string(),
            };
            writeln!(out, "  {}: {}: {state}", op.lines.join(", "), op.operation)?;
        }
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
