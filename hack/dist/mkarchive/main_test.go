package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stage writes the same files; noise adds read bits for group and others.
func stage(t *testing.T, mtime time.Time, noise os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tool": 0o700 | noise, "README.md": 0o600 | noise, "sub/LICENSE": 0o640} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReproducible(t *testing.T) {
	const epoch = 1773525600
	for _, ext := range []string{".tar.gz", ".zip"} {
		a := filepath.Join(t.TempDir(), "a"+ext)
		b := filepath.Join(t.TempDir(), "b"+ext)
		if err := write(a, stage(t, time.Now(), 0), time.Unix(epoch, 0).UTC(), []string{"tool", "sub/LICENSE", "README.md"}); err != nil {
			t.Fatal(err)
		}
		if err := write(b, stage(t, time.Unix(12345, 0), 0o044), time.Unix(epoch, 0).UTC(), []string{"README.md", "tool", "sub/LICENSE"}); err != nil {
			t.Fatal(err)
		}
		ab, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if !bytes.Equal(ab, bb) {
			t.Errorf("%s: two archives of the same contents differ", ext)
		}
		got := list(t, ab, ext)
		want := "README.md 644 1773525600 0:0:: | sub/LICENSE 644 1773525600 0:0:: | tool 755 1773525600 0:0::"
		if ext == ".zip" {
			want = strings.ReplaceAll(want, " 0:0::", "")
		}
		if got != want {
			t.Errorf("%s entries:\n got %s\nwant %s", ext, got, want)
		}
	}
}

func list(t *testing.T, b []byte, ext string) string {
	t.Helper()
	var out []string
	if ext == ".zip" {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			out = append(out, fmt.Sprintf("%s %o %d", f.Name, f.Mode().Perm(), f.Modified.Unix()))
		}
		return strings.Join(out, " | ")
	}
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header: name %q, mtime %v", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			t.Errorf("%s: type %c", h.Name, h.Typeflag)
		}
		out = append(out, fmt.Sprintf("%s %o %d %d:%d:%s:%s", h.Name, h.Mode, h.ModTime.Unix(), h.Uid, h.Gid, h.Uname, h.Gname))
	}
	return strings.Join(out, " | ")
}

func TestRefuses(t *testing.T) {
	dir := stage(t, time.Now(), 0)
	out := filepath.Join(t.TempDir(), "x.tar.gz")
	for _, names := range [][]string{{"../x"}, {"/etc/passwd"}, {"sub"}, {"tool", "./tool"}, {"missing"}} {
		if err := write(out, dir, time.Unix(0, 0), names); err == nil {
			t.Errorf("%v: no error", names)
		}
	}
	if err := write(filepath.Join(t.TempDir(), "x.rar"), dir, time.Unix(0, 0), []string{"tool"}); err == nil {
		t.Error(".rar: no error")
	}
}
