//! Reading submissions into [`Document`](crate::document::Document)s.
