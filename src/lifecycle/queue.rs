//! The help desk's work queue: what waits on a person.
