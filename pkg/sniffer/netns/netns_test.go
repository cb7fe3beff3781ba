package netns_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var s syscall.Stat_t
	if err := syscall.Stat(path, &s); err != nil {
		t.Fatal(err)
	}
	return s.Ino
}

func TestDo(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t)
	f, err := netns.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := inode(t, ns.Path())
	home := inode(t, "/proc/self/ns/net")

	var inside uint64
	var sock int
	err = netns.Do(f, func() error {
		inside = inode(t, "/proc/thread-self/ns/net")
		var err error
		sock, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sock)
	if inside != want {
		t.Errorf("fn ran in netns inode %d, want %d", inside, want)
	}

	// The socket stays in the target namespace: ask the kernel which one.
	nsfd, err := unix.IoctlRetInt(sock, unix.SIOCGSKNS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nsfd)
	if got := inode(t, filepath.Join("/proc/self/fd", itoa(nsfd))); got != want {
		t.Errorf("socket is in netns inode %d, want %d", got, want)
	}

	// No thread of ours is left in the namespace: every goroutine runs at home.
	for range 50 {
		runtime.Gosched()
		if got := inode(t, "/proc/thread-self/ns/net"); got != home {
			t.Fatalf("a thread is still in netns inode %d", got)
		}
	}

	// fn's error comes back.
	sentinel := errors.New("boom")
	if err := netns.Do(f, func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
}

func TestOpenRejects(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "file")
	os.WriteFile(regular, nil, 0o644)
	for _, p := range []string{regular, "/proc/self/ns/mnt", "/proc/self/ns/pid"} {
		if _, err := netns.Open(p); !errors.Is(err, netns.ErrNotNetns) {
			t.Errorf("Open(%s) = %v, want ErrNotNetns", p, err)
		}
	}
	if _, err := netns.Open(regular + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
	f, err := netns.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}
