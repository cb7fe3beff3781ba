package tlsprobe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fakeProc is a /proc of a few processes in a temporary directory: each
// process has ns/net (a hard link to one of the fake namespace files), maps
// and root (a symbolic link to a fake root file system).
type fakeProc struct {
	t    *testing.T
	dir  string // the proc root
	base string
}

func newFakeProc(t *testing.T) *fakeProc {
	base := t.TempDir()
	f := &fakeProc{t: t, dir: filepath.Join(base, "proc"), base: base}
	for _, d := range []string{f.dir, filepath.Join(f.dir, "self"), filepath.Join(base, "ns")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fakeProc) write(path string, data string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// netns returns the inode of fake namespace name, creating it.
func (f *fakeProc) netns(name string) uint64 {
	p := filepath.Join(f.base, "ns", name)
	if _, err := os.Stat(p); err != nil {
		f.write(p, name)
	}
	st, err := os.Stat(p)
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// root returns the directory of fake root file system name.
func (f *fakeProc) root(name string) string {
	return filepath.Join(f.base, "roots", name)
}

// lib writes a fake library (any content: discovery does not parse ELF).
func (f *fakeProc) lib(root, path string) {
	f.write(filepath.Join(f.root(root), path), "\x7fELF fake "+path)
}

// process adds a process in namespace ns with root file system root mapping
// the files maps.
func (f *fakeProc) process(pid int, ns, root string, maps ...string) {
	dir := filepath.Join(f.dir, fmt.Sprint(pid))
	f.netns(ns)
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Link(filepath.Join(f.base, "ns", ns), filepath.Join(dir, "ns", "net")); err != nil {
		f.t.Fatal(err)
	}
	if err := os.MkdirAll(f.root(root), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(f.root(root), filepath.Join(dir, "root")); err != nil {
		f.t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "55d0c3a00000-55d0c3a2b000 r--p 00000000 fd:01 1234                       /usr/bin/app\n")
	fmt.Fprintf(&b, "7ffd5c1b2000-7ffd5c1d3000 rw-p 00000000 00:00 0                          [stack]\n")
	for i, m := range maps {
		fmt.Fprintf(&b, "7f%04x000000-7f%04x001000 r-xp 00000000 fd:01 %d                       %s\n", i, i, 4000+i, m)
	}
	f.write(filepath.Join(dir, "maps"), b.String())
}

func (f *fakeProc) discover(ns string, pid int, libs ...string) ([]*candidate, error) {
	cands, err := discover(f.dir, f.netns(ns), pid, libs)
	for _, c := range cands {
		c.f.Close()
	}
	return cands, err
}

type found struct {
	Path   string
	Source string
	PIDs   []int
}

func summarize(f *fakeProc, cands []*candidate) []found {
	var out []found
	for _, c := range cands {
		out = append(out, found{strings.TrimPrefix(c.Path, f.base), c.Source, c.PIDs})
	}
	return out
}

func equalFound(a, b []found) bool {
	return slices.EqualFunc(a, b, func(x, y found) bool {
		return x.Path == y.Path && x.Source == y.Source && slices.Equal(x.PIDs, y.PIDs)
	})
}

func TestDiscoverMaps(t *testing.T) {
	f := newFakeProc(t)
	f.lib("a", "/usr/lib/x86_64-linux-gnu/libssl.so.3")
	f.lib("a", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3")
	f.lib("a", "/usr/lib/x86_64-linux-gnu/libssl3.so") // NSS, not OpenSSL
	f.lib("b", "/opt/app/lib/libssl.so.1.1")
	f.lib("c", "/usr/lib/libssl.so.3")
	// 10 and 11 share a root file system (and so one library); 12 has its
	// own, with an older OpenSSL in a path with a space; 20 is elsewhere.
	f.process(10, "target", "a", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl3.so")
	f.process(11, "target", "a", "/usr/lib/x86_64-linux-gnu/libssl.so.3")
	f.process(12, "target", "b", "/opt/app/lib/libssl.so.1.1 (deleted)")
	f.process(13, "target", "b")
	f.process(20, "other", "c", "/usr/lib/libssl.so.3")

	cands, err := f.discover("target", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []found{{"/proc/10/root/usr/lib/x86_64-linux-gnu/libssl.so.3", SourceMaps, []int{10, 11}}}
	if got := summarize(f, cands); !equalFound(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	// The target process comes first, even when it has the highest PID.
	f.process(30, "target", "b", "/opt/app/lib/libssl.so.1.1")
	cands, err = f.discover("target", 30)
	if err != nil {
		t.Fatal(err)
	}
	want = []found{
		{"/proc/30/root/opt/app/lib/libssl.so.1.1", SourceMaps, []int{30}},
		{"/proc/10/root/usr/lib/x86_64-linux-gnu/libssl.so.3", SourceMaps, []int{10, 11}},
	}
	if got := summarize(f, cands); !equalFound(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDiscoverSearch(t *testing.T) {
	f := newFakeProc(t)
	f.lib("a", "/usr/lib/libssl.so.3")
	if err := os.Symlink("libssl.so.3", filepath.Join(f.root("a"), "usr/lib/libssl.so")); err != nil {
		t.Fatal(err)
	}
	// An absolute link must resolve inside the root file system: there is
	// no /opt/ssl on the machine running the test.
	f.lib("a", "/opt/ssl/libssl.so.1.1")
	if err := os.MkdirAll(filepath.Join(f.root("a"), "usr/local/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/opt/ssl/libssl.so.1.1", filepath.Join(f.root("a"), "usr/local/lib/libssl.so.1.1")); err != nil {
		t.Fatal(err)
	}
	// A dangling development link is ignored.
	if err := os.Symlink("/nowhere/libssl.so.9", filepath.Join(f.root("a"), "usr/local/lib/libssl.so")); err != nil {
		t.Fatal(err)
	}
	f.process(10, "target", "a", "/usr/lib/libcrypto.so.3")
	f.process(11, "target", "a")

	cands, err := f.discover("target", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []found{
		{"/proc/10/root/usr/lib/libssl.so.3", SourceSearch, nil},
		{"/proc/10/root/usr/local/lib/libssl.so.1.1", SourceSearch, nil},
	}
	if got := summarize(f, cands); !equalFound(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDiscoverNothing(t *testing.T) {
	f := newFakeProc(t)
	f.process(10, "target", "empty")
	_, err := f.discover("target", 10)
	if !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("error %v, want ErrNoLibrary", err)
	}
	msg := err.Error()
	for _, s := range []string{"no libssl found in the target's processes or ", "/usr/lib", "/proc/10/root", ": pass --tls-lib PATH"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q lacks %q", msg, s)
		}
	}
}

func TestDiscoverFlag(t *testing.T) {
	f := newFakeProc(t)
	f.lib("a", "/custom/libssl.so.3")
	f.lib("a", "/usr/lib/libssl.so.3")
	f.process(10, "target", "a", "/usr/lib/libssl.so.3")

	// Named libraries replace discovery and are looked up in the target's
	// root file system.
	cands, err := f.discover("target", 10, "/custom/libssl.so.3")
	if err != nil {
		t.Fatal(err)
	}
	want := []found{{"/proc/10/root/custom/libssl.so.3", SourceFlag, nil}}
	if got := summarize(f, cands); !equalFound(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := f.discover("target", 10, "/custom/missing.so"); err == nil || !strings.Contains(err.Error(), "/custom/missing.so") {
		t.Errorf("missing library: %v", err)
	}
	if _, err := f.discover("target", 10, "relative/libssl.so"); err == nil {
		t.Error("relative path accepted")
	}
	if _, err := f.discover("target", 10, "/custom"); err == nil {
		t.Error("directory accepted")
	}
}

func TestParseMaps(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "maps")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`7f0000000000-7f0000001000 r-xp 00000000 fd:01 1 /lib/libssl.so.3
7f0000001000-7f0000002000 r--p 00001000 fd:01 1 /lib/libssl.so.3
7f0000002000-7f0000003000 r-xp 00000000 fd:01 2 /my dir/libssl.so
7f0000003000-7f0000004000 r-xp 00000000 fd:01 3 /lib/libssl.so.1.0.0 (deleted)
7f0000004000-7f0000005000 r-xp 00000000 fd:01 4 /lib/libssl3.so
7f0000005000-7f0000006000 r-xp 00000000 fd:01 5 /lib/libssl.so.3.bak/libfoo.so
7f0000006000-7f0000007000 rw-p 00000000 00:00 0 
7f0000007000-7f0000008000 rw-p 00000000 00:00 0 [heap]
`)
	f.Seek(0, 0)
	got := parseMaps(f)
	f.Close()
	if want := []string{"/lib/libssl.so.3", "/my dir/libssl.so"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
