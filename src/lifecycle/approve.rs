//! Approvals and denials of a submission's waiting operations.
