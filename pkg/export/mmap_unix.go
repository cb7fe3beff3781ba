//go:build unix

package export

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only, for reading from the start to the end.
func mapFile(f *os.File, size int64) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = unix.Madvise(b, unix.MADV_SEQUENTIAL)
	return b, nil
}

// unmapFile undoes mapFile.
func unmapFile(b []byte) error { return unix.Munmap(b) }

// releasePages tells the kernel that the pages of b (page-aligned) will not be read
// again soon: they leave the process's resident set but stay in the page cache, and
// reading them again is still valid.
func releasePages(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }
