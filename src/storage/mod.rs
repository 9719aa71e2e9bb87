//! Media storage behind one interface: a local directory by default, any
//! S3-compatible object storage as a configuration choice (`[storage]`).
//! Uploads live here now; processed lessons and attachments will follow.
//! Every node and worker shares it, so whatever one writes another reads.
//!
//! Keys are `/`-separated paths (`uploads/{id}/parts/...`). This module
//! knows nothing about what the objects mean, and never holds a whole
//! object in memory: writes are streamed (multipart beyond one buffer),
//! reads are streamed or ranged.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt as _};
use tokio::io::AsyncWriteExt;

use crate::config::{Config, StorageKind};

/// Bytes buffered before a write turns into a multipart upload, and the
/// size of each part: S3's smallest part is 5 MiB.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts of one write in flight at once: a write holds at most this many
/// parts in memory, whatever the object's size.
const PARTS_IN_FLIGHT: usize = 2;

/// The largest object S3 copies in one request (CopyObject).
const S3_SINGLE_COPY_MAX: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes being written stopped coming (the client went away).
    #[error("source failed: {0}")]
    Source(String),
    #[error("storage configuration: {0}")]
    Config(String),
}

/// The media store; cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store: its objects are read in place.
    local_root: Option<PathBuf>,
}

/// An object as a file on this machine: the object itself for a local
/// store, a temporary copy (deleted on drop) for object storage.
pub struct LocalCopy {
    pub path: PathBuf,
    _temp: Option<tempfile::TempPath>,
}

impl LocalCopy {
    /// A file that is already on this machine, never deleted by this copy.
    pub fn in_place(path: PathBuf) -> Self {
        Self { path, _temp: None }
    }
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaStore({})", self.store)
    }
}

