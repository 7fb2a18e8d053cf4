"""Journal segment files: their names, the mapped segments the gateway writes, and the spares they are recycled as.

A segment is `journal-<n>.lrm`: a file of fixed size (`SEGMENT_BYTES`, more for an entry too large for one, less
down to `MIN_SEGMENT_BYTES` when the disk has no room for a standard one),
memory-mapped by the gateway, which copies frames into it and then publishes them by storing the offset where
the committed frames end in the file's 64-byte header (`LRJ3MAP\\0`, then that offset as a native 8-byte word).
Readers read up to that offset and never beyond it, so a frame being copied, or left half-copied by a killed
gateway, is never read. Writing into pages that are already in memory costs a copy; appending to a new file costs a
system call and a page allocation for every page, several times more. So the recorder process does not delete a
segment it has recorded: it overwrites its frames with zeros and renames it `spare-<n>.lrm` (at most `MAX_SPARES`
of them), and the gateway's next segment is a spare renamed back, written through the mapping the gateway kept
(`MappedPool`), its pages still in memory. A new segment file has its blocks reserved
(`posix_fallocate`) before it is mapped, so a full disk is an error when the segment is created, never a fault
while writing. Where a file cannot be mapped, the gateway appends frames to `journal-<n>.lrj` instead; segments of
the earlier line format (`journal-<n>.jsonl`) are still read.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import sys
import threading
from pathlib import Path

__all__ = [
    "APPENDED",
    "LEGACY",
    "MAPPED",
    "MAPPED_HEADER",
    "MAX_SPARES",
    "MIN_SEGMENT_BYTES",
    "SEGMENT_BYTES",
    "Fence",
    "MappedPool",
    "MappedSegment",
    "MappedView",
    "discard",
    "is_no_space",
    "remove_unfinished",
    "segment_path",
    "segments",
]

MAPPED = ".lrm"
APPENDED = ".lrj"
LEGACY = ".jsonl"
SEGMENT_BYTES = 8 << 20
MIN_SEGMENT_BYTES = 256 << 10
"""The smallest segment made when the disk has no room for a standard one."""
MAPPED_HEADER = 64
MAX_SPARES = 2
_MAPPED_MAGIC = b"LRJ3MAP\x00"
_COMMIT = slice(8, 16)
_SPARE = "spare-"
_NEW = "new-"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_MADV_POPULATE_WRITE = 23 if sys.platform == "linux" else None
"""Linux's `MADV_POPULATE_WRITE` (include/uapi/asm-generic/mman-common.h); Python 3.11's `mmap` does not name it."""
_POPULATE_BYTES = 256 << 10


def segment_path(directory: Path, segment: int) -> Path:
    """The file of segment `segment`: whichever of its formats exists (the mapped one when none does)."""
    stem = f"journal-{segment:08d}"
    for suffix in (MAPPED, APPENDED, LEGACY):
        path = directory / (stem + suffix)
        if path.exists():
            return path
    return directory / (stem + MAPPED)


def segments(directory: Path) -> list[int]:
    """The numbers of the segments in `directory`, ascending."""
    found = set()
    for path in directory.glob("journal-*"):
        if path.suffix not in (MAPPED, APPENDED, LEGACY):
            continue
        stem = path.stem.removeprefix("journal-")
        if stem.isdigit():
            found.add(int(stem))
    return sorted(found)


class Fence:
    """A full memory barrier for this thread: a lock released, then taken again.

    Frames are copied into the shared pages and then published by one store of the commit offset. On x86 stores
    become visible to other cores in program order; on weakly ordered CPUs (ARM) they need not, so the writer
    fences between the copy and the commit store, and the reader between loading the commit offset and reading
    the frames. A lock's release orders every earlier store before it and its acquire every later access after
    it; a release followed by an acquire is a full barrier on every platform CPython runs on."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def __call__(self) -> None:
        self._lock.release()
        self._lock.acquire()


