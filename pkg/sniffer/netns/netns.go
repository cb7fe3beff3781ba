// Package netns runs work inside a Linux network namespace.
//
// Do is the only way the sniffer enters another network namespace (DESIGN.md
// decision 4): the work runs on a dedicated, locked OS thread, and sockets
// created there stay bound to the target namespace after Do returns. If the
// thread cannot be switched back to its original namespace, Do leaves it
// locked so that the Go runtime terminates it instead of reusing a thread that
// is still inside the target's namespace.
package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrNotNetns is returned (wrapped) when a file is not a network namespace.
var ErrNotNetns = errors.New("not a network namespace")

// Open opens path, which must name a network namespace (for example
// /proc/PID/ns/net or a bind mount under /var/run/netns), and returns the open
// file. Holding it open keeps the namespace alive after every process in it has
// exited. The caller owns the file and must close it.
func Open(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", path, err)
	}
	if err := Check(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening netns %s: %w", path, err)
	}
	return f, nil
}

// Check returns an error wrapping ErrNotNetns unless f is a network namespace.
func Check(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("checking namespace type: %w", err)
	}
	if st.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("%s is on a file system of type %#x, not nsfs: %w", f.Name(), st.Type, ErrNotNetns)
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	runtime.KeepAlive(f)
	if err != nil {
		return fmt.Errorf("checking namespace type: %w", err)
	}
	if typ != unix.CLONE_NEWNET {
		return fmt.Errorf("%s is a namespace of type %#x: %w", f.Name(), typ, ErrNotNetns)
	}
	return nil
}

// Do runs fn on a locked OS thread inside the network namespace ns and waits
// for it. Sockets (and other network objects) that fn creates belong to ns for
// their whole life. fn must not start goroutines that expect to run in ns:
// only the calling thread is switched.
//
// If the thread cannot be restored to its original namespace, it is never
// unlocked, so it exits with its goroutine and the Go runtime does not reuse it;
// Do then returns fn's error joined with the restore error.
func Do(ns *os.File, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		done <- doLocked(ns, fn)
	}()
	return <-done
}

// doLocked runs in its own goroutine. It returns with the thread still locked
// (and so doomed) whenever the thread may be left in a foreign namespace.
func doLocked(ns *os.File, fn func() error) error {
	runtime.LockOSThread()

	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening current netns: %w", err)
	}
	defer orig.Close()

	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		// setns failing leaves the thread where it was.
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns %s: %w", ns.Name(), err)
	}
	runtime.KeepAlive(ns)

	fnErr := fn()

	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Keep the thread locked: the runtime kills it when this goroutine
		// exits, so no other goroutine ever runs inside ns by accident.
		return errors.Join(fnErr, fmt.Errorf("restoring original netns (thread discarded): %w", err))
	}
	runtime.UnlockOSThread()
	return fnErr
}
