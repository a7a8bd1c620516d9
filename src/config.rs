//! Configuration: a TOML file (`--config`) for SMTP and paths; flags override it.
