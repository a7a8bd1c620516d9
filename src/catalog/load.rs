//! Loading the catalog from its TOML files.

use super::Catalog;
use std::path::Path;

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file could not be read.
    #[error("cannot read catalog file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Loads and checks the catalog in `dir`.
pub fn load_catalog(dir: &Path) -> Result<Catalog, CatalogError> {
    Err(CatalogError::Io {
        path: dir.display().to_string(),
        source: std::io::Error::other("not yet"),
    })
}
