//! A slow disk for the media folder: a FUSE loopback (tests/tools/
//! slow_disk.py, fusepy) whose fsync takes longer, like a school's NAS on a
//! busy network. Unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SlowDisk {
    _backing: tempfile::TempDir,
    mount: tempfile::TempDir,
    child: Child,
}

fn mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let path = path.to_string_lossy();
    mounts.lines().any(|l| l.split(' ').nth(4) == Some(&*path))
}

impl SlowDisk {
    /// Mounts a folder whose every fsync takes `delay` longer.
    pub fn mount(delay: Duration) -> Self {
        let backing = tempfile::tempdir().unwrap();
        let mount = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/slow_disk.py");
        // Debian's own Python, where apt put python3-fusepy.
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(backing.path())
            .arg(mount.path())
            .arg(delay.as_millis().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let mut disk = Self {
            _backing: backing,
            mount,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !mounted(disk.mount.path()) {
            if let Some(status) = disk.child.try_wait().unwrap() {
                panic!(
                    "the slow disk did not mount ({status}); make test installs python3-fusepy and fuse"
                );
            }
            assert!(Instant::now() < deadline, "the slow disk did not mount");
            std::thread::sleep(Duration::from_millis(50));
        }
        disk
    }

    pub fn path(&self) -> PathBuf {
        self.mount.path().to_path_buf()
    }
}

impl Drop for SlowDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
