//! One submission through every stage.
