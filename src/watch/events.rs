//! The inbox's file events (inotify through the `notify` crate), read for one thing: which
//! files are complete the moment the event arrives. A file renamed into the inbox (the drop
//! convention: `IN_MOVED_TO`) or closed by the process that wrote it (`IN_CLOSE_WRITE`) is
//! whole, and is taken at once; a file seen created or written to with no close yet may
//! still be growing, and waits until it has been quiet for `settle_ms`. Where there are no
//! events (a network share, `--once`), every file settles, as before.

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use std::path::PathBuf;

/// What one event says about the inbox.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sign {
    /// These files are complete: take them now.
    Ready(Vec<PathBuf>),
    /// These files are being written: they settle before they are read.
    Growing(Vec<PathBuf>),
    /// Nothing to act on (a file opened or read, ours included; one moved out).
    Nothing,
}

/// Reads one event.
pub(super) fn sign(event: &notify::Event) -> Sign {
    match event.kind {
        // `Both` carries [from, to]; `To` only the new name.
        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => {
            Sign::Ready(event.paths.last().cloned().into_iter().collect())
        }
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Sign::Ready(event.paths.clone()),
        EventKind::Create(_)
        | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
        | EventKind::Any => Sign::Growing(event.paths.clone()),
        _ => Sign::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange};

    fn event(kind: EventKind, paths: &[&str]) -> notify::Event {
        paths.iter().fold(notify::Event::new(kind), |e, p| {
            e.add_path(PathBuf::from(p))
        })
    }

    #[test]
    fn renamed_in_and_closed_after_writing_are_ready_the_rest_grows_or_is_nothing() {
        let to = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(
            sign(&event(to, &["inbox/a.xlsx"])),
            Sign::Ready(vec!["inbox/a.xlsx".into()])
        );
        let both = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        assert_eq!(
            sign(&event(both, &["inbox/.a.tmp", "inbox/a.xlsx"])),
            Sign::Ready(vec!["inbox/a.xlsx".into()]),
            "the new name, not the old"
        );
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert_eq!(
            sign(&event(closed, &["inbox/b.pdf"])),
            Sign::Ready(vec!["inbox/b.pdf".into()])
        );
        let written = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert_eq!(
            sign(&event(written, &["inbox/b.pdf"])),
            Sign::Growing(vec!["inbox/b.pdf".into()])
        );
        let created = EventKind::Create(CreateKind::File);
        assert!(matches!(sign(&event(created, &["x"])), Sign::Growing(_)));
        // Reading a file (the watcher's own hashing) or moving it out says nothing.
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        assert_eq!(sign(&event(read, &["inbox/b.pdf"])), Sign::Nothing);
        let from = EventKind::Modify(ModifyKind::Name(RenameMode::From));
        assert_eq!(sign(&event(from, &["inbox/b.pdf"])), Sign::Nothing);
    }
}
