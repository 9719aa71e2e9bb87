#!/usr/bin/env python3
"""A slow disk for tests: a FUSE loopback of ROOT at MOUNTPOINT whose
fsync takes DELAY_MS longer, like a school's NAS over a busy network.

    python3 tests/tools/slow_disk.py ROOT MOUNTPOINT DELAY_MS

Runs in the foreground until unmounted (umount MOUNTPOINT). Based on
fusepy's loopback example; needs python3-fusepy and fuse (make test
installs both).
"""

import errno
import os
import sys
import time

try:  # Debian's python3-fusepy names the module after the project
    from fusepy import FUSE, FuseOSError, Operations
except ImportError:
    from fuse import FUSE, FuseOSError, Operations


class SlowDisk(Operations):
    def __init__(self, root, delay):
        self.root = os.path.realpath(root)
        self.delay = delay

    def __call__(self, op, path, *args):
        return super().__call__(op, self.root + path, *args)

    def access(self, path, mode):
        if not os.access(path, mode):
            raise FuseOSError(errno.EACCES)

    chmod = os.chmod
    chown = os.chown

    def create(self, path, mode, fi=None):
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        time.sleep(self.delay)
        return os.fdatasync(fh) if datasync else os.fsync(fh)

    def getattr(self, path, fh=None):
        st = os.lstat(path)
        return {key: getattr(st, key) for key in (
            'st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime',
            'st_nlink', 'st_size', 'st_uid')}

    getxattr = None
    listxattr = None

    def link(self, target, source):
        return os.link(self.root + source, target)

    mkdir = os.mkdir
    mknod = os.mknod

    def open(self, path, flags):
        return os.open(path, flags)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(path)

    readlink = os.readlink

    def release(self, path, fh):
        return os.close(fh)

    def rename(self, old, new):
        return os.rename(old, self.root + new)

    rmdir = os.rmdir

    def statfs(self, path):
        stv = os.statvfs(path)
        return {key: getattr(stv, key) for key in (
            'f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail',
            'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def symlink(self, target, source):
        return os.symlink(source, target)

    def truncate(self, path, length, fh=None):
        with open(path, 'r+') as f:
            f.truncate(length)

    unlink = os.unlink
    utimens = os.utime

    def write(self, path, data, offset, fh):
        # On Linux pwrite appends on an O_APPEND descriptor, as wanted.
        return os.pwrite(fh, data, offset)


if __name__ == '__main__':
    root, mountpoint, delay_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
    FUSE(SlowDisk(root, delay_ms / 1000.0), mountpoint, foreground=True, nothreads=False)
