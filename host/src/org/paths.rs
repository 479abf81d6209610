//! Paths in `org.json`: relative to the org folder and kept inside it, whatever
//! `..` or symbolic links a folder's writer tries.

use std::path::{Component, Path, PathBuf};

/// A path in `org.json` that would reach outside the org folder.
#[derive(Debug, thiserror::Error)]
pub enum OrgPathError {
    /// An absolute path (or, on Windows, one with a drive or root).
    #[error(
        "`{field}` is `{path}`, an absolute path; paths in org.json are relative to the org folder"
    )]
    Absolute {
        /// The field of `org.json`, e.g. `policy`.
        field: &'static str,
        /// The path as written.
        path: String,
    },
    /// A path with a `..` component.
    #[error("`{field}` is `{path}`, which climbs out with `..`; paths in org.json stay inside the org folder")]
    Climbs {
        /// The field of `org.json`.
        field: &'static str,
        /// The path as written.
        path: String,
    },
    /// An empty path.
    #[error("`{field}` is empty")]
    Empty {
        /// The field of `org.json`.
        field: &'static str,
    },
    /// A path that leads out of the folder through a symbolic link.
    #[error("`{field}` is `{path}`, which leads to {target}, outside the org folder {dir} (through a symbolic link)")]
    LinksOut {
        /// The field of `org.json`.
        field: &'static str,
        /// The path as written.
        path: String,
        /// Where it leads.
        target: String,
        /// The org folder.
        dir: String,
    },
    /// The folder or the path cannot be resolved.
    #[error("`{field}`: cannot resolve {path}")]
    Resolve {
        /// The field of `org.json`.
        field: &'static str,
        /// The path that could not be resolved.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `relative` (the value of `field` in `org.json`) as a path inside `dir`. A path
/// that does not exist yet is checked by its words alone; one that exists is
/// resolved, symbolic links and all, and must still be inside `dir`.
pub fn resolve_inside(
    dir: &Path,
    field: &'static str,
    relative: &str,
) -> Result<PathBuf, OrgPathError> {
    let path = Path::new(relative);
    if relative.trim().is_empty() {
        return Err(OrgPathError::Empty { field });
    }
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(OrgPathError::Climbs {
                    field,
                    path: relative.to_owned(),
                })
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(OrgPathError::Absolute {
                    field,
                    path: relative.to_owned(),
                })
            }
        }
    }
    let joined = dir.join(path);
    if std::fs::symlink_metadata(&joined).is_err() {
        return Ok(joined);
    }
    let resolve = |p: &Path| {
        p.canonicalize().map_err(|source| OrgPathError::Resolve {
            field,
            path: p.display().to_string(),
            source,
        })
    };
    let (root, target) = (resolve(dir)?, resolve(&joined)?);
    if !target.starts_with(&root) {
        return Err(OrgPathError::LinksOut {
            field,
            path: relative.to_owned(),
            target: target.display().to_string(),
            dir: root.display().to_string(),
        });
    }
    Ok(target)
}
