//! Where jobs read their inputs and write their outputs: the media store
//! (`storage`), a local directory or S3-compatible object storage. Jobs
//! name files by *key* (a relative path such as `uploads/abc/media-x` or
//! `lessons/abc/m1/hls`), so the same payload runs on any worker sharing
//! the store.
//!
//! GStreamer and FFmpeg want files: an input is the object itself in a
//! local store, a temporary copy otherwise. An output is made in a staging
//! directory and published when complete:
//! - in a local store the staging directory lies beside its final place and
//!   is renamed into it, so no one ever sees half an output under the key;
//! - in object storage it lies under `media.dir/staging` and its files are
//!   uploaded under the key once complete. What an attempt cut off halfway
//!   uploaded is deleted by the next attempt before it uploads; readers only
//!   trust the key once the job has succeeded (see `catalog::library`).
//!
//! A worker killed halfway leaves only its staging directory, which the
//! next attempt of the same job removes.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::storage::{LocalCopy, MediaStore, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// Absolute, empty, or with `..`/`.` components: never resolved.
    #[error("not a valid media key: {0:?}")]
    BadKey(String),
    #[error("no such input: {0}")]
    Missing(String),
    /// Resolves outside the media directory (through a symbolic link).
    #[error("outside the media directory: {0}")]
    Outside(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The attempt was told to stop while publishing.
    #[error("stopped while publishing")]
    Stopped,
}

/// A key is relative, made of plain names only. (Checked on the text:
/// `Path::components` quietly drops `.` and doubled slashes.)
pub fn valid_key(key: &str) -> bool {
    !key.contains('\0')
        && key
            .split('/')
            .all(|name| !name.is_empty() && name != "." && name != "..")
}

#[derive(Debug, Clone)]
pub struct LocalFiles {
    root: PathBuf,
}

impl LocalFiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn root(&self) -> Result<PathBuf, FilesError> {
        std::fs::create_dir_all(&self.root)
            .and_then(|_| self.root.canonicalize())
            .map_err(|e| FilesError::Io(self.root.display().to_string(), e))
    }

    /// Whether anything is stored under `key` (a valid one).
    pub fn exists(&self, key: &str) -> bool {
        valid_key(key) && self.root.join(key).symlink_metadata().is_ok()
    }

    /// The local path of an existing input file.
    pub fn input(&self, key: &str) -> Result<PathBuf, FilesError> {
        if !valid_key(key) {
            return Err(FilesError::BadKey(key.into()));
        }
        let root = self.root()?;
        let path = root
            .join(key)
            .canonicalize()
            .map_err(|_| FilesError::Missing(key.into()))?;
        if !path.starts_with(&root) {
            return Err(FilesError::Outside(key.into()));
        }
        if !path.is_file() {
            return Err(FilesError::Missing(key.into()));
        }
        Ok(path)
    }

    /// A fresh, empty staging directory for `attempt` of `job`'s output
    /// under `key`. Each attempt has its own: a worker that lost its lease
    /// (cut off from the database) may still be writing into its own while
    /// the next attempt runs, and must not mix files into the new one. What
    /// earlier attempts left is removed; the one still writing then fails
    /// on its own.
    pub fn stage_output(
        &self,
        key: &str,
        job: Uuid,
        attempt: i32,
    ) -> Result<StagedOutput, FilesError> {
        if !valid_key(key) {
            return Err(FilesError::BadKey(key.into()));
        }
        let root = self.root()?;
        let target = root.join(key);
        let io = |path: &Path| {
            let shown = path.display().to_string();
            move |e| FilesError::Io(shown, e)
        };
        // valid_key guarantees a last component.
        let name = target.file_name().expect("a key has a last name");
        let parent = target.parent().expect("a key lies under the root");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let parent = parent.canonicalize().map_err(io(parent))?;
        if !parent.starts_with(&root) {
            return Err(FilesError::Outside(key.into()));
        }
        let name = name.to_string_lossy();
        let prefix = format!(".{name}.partial-{job}-");
        for entry in std::fs::read_dir(&parent).map_err(io(&parent))?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(io(&path))?;
            }
        }
        let staging = parent.join(format!("{prefix}{attempt}"));
        std::fs::create_dir(&staging).map_err(io(&staging))?;
        Ok(StagedOutput {
            dir: staging,
            replaced: parent.join(format!(".{name}.replaced-{job}-{attempt}")),
            target: parent.join(&*name),
        })
    }
}

/// An output being made; `publish` puts it in place.
#[derive(Debug)]
pub struct StagedOutput {
    /// Write here.
    pub dir: PathBuf,
    replaced: PathBuf,
    target: PathBuf,
}

impl StagedOutput {
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the staging directory into place. An output already there
    /// (this job's, from an attempt that finished its files but not its
    /// row) is moved aside first and removed after, so the key never
    /// holds a mixture of two attempts.
    pub fn publish(self) -> std::io::Result<PathBuf> {
        if self.replaced.exists() {
            std::fs::remove_dir_all(&self.replaced)?;
        }
        let had_one = self.target.exists();
        if had_one {
            std::fs::rename(&self.target, &self.replaced)?;
        }
        std::fs::rename(&self.dir, &self.target)?;
        if had_one {
            std::fs::remove_dir_all(&self.replaced)?;
        }
        Ok(self.target)
    }
}

/// Job files in the media store; cheap to clone. Its methods block: they
/// are called by job work, on the runtime's blocking threads.
#[derive(Clone)]
pub struct JobFiles {
    store: MediaStore,
    /// The store's own directory, when it is local.
    local: Option<LocalFiles>,
    /// Where outputs bound for object storage are made.
    staging: PathBuf,
}

