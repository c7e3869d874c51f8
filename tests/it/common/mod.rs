#![allow(dead_code)]

pub mod delta;
pub mod pg;
pub mod s3;
pub mod server;

/// Writes `text` to `path` by renaming a finished file over it, so a process reading the
/// file (the server's flow clock) never sees it half written.
pub fn write_atomically(path: &std::path::Path, text: &str) {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, path).unwrap();
}
