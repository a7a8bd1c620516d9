//! Intake: which files are submissions (by content, not only by extension), their content
//! hash and submission id, and why anything else is skipped.
