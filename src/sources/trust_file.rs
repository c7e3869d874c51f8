//! `TrustStore` paths: CA files on the Inlet host, read only from the directory the
//! operator configured (`trust_store_dir`), only when they are regular files of at most
//! [`MAX_FILE_BYTES`], and never in a way that blocks (a FIFO is opened non-blocking and
//! refused by its type). Every refusal is the same [`refused`] error, so no answer tells
//! whether some path exists, is a directory, a FIFO or too large.

use crate::sources::error::{SourceError, SourceErrorKind};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The largest CA file read from the trust store directory.
pub const MAX_FILE_BYTES: u64 = 512 * 1024;

/// The one answer for a `TrustStore` path that cannot be used, whatever the reason.
pub const REFUSED_MESSAGE: &str = "TrustStore paths must name a regular file of PEM CA certificates, of at most \
     512 KiB, inside this server's trust store directory (setting trust_store_dir; when it is unset no \
     path is accepted); give the certificates inline instead: TrustStore={-----BEGIN CERTIFICATE-----...}";

/// The error every unusable path gets.
pub fn refused() -> SourceError {
    SourceError::new(SourceErrorKind::RootCertInvalid, REFUSED_MESSAGE)
}

/// Where `path` lies under `dir`, judged by its text alone (nothing on disk is touched):
/// a relative path is taken from `dir`; `.` and `..` are refused, as is an absolute path
/// outside `dir`.
pub fn resolve(dir: Option<&Path>, path: &Path) -> Result<PathBuf, SourceError> {
    let dir = dir.ok_or_else(refused)?;
    let plain = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::RootDir));
    if !plain || path.as_os_str().is_empty() {
        return Err(refused());
    }
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    };
    if full.starts_with(dir) && full != dir {
        Ok(full)
    } else {
        Err(refused())
    }
}

/// Reads the CA file `path` names under `dir` (see the module documentation).
pub async fn read(dir: Option<&Path>, path: &Path) -> Result<Vec<u8>, SourceError> {
    let full = resolve(dir, path)?;
    let dir = dir.map(Path::to_path_buf).ok_or_else(refused)?;
    let read = tokio::task::spawn_blocking(move || read_blocking(&dir, &full));
    read.await.map_err(|_| refused())?.ok_or_else(refused)
}

/// Reads a CA file the operator named on the command line (`inlet copy`), with the
/// same type and size rules but from any directory: the operator owns the host.
pub fn read_local(path: &Path) -> Option<Vec<u8>> {
    let full = std::path::absolute(path).ok()?;
    read_blocking(full.parent()?, &full)
}

fn read_blocking(dir: &Path, full: &Path) -> Option<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    // Symbolic links are followed here once, and the result must still be inside.
    let real = std::fs::canonicalize(full).ok()?;
    if !real.starts_with(std::fs::canonicalize(dir).ok()?) {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
        .open(&real)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.file_type().is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_directory_are_refused_by_their_text() {
        let dir = Path::new("/etc/inlet/ca");
        let ok = |p: &str| resolve(Some(dir), Path::new(p)).unwrap();
        assert_eq!(ok("root.pem"), dir.join("root.pem"));
        assert_eq!(ok("sub/root.pem"), dir.join("sub/root.pem"));
        assert_eq!(ok("/etc/inlet/ca/root.pem"), dir.join("root.pem"));
        for bad in [
            "../x.pem",
            "/etc/passwd",
            "/etc/inlet/ca",
            "./x",
            "a/../../b",
            "",
            "/etc/inlet/cab/x",
        ] {
            let error = resolve(Some(dir), Path::new(bad)).unwrap_err();
            assert_eq!(error, refused(), "{bad}");
        }
        assert_eq!(resolve(None, Path::new("root.pem")).unwrap_err(), refused());
    }

    #[tokio::test]
    async fn only_small_regular_files_inside_are_read_and_every_refusal_is_the_same() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("trust");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), b"pem").unwrap();
        std::fs::write(root.path().join("outside.pem"), b"secret").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::File::create(dir.join("huge.pem"))
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        std::os::unix::fs::symlink(root.path().join("outside.pem"), dir.join("link.pem")).unwrap();
        let fifo = std::ffi::CString::new(dir.join("fifo.pem").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let dir = Some(dir.as_path());
        assert_eq!(read(dir, Path::new("ca.pem")).await.unwrap(), b"pem");
        let outside = root.path().join("outside.pem");
        for bad in [
            Path::new("sub"),
            Path::new("huge.pem"),
            Path::new("link.pem"),
            Path::new("fifo.pem"),
            Path::new("missing.pem"),
            Path::new("../outside.pem"),
            outside.as_path(),
        ] {
            assert_eq!(read(dir, bad).await.unwrap_err(), refused(), "{}", bad.display());
        }
    }
}