impl JobFiles {
    pub fn new(store: MediaStore, staging: impl Into<PathBuf>) -> Self {
        Self {
            local: store.local_root().map(LocalFiles::new),
            store,
            staging: staging.into(),
        }
    }

    /// The input under `key` as a file on this machine.
    pub fn input(&self, key: &str) -> Result<LocalCopy, FilesError> {
        if let Some(local) = &self.local {
            return Ok(LocalCopy::in_place(local.input(key)?));
        }
        if !valid_key(key) {
            return Err(FilesError::BadKey(key.into()));
        }
        let handle = tokio::runtime::Handle::current();
        handle
            .block_on(self.store.get_to_local(key))
            .map_err(|e| match e {
                StorageError::NotFound(_) => FilesError::Missing(key.into()),
                other => other.into(),
            })
    }

    /// A fresh staging directory for `attempt` of `job`'s output `key`.
    pub fn stage_output(&self, key: &str, job: Uuid, attempt: i32) -> Result<Staged, FilesError> {
        if let Some(local) = &self.local {
            return Ok(Staged::Local(local.stage_output(key, job, attempt)?));
        }
        if !valid_key(key) {
            return Err(FilesError::BadKey(key.into()));
        }
        let io = |e| FilesError::Io(self.staging.display().to_string(), e);
        std::fs::create_dir_all(&self.staging).map_err(io)?;
        let prefix = format!("{job}-");
        for entry in std::fs::read_dir(&self.staging).map_err(io)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_dir_all(entry.path()).map_err(io)?;
            }
        }
        let dir = self.staging.join(format!("{job}-{attempt}"));
        std::fs::create_dir(&dir).map_err(io)?;
        Ok(Staged::Remote {
            dir,
            key: key.to_string(),
            store: self.store.clone(),
        })
    }
}

/// An output being made in `dir()`; `publish` puts it under its key.
pub enum Staged {
    Local(StagedOutput),
    Remote {
        dir: PathBuf,
        key: String,
        store: MediaStore,
    },
}

impl Staged {
    pub fn dir(&self) -> &Path {
        match self {
            Staged::Local(output) => &output.dir,
            Staged::Remote { dir, .. } => dir,
        }
    }

    /// Puts the output in place. `stopped` is asked between files: an
    /// attempt that lost its lease stops uploading rather than mixing its
    /// files into the next attempt's.
    pub fn publish(self, stopped: impl Fn() -> bool) -> Result<(), FilesError> {
        let (dir, key, store) = match self {
            Staged::Local(output) => {
                let shown = output.target().display().to_string();
                output.publish().map_err(|e| FilesError::Io(shown, e))?;
                return Ok(());
            }
            Staged::Remote { dir, key, store } => (dir, key, store),
        };
        let handle = tokio::runtime::Handle::current();
        handle.block_on(store.delete_prefix(&format!("{key}/")))?;
        let mut pending = vec![dir.clone()];
        while let Some(next) = pending.pop() {
            let io = |e| FilesError::Io(next.display().to_string(), e);
            for entry in std::fs::read_dir(&next).map_err(io)?.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                if stopped() {
                    return Err(FilesError::Stopped);
                }
                // Segments and playlists: a few MB each at most.
                let data = std::fs::read(&path).map_err(io)?;
                let relative = path.strip_prefix(&dir).unwrap_or(&path);
                let object = format!("{key}/{}", relative.to_string_lossy());
                handle.block_on(store.put_bytes(&object, data.into()))?;
            }
        }
        std::fs::remove_dir_all(&dir).map_err(|e| FilesError::Io(dir.display().to_string(), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_relative_plain_names() {
        assert!(valid_key("uploads/a.mp4"));
        assert!(valid_key("lessons/abc/hls"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "./a",
            "a/./b",
            "a//b",
            "a/",
            "a\0b",
        ] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_input_must_exist_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("in.mp4"), b"x").unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let files = LocalFiles::new(root.path());
        assert!(files.input("in.mp4").is_ok());
        assert!(matches!(
            files.input("nope.mp4"),
            Err(FilesError::Missing(_))
        ));
        assert!(matches!(
            files.input("link/secret"),
            Err(FilesError::Outside(_))
        ));
        assert!(matches!(
            files.input("../in.mp4"),
            Err(FilesError::BadKey(_))
        ));
    }

    #[test]
    fn outputs_appear_whole_and_replace_an_earlier_one() {
        let root = tempfile::tempdir().unwrap();
        let files = LocalFiles::new(root.path());
        let job = Uuid::new_v4();
        let first = files.stage_output("lessons/a", job, 1).unwrap();
        std::fs::write(first.dir.join("half"), b"x").unwrap();
        // Killed here: the next attempt starts from an empty staging
        // directory of its own, and the first one's is gone.
        let second = files.stage_output("lessons/a", job, 2).unwrap();
        assert_eq!(std::fs::read_dir(&second.dir).unwrap().count(), 0);
        assert_ne!(first.dir, second.dir);
        assert!(!first.dir.exists());
        assert!(!root.path().join("lessons/a").exists());
        std::fs::write(second.dir.join("master.m3u8"), b"1").unwrap();
        second.publish().unwrap();
        let third = files.stage_output("lessons/a", job, 3).unwrap();
        std::fs::write(third.dir.join("master.m3u8"), b"2").unwrap();
        third.publish().unwrap();
        let names: Vec<_> = std::fs::read_dir(root.path().join("lessons"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a"]);
        assert_eq!(
            std::fs::read(root.path().join("lessons/a/master.m3u8")).unwrap(),
            b"2"
        );
    }
}
