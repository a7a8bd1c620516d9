//! `rolecall catalog check`: every mistake in the catalog files, with file and line.
