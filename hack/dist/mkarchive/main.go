// Command mkarchive writes a reproducible release archive (.tar.gz or .zip) of a few
// regular files, for hack/dist/dist.sh:
//
//	mkarchive -o OUT.tar.gz|OUT.zip -C DIR -mtime EPOCH FILE...
//
// The entries are the FILEs (paths relative to DIR, regular files only), sorted by name,
// each with mtime EPOCH, owner 0:0 without user or group names, and mode 0755 when the
// file has any execute bit, else 0644. Nothing else from the build machine (umask, owner,
// timestamps, gzip file name) reaches the archive, so the same inputs give the same bytes.
// The formats are the ones krew unpacks: gzip-compressed tar with only regular-file
// entries, and zip.
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "output archive: NAME.tar.gz or NAME.zip")
	dir := flag.String("C", ".", "directory the FILEs are relative to")
	mtime := flag.Int64("mtime", 0, "modification time of every entry, in seconds since the epoch")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: mkarchive -o OUT.tar.gz|OUT.zip -C DIR -mtime EPOCH FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, *dir, time.Unix(*mtime, 0).UTC(), flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkarchive:", err)
		os.Exit(1)
	}
}

type entry struct {
	name string // slash-separated, relative
	path string // on disk
	mode int64
}

func collect(dir string, names []string) ([]entry, error) {
	var es []entry
	seen := map[string]bool{}
	for _, n := range names {
		name := path.Clean(filepath.ToSlash(n))
		if name == "." || strings.HasPrefix(name, "/") || name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
			return nil, fmt.Errorf("%q: entries must be relative paths inside -C", n)
		}
		if seen[name] {
			return nil, fmt.Errorf("%q given twice", n)
		}
		seen[name] = true
		p := filepath.Join(dir, filepath.FromSlash(name))
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", p)
		}
		mode := int64(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		es = append(es, entry{name: name, path: p, mode: mode})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	return es, nil
}

func write(out, dir string, mtime time.Time, names []string) (err error) {
	es, err := collect(dir, names)
	if err != nil {
		return err
	}
	var writeArchive func(io.Writer, []entry, time.Time) error
	switch {
	case strings.HasSuffix(out, ".tar.gz"), strings.HasSuffix(out, ".tgz"):
		writeArchive = writeTarGz
	case strings.HasSuffix(out, ".zip"):
		writeArchive = writeZip
	default:
		return fmt.Errorf("%s: the name must end in .tar.gz or .zip", out)
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := writeArchive(f, es, mtime); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func writeTarGz(w io.Writer, es []entry, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	// gzip.Writer's header has no name and a zero mtime unless set: nothing to clear.
	tw := tar.NewWriter(gz)
	for _, e := range es {
		fi, err := os.Stat(e.path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Size:     fi.Size(),
			Mode:     e.mode,
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if len(e.name) > 100 {
			hdr.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := copyFile(tw, e.path); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, es []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, e := range es {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(e.mode))
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if err := copyFile(fw, e.path); err != nil {
			return err
		}
	}
	return zw.Close()
}
