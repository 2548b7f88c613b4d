//! Where a command's `-o FILE` goes, written the way the path asks for (issue #14, item 9).
//!
//! - a regular file, or a path that does not exist yet: written to a temporary file beside it and
//!   renamed into place, so that a failure leaves the old file (or none), never half a file. An
//!   existing file keeps its permissions; a new one gets 0666 less the umask, as `>` would give it;
//! - a symbolic link: followed to its target, which is then written as above (the link stays);
//! - a device, a named pipe or a socket (`/dev/null`, `/dev/stdout`, a FIFO): opened and written
//!   directly — renaming over it would replace the device with a regular file;
//! - `-`: standard output.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Links followed at most, as the kernel's own limit for path resolution.
const MAX_LINKS: usize = 40;

/// Writes what `f` produces to `path` (see the module's docs for what each kind of path gets).
pub(crate) fn write_output(path: &Path, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    if path.as_os_str() == "-" {
        let mut out = io::stdout().lock();
        return match f(&mut out).and_then(|()| out.flush()) {
            Err(e) if crate::broken_pipe(&e) => Ok(()),
            r => r,
        };
    }
    let target = follow_links(path)?;
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is a folder; give a file name", target.display())))
        }
        Ok(m) if !m.is_file() => {
            // A device, a FIFO or a socket: write through it, never replace it.
            let mut file = OpenOptions::new().write(true).open(&target)?;
            f(&mut file)?;
            file.flush()
        }
        Ok(m) => replace_file(&target, Some(m.permissions()), f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => replace_file(&target, None, f),
        Err(e) => Err(e),
    }
}

/// The path a chain of symbolic links ends at (which need not exist yet).
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&at)?;
                at = match at.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(at),
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is a loop of symbolic links", path.display())))
}

/// Writes a regular file through a temporary file in the same folder, synced, then renamed over it.
fn replace_file(path: &Path, keep: Option<std::fs::Permissions>, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".allot-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Created with 0666: the process umask takes its bits off, as for any new file.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    f(tmp.as_file_mut())?;
    if let Some(p) = keep {
        tmp.as_file().set_permissions(p)?;
    }
    tmp.as_file_mut().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