impl MediaStore {
    pub fn from_config(config: &Config) -> Result<Self, StorageError> {
        let storage = &config.storage;
        match storage.kind {
            StorageKind::Local => {
                let dir = config.objects_dir();
                std::fs::create_dir_all(&dir)?;
                let dir = dir.canonicalize()?;
                let store = LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true);
                Ok(Self {
                    store: Arc::new(store),
                    local_root: Some(dir),
                })
            }
            StorageKind::S3 => {
                if storage.bucket.is_empty() {
                    return Err(StorageError::Config("storage.bucket is empty".into()));
                }
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&storage.bucket)
                    .with_region(&storage.region)
                    .with_access_key_id(&storage.access_key_id)
                    .with_secret_access_key(&storage.secret_access_key)
                    .with_virtual_hosted_style_request(!storage.path_style);
                if let Some(endpoint) = &storage.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                Ok(Self {
                    store: Arc::new(builder.build()?),
                    local_root: None,
                })
            }
        }
    }

    /// The directory of a local store, where its objects are files.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    /// A whole (small) object: a playlist or a segment.
    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let found = self
            .store
            .get(&Key::from(key))
            .await
            .map_err(not_found(key))?;
        Ok(found.bytes().await?)
    }

    /// An object as it is read (a download of any size), with its size.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<(u64, impl Stream<Item = Result<Bytes, StorageError>> + use<>), StorageError> {
        let found = self
            .store
            .get(&Key::from(key))
            .await
            .map_err(not_found(key))?;
        let size = found.meta.size;
        Ok((size, found.into_stream().map_err(StorageError::from)))
    }

    /// Some bytes of an object as they are read (a `Range` request on a
    /// download), never the whole object: S3 is asked for the range alone.
    pub async fn get_range_stream(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<impl Stream<Item = Result<Bytes, StorageError>> + use<>, StorageError> {
        let options = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(range)),
            ..Default::default()
        };
        let found = self
            .store
            .get_opts(&Key::from(key), options)
            .await
            .map_err(not_found(key))?;
        Ok(found.into_stream().map_err(StorageError::from))
    }

    /// Writes one object from bytes already in memory.
    pub async fn put_bytes(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.store.put(&Key::from(key), data.into()).await?;
        Ok(())
    }

    /// Writes `bytes` to `key` as they come, in parts beyond one buffer.
    /// Returns how many bytes were written. When the source fails, what
    /// arrived before is written if `keep_partial(error, bytes)` says so (a
    /// client cut off mid-chunk keeps what it sent), else nothing is.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        mut bytes: S,
        keep_partial: impl FnOnce(&E, u64) -> bool,
    ) -> Result<(u64, Option<E>), StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let mut writer = BufWriter::with_capacity(self.store.clone(), Key::from(key), PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let mut written = 0u64;
        let mut failure = None;
        while let Some(next) = bytes.next().await {
            match next {
                Ok(chunk) => {
                    written += chunk.len() as u64;
                    if let Err(e) = writer.put(chunk).await {
                        let _ = writer.abort().await;
                        return Err(e.into());
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = &failure
            && !keep_partial(e, written)
        {
            writer.abort().await?;
            return Ok((0, failure));
        }
        writer.shutdown().await?;
        Ok((written, failure))
    }

    /// Writes the objects `parts`, in order, as one object `key`.
    pub async fn concatenate(&self, parts: &[String], key: &str) -> Result<u64, StorageError> {
        if let [only] = parts {
            // One part (the usual case: a client sending the file in one
            // request) becomes the whole object by a rename: a local one,
            // or S3's server-side copy, which takes at most 5 GiB in one
            // request; a larger part is streamed like several.
            let only = Key::from(only.as_str());
            let renamable = self.local_root.is_some()
                || self.store.head(&only).await?.size <= S3_SINGLE_COPY_MAX;
            if renamable {
                self.store.rename(&only, &Key::from(key)).await?;
                return Ok(self.store.head(&Key::from(key)).await?.size);
            }
        }
        let store = self.store.clone();
        let owned: Vec<Key> = parts.iter().map(|p| Key::from(p.as_str())).collect();
        let stream = futures::stream::iter(owned)
            .then(move |part| {
                let store = store.clone();
                async move { Ok::<_, object_store::Error>(store.get(&part).await?.into_stream()) }
            })
            .try_flatten()
            .boxed();
        match self.put_stream(key, stream, |_, _| false).await? {
            (written, None) => Ok(written),
            (_, Some(e)) => Err(e.into()),
        }
    }

    /// Writes a file of this machine (something FFmpeg made) as `key`, a
    /// part at a time. Returns how many bytes were written.
    pub async fn put_file(&self, key: &str, path: &std::path::Path) -> Result<u64, StorageError> {
        use tokio::io::AsyncReadExt as _;
        let file = tokio::fs::File::open(path).await?;
        let parts = futures::stream::try_unfold(file, |mut file| async move {
            let mut part = Vec::with_capacity(PART_BYTES);
            (&mut file)
                .take(PART_BYTES as u64)
                .read_to_end(&mut part)
                .await?;
            Ok::<_, std::io::Error>((!part.is_empty()).then(|| (Bytes::from(part), file)))
        });
        match self.put_stream(key, Box::pin(parts), |_, _| false).await? {
            (written, None) => Ok(written),
            (_, Some(e)) => Err(e.into()),
        }
    }

    /// The object as a file on this machine (for FFmpeg).
    pub async fn get_to_local(&self, key: &str) -> Result<LocalCopy, StorageError> {
        if let Some(root) = &self.local_root {
            let path = root.join(key);
            if !tokio::fs::try_exists(&path).await? {
                return Err(StorageError::NotFound(key.into()));
            }
            return Ok(LocalCopy { path, _temp: None });
        }
        let temp = tempfile::NamedTempFile::new()?.into_temp_path();
        let mut file = tokio::fs::File::create(&temp).await?;
        let mut stream = self
            .store
            .get(&Key::from(key))
            .await
            .map_err(not_found(key))?
            .into_stream();
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?).await?;
        }
        file.flush().await?;
        Ok(LocalCopy {
            path: temp.to_path_buf(),
            _temp: Some(temp),
        })
    }

    pub async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        self.store
            .get_range(&Key::from(key), range)
            .await
            .map_err(not_found(key))
    }

    /// Keys and sizes of every object under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        let objects: Vec<_> = self
            .store
            .list(Some(&Key::from(prefix)))
            .try_collect()
            .await?;
        let mut listed: Vec<(String, u64)> = objects
            .into_iter()
            .map(|o| (o.location.to_string(), o.size))
            .collect();
        listed.sort();
        Ok(listed)
    }

    /// Deletes every object under `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let keys = self.list(prefix).await?;
        let count = keys.len();
        let locations =
            futures::stream::iter(keys.into_iter().map(|(k, _)| Ok(Key::from(k)))).boxed();
        let deleted: Vec<_> = self.store.delete_stream(locations).collect().await;
        for result in deleted {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(dir) = self.local_dir(prefix) {
            // Staging files of writes cut off by a crash (`key#1`) are not
            // listed as objects; they go with their directory.
            match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(count)
    }

    /// Deletes everything under `prefix` but `keep`: what a crashed or
    /// abandoned attempt left beside the object that counts.
    pub async fn retain_only(&self, prefix: &str, keep: &str) -> Result<(), StorageError> {
        for (key, _) in self.list(prefix).await? {
            if key != keep {
                self.delete(&key).await?;
            }
        }
        if let (Some(dir), Some(root)) = (self.local_dir(prefix), &self.local_root) {
            let keep = root.join(keep);
            let mut dirs = vec![dir];
            while let Some(dir) = dirs.pop() {
                let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
                    continue;
                };
                while let Some(entry) = entries.next_entry().await? {
                    let path = entry.path();
                    if entry.file_type().await?.is_dir() {
                        dirs.push(path);
                    } else if path != keep {
                        tokio::fs::remove_file(&path).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A prefix's directory in a local store (`None` for object storage
    /// or a prefix that is not a directory path).
    fn local_dir(&self, prefix: &str) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        let relative = prefix.trim_end_matches('/');
        let safe = !relative.is_empty()
            && relative
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        safe.then(|| root.join(relative))
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&Key::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

fn not_found(key: &str) -> impl Fn(object_store::Error) -> StorageError + '_ {
    move |e| match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(key.into()),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &std::path::Path) -> MediaStore {
        let mut config = Config::default();
        config.storage.dir = Some(dir.to_path_buf());
        MediaStore::from_config(&config).unwrap()
    }

    #[tokio::test]
    async fn parts_become_one_object_and_a_prefix_goes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = local(dir.path());
        let chunks = |data: &'static [u8]| {
            futures::stream::iter(
                data.chunks(3)
                    .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
            )
        };
        store
            .put_stream("u/1/a", chunks(b"hello "), |_, _| true)
            .await
            .unwrap();
        store
            .put_stream("u/1/b", chunks(b"world"), |_, _| true)
            .await
            .unwrap();
        let size = store
            .concatenate(&["u/1/a".into(), "u/1/b".into()], "u/1/file")
            .await
            .unwrap();
        assert_eq!(size, 11);
        assert_eq!(
            &store.read_range("u/1/file", 6..11).await.unwrap()[..],
            b"world"
        );
        let streamed: Vec<Bytes> = store
            .get_range_stream("u/1/file", 2..7)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(streamed.concat(), b"llo w");
        let copy = store.get_to_local("u/1/file").await.unwrap();
        assert_eq!(std::fs::read(&copy.path).unwrap(), b"hello world");
        assert!(store.exists("u/1/a").await.unwrap());
        assert_eq!(store.delete_prefix("u/1/").await.unwrap(), 3);
        assert!(!store.exists("u/1/file").await.unwrap());
        assert!(store.list("u/").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_broken_source_keeps_what_arrived_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = local(dir.path());
        let broken = || {
            futures::stream::iter(vec![
                Ok(Bytes::from_static(b"abc")),
                Err("cut off".to_string()),
            ])
        };
        let (n, failure) = store
            .put_stream("k/kept", broken(), |_, _| true)
            .await
            .unwrap();
        assert_eq!((n, failure.as_deref()), (3, Some("cut off")));
        assert!(store.exists("k/kept").await.unwrap());
        let (n, _) = store
            .put_stream("k/dropped", broken(), |_, _| false)
            .await
            .unwrap();
        assert_eq!(n, 0);
        assert!(!store.exists("k/dropped").await.unwrap());
    }
}