class MappedSegment:
    """The writing side of one mapped segment: `append` copies frames in and commits them.

    The first write to a page of a shared file mapping faults (the kernel maps the page and marks it dirty, one
    trap per page); on Linux the pages are instead made writable ahead of the copies, `_POPULATE_BYTES` at a time,
    with one `madvise(MADV_POPULATE_WRITE)` (Linux 5.14+; without it, pages fault one by one as before). Pages
    still mapped and dirty from the segment's previous use (see `MappedPool`) cost that call next to nothing."""

    def __init__(self, number: int, capacity: int, region: mmap.mmap, key: tuple[int, int]) -> None:
        self.number = number
        self.capacity = capacity
        self.key = key
        """The file's (device, inode): which spare this mapping is, once the recorder has given it back."""
        self.end = MAPPED_HEADER
        self._map = region
        self._commit = memoryview(region)[_COMMIT].cast("Q")
        self._fence = Fence()
        self._populated = 0 if _MADV_POPULATE_WRITE is not None else capacity

    def restart(self, number: int) -> None:
        """Empty the segment for reuse as segment `number` (its file is about to be renamed so)."""
        self.number = number
        self.end = MAPPED_HEADER
        self._commit[0] = MAPPED_HEADER
        self._fence()
        self._populated = 0 if _MADV_POPULATE_WRITE is not None else self.capacity

    def append(self, frames: bytearray) -> None:
        """Copy `frames` (whole frames, which fit before `capacity`) after the committed ones, then commit them."""
        at = self.end
        end = at + len(frames)
        if end > self._populated:
            self._populate(end)
        self._map[at:end] = frames
        self._fence()
        self._commit[0] = end
        self.end = end

    def _populate(self, end: int) -> None:
        start = self._populated
        stop = min(self.capacity, max(end, start + _POPULATE_BYTES))
        stop = -(-stop // mmap.PAGESIZE) * mmap.PAGESIZE
        self._populated = min(self.capacity, stop)
        try:
            assert _MADV_POPULATE_WRITE is not None
            self._map.madvise(_MADV_POPULATE_WRITE, start, self._populated - start)
        except OSError:  # a kernel before 5.14: the pages fault in one by one instead
            self._populated = self.capacity

    def close(self) -> None:
        self._commit.release()
        self._map.close()


class MappedPool:
    """The gateway's mapped segments: it creates them, and keeps the mappings of the last few it wrote, so that
    when the recorder gives one back as a spare its pages are written again through the same mapping, still
    mapped and (until the kernel writes them back to disk) dirty: no fault at all. At most `MAX_SPARES + 1` are
    kept (8 MiB of address space each, shared page cache); keeping a deleted file's mapping holds its disk space
    until it leaves the pool."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._kept: dict[tuple[int, int], MappedSegment] = {}

    def create(self, number: int, need: int = 0) -> MappedSegment:
        """Segment `number`, ready for frames: a spare when one exists and `need` bytes fit in a standard segment
        (through its old mapping when the pool kept it), else a new file with its blocks reserved. Raises
        `OSError` (ENOSPC on a full disk)."""
        capacity = SEGMENT_BYTES
        if MAPPED_HEADER + need > capacity:
            capacity = -(-(MAPPED_HEADER + need) // mmap.PAGESIZE) * mmap.PAGESIZE
        final = self.directory / f"journal-{number:08d}{MAPPED}"
        spare = _take_spare(self.directory) if capacity == SEGMENT_BYTES else None
        fd, path = spare or _new_file_fitting(self.directory, capacity, MAPPED_HEADER + need)
        capacity = os.fstat(fd).st_size
        region = kept = None
        try:
            stat = os.fstat(fd)
            key = (stat.st_dev, stat.st_ino)
            kept = self._kept.pop(key, None)
            if kept is not None:
                kept.restart(number)
                os.rename(path, final)
                return kept
            os.pwrite(fd, _MAPPED_MAGIC + MAPPED_HEADER.to_bytes(8, sys.byteorder), 0)
            region = mmap.mmap(fd, capacity)
            os.rename(path, final)
        except BaseException:
            if kept is not None:
                kept.close()
            if region is not None:
                region.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        finally:
            os.close(fd)
        return MappedSegment(number, capacity, region, key)

    def retire(self, segment: MappedSegment) -> None:
        """The gateway is done writing `segment`: keep its mapping for the segment's next use, or unmap it."""
        if segment.capacity != SEGMENT_BYTES:
            segment.close()
            return
        self._kept[segment.key] = segment
        while len(self._kept) > MAX_SPARES + 1:
            self._kept.pop(next(iter(self._kept))).close()

    def close(self) -> None:
        while self._kept:
            self._kept.popitem()[1].close()


def _take_spare(directory: Path) -> tuple[int, Path] | None:
    """Open a spare segment for writing (None when there is none of the standard size)."""
    names = sorted(name for name in os.listdir(directory) if name.startswith(_SPARE) and name.endswith(MAPPED))
    for name in names:
        path = directory / name
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        if os.fstat(fd).st_size == SEGMENT_BYTES:
            return fd, path
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return None


def remove_unfinished(directory: Path) -> None:
    """Delete the new segment files a killed gateway left before it could name them (the journal's owner only)."""
    for path in directory.glob(f"{_NEW}*{MAPPED}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _new_file(directory: Path, capacity: int) -> tuple[int, Path]:
    """A new file of `capacity` bytes with its blocks reserved, under a name readers ignore until it is ready."""
    path = directory / f"{_NEW}{os.getpid()}{MAPPED}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _reserve(fd, capacity)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return fd, path


def _new_file_fitting(directory: Path, capacity: int, need: int) -> tuple[int, Path]:
    """`_new_file` of `capacity` bytes, or, on a full disk, of the largest of its halves down to
    `MIN_SEGMENT_BYTES` (never below `need`) that still fits: recording resumes as soon as a little space returns,
    instead of waiting for a whole standard segment's worth. A smaller segment is never kept as a spare."""
    while True:
        try:
            return _new_file(directory, capacity)
        except OSError as exc:
            smaller = max(MIN_SEGMENT_BYTES, -(-need // mmap.PAGESIZE) * mmap.PAGESIZE, capacity // 2)
            if not is_no_space(exc) or smaller >= capacity:
                raise
            capacity = smaller


def _reserve(fd: int, size: int) -> None:
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
        return
    _write_zeros(fd, 0, size)  # no fallocate (macOS): the blocks must exist before they are mapped


def _write_zeros(fd: int, start: int, end: int) -> None:
    """Overwrite bytes `start` to `end` of `fd` with zeros, a MiB at a time."""
    zeros = bytes(1 << 20)
    for at in range(start, end, len(zeros)):
        os.pwrite(fd, zeros[: min(len(zeros), end - at)], at)


def is_no_space(error: OSError) -> bool:
    return error.errno in _NO_SPACE


class MappedView:
    """The reading side of one mapped segment: what is committed, read without ever passing the commit."""

    start = MAPPED_HEADER
    """Where the frames begin."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size < MAPPED_HEADER:
                raise ValueError(f"{path.name} is shorter than its header")
            self._map = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self.size = size
        self._commit = memoryview(self._map)[_COMMIT].cast("Q")
        self._fence = Fence()
        if self._map[: len(_MAPPED_MAGIC)] != _MAPPED_MAGIC:
            self.close()
            raise ValueError(f"{path.name} does not start with a mapped segment header")

    def committed(self) -> int:
        """The offset where the committed frames end (the frames before it are complete and visible)."""
        end = self._commit[0]
        self._fence()
        if not MAPPED_HEADER <= end <= self.size:
            raise ValueError(f"commit offset {end} outside the segment")
        return end

    def read(self, offset: int, budget: int) -> bytes:
        """Committed bytes from `offset`, at most `budget` of them."""
        end = min(self.committed(), offset + budget)
        return self._map[offset:end] if end > offset else b""

    def close(self) -> None:
        self._commit.release()
        self._map.close()


def discard(directory: Path, segment: int) -> None:
    """A recorded segment is no longer needed: keep it as a spare (a mapped one of the standard size, while there
    are fewer than `MAX_SPARES`), its frames overwritten with zeros so that it keeps no exchange, else delete it."""
    path = segment_path(directory, segment)
    try:
        if path.suffix == MAPPED and path.stat().st_size == SEGMENT_BYTES:
            spares = [n for n in os.listdir(directory) if n.startswith(_SPARE)]
            if len(spares) < MAX_SPARES:
                _wipe(path)
                os.replace(path, directory / f"{_SPARE}{segment:08d}{MAPPED}")
                return
        path.unlink()
    except FileNotFoundError:
        return


def _wipe(path: Path) -> None:
    """Overwrite a complete segment's committed frames with zeros (its pages stay in memory)."""
    fd = os.open(path, os.O_RDWR)
    try:
        end = int.from_bytes(os.pread(fd, 8, _COMMIT.start), sys.byteorder)
        _write_zeros(fd, MAPPED_HEADER, min(end, SEGMENT_BYTES))
    finally:
        os.close(fd)
