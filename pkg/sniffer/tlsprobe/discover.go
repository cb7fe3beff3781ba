package tlsprobe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNoLibrary is returned (wrapped) by Open when no libssl was found.
var ErrNoLibrary = errors.New("no libssl found")

// Where a Library was found (Library.Source).
const (
	SourceFlag   = "flag"   // named by Config.TLSLibs
	SourceMaps   = "maps"   // mapped by a process of the target namespace
	SourceSearch = "search" // found in a standard library directory
)

// Library is a libssl file the probe found or was given.
type Library struct {
	// Path is where the agent opened it: PROCROOT/PID/root/PATH for a file of
	// a process's root file system, as the process sees it at PATH.
	Path string
	// Source says how it was found: SourceFlag, SourceMaps or SourceSearch.
	Source string
	// PIDs are the processes that had it mapped when the probe was opened
	// (SourceMaps only).
	PIDs []int
	// Dev and Inode identify the file the processes map (for a file on
	// overlayfs, the underlying file): uprobes attach to this inode.
	Dev, Inode uint64
	// Symbols are the functions probed in it, when attached.
	Symbols []string
	// Err says why it was not attached; nil when it was.
	Err error
}

// fileID is a file's identity as the kernel maps it.
type fileID struct{ dev, ino uint64 }

// candidate is a Library with its file open (the descriptor is what the
// uprobes attach through; it is closed once they are attached).
type candidate struct {
	Library
	f *os.File
}

// libDirs returns the standard library directories searched in a root file
// system, this architecture's multiarch directories first.
func libDirs() []string {
	var multi string
	switch runtime.GOARCH {
	case "amd64":
		multi = "x86_64-linux-gnu"
	case "arm64":
		multi = "aarch64-linux-gnu"
	}
	var dirs []string
	if multi != "" {
		dirs = append(dirs, "/usr/lib/"+multi, "/lib/"+multi)
	}
	return append(dirs, "/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib64",
		"/usr/local/lib", "/usr/local/ssl/lib", "/usr/local/openssl/lib")
}

// isLibssl reports whether a file name is OpenSSL's libssl shared object
// (libssl.so, libssl.so.3, libssl.so.1.1; not NSS's libssl3.so).
func isLibssl(name string) bool {
	return name == "libssl.so" || strings.HasPrefix(name, "libssl.so.")
}

// finder collects candidates, deduplicated by the inode uprobes attach to.
type finder struct {
	procRoot string
	seen     map[fileID]*candidate
	cands    []*candidate
	denied   int // processes whose namespace or maps could not be read
}

func (fd *finder) closeAll() {
	for _, c := range fd.cands {
		c.f.Close()
	}
	fd.cands = nil
}

// add takes ownership of f: kept as a new candidate, or closed when the file
// is a duplicate (then pid is added to the existing candidate).
func (fd *finder) add(f *os.File, display, source string, pid int) error {
	id, err := mappedID(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("identifying %s: %w", display, err)
	}
	if c := fd.seen[id]; c != nil {
		f.Close()
		if pid != 0 && !slices.Contains(c.PIDs, pid) {
			c.PIDs = append(c.PIDs, pid)
		}
		return nil
	}
	c := &candidate{Library: Library{Path: display, Source: source, Dev: id.dev, Inode: id.ino}, f: f}
	if pid != 0 {
		c.PIDs = []int{pid}
	}
	fd.seen[id] = c
	fd.cands = append(fd.cands, c)
	return nil
}

// netnsPIDs lists the processes under procRoot whose network namespace has
// inode ino, in ascending order.
func (fd *finder) netnsPIDs(ino uint64) ([]int, error) {
	ents, err := os.ReadDir(fd.procRoot)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(fd.procRoot, e.Name(), "ns", "net"), &st); err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				fd.denied++
			}
			continue // or it exited meanwhile
		}
		if st.Ino == ino {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// mappedLibssl returns the libssl paths in pid's /proc/PID/maps, as the
// process sees them. Files deleted since they were mapped (a library upgraded
// under a running process) are skipped: their path names another file now.
func (fd *finder) mappedLibssl(pid int) []string {
	f, err := os.Open(filepath.Join(fd.procRoot, strconv.Itoa(pid), "maps"))
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			fd.denied++
		}
		return nil
	}
	defer f.Close()
	return parseMaps(f)
}

func parseMaps(f *os.File) []string {
	var paths []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		// address perms offset dev inode [path]; the path may hold spaces.
		i := bytes.IndexByte(line, '/')
		if i < 0 {
			continue
		}
		p := string(line[i:])
		if strings.HasSuffix(p, " (deleted)") || !isLibssl(path.Base(p)) || slices.Contains(paths, p) {
			continue
		}
		paths = append(paths, p)
	}
	return paths
}

// openIn opens name (absolute, as seen from root) inside root with every
// symbolic link resolved inside it too: an absolute link in a container's
// file system must not lead to the agent's own file.
func openIn(root *os.File, name string, flags int) (*os.File, error) {
	fdn, err := unix.Openat2(int(root.Fd()), name, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	runtime.KeepAlive(root)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fdn), name), nil
}

// openRoot opens the root directory of a process (or "/" when pid is 0).
func (fd *finder) openRoot(pid int) (*os.File, string, error) {
	dir := "/"
	if pid != 0 {
		dir = filepath.Join(fd.procRoot, strconv.Itoa(pid), "root")
	}
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			fd.denied++
		}
		return nil, dir, err
	}
	return f, dir, nil
}

// display joins a root directory and a path inside it for humans.
func display(rootDir, name string) string {
	if rootDir == "/" {
		return name
	}
	return rootDir + name
}

// isSymlink reports whether name, in root, is a symbolic link itself.
func isSymlink(root *os.File, name string) bool {
	f, err := openIn(root, name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Stat_t
	return unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// openRegular opens name in root and checks that it is a regular file.
func openRegular(root *os.File, name string) (*os.File, error) {
	f, err := openIn(root, name, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return f, nil
}

// search looks for libssl.so* in the standard library directories of root.
func (fd *finder) search(root *os.File, rootDir string) error {
	for _, dir := range libDirs() {
		d, err := openIn(root, dir, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			continue
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			continue
		}
		// Real files before symbolic links (libssl.so.3 before libssl.so), so
		// that a library is shown under its own name.
		var files, links []string
		for _, n := range names {
			if !isLibssl(n) {
				continue
			}
			if isSymlink(root, path.Join(dir, n)) {
				links = append(links, n)
			} else {
				files = append(files, n)
			}
		}
		slices.Sort(files)
		slices.Sort(links)
		for _, n := range append(files, links...) {
			name := path.Join(dir, n)
			f, err := openRegular(root, name)
			if err != nil {
				continue // a dangling development symlink, say
			}
			if err := fd.add(f, display(rootDir, name), SourceSearch, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// discover finds the libssl files to probe (see the package doc): the ones
// named by libs (inside the target's root), else the ones mapped by the
// target's processes, else the ones in the standard directories of their root
// file systems (the agent's own when the target has no process).
func discover(procRoot string, netnsIno uint64, pid int, libs []string) (_ []*candidate, err error) {
	fd := &finder{procRoot: procRoot, seen: map[fileID]*candidate{}}
	defer func() {
		if err != nil {
			fd.closeAll()
		}
	}()

	if len(libs) > 0 {
		root, rootDir, err := fd.openRoot(pid)
		if err != nil {
			return nil, fmt.Errorf("opening the target's root file system %s: %w", rootDir, err)
		}
		defer root.Close()
		for _, lib := range libs {
			if !path.IsAbs(lib) {
				return nil, fmt.Errorf("TLS library path %q is not absolute", lib)
			}
			f, err := openRegular(root, lib)
			if err != nil {
				return nil, fmt.Errorf("opening TLS library %s in %s: %w", lib, rootDir, err)
			}
			if err := fd.add(f, display(rootDir, lib), SourceFlag, 0); err != nil {
				return nil, err
			}
		}
		return fd.cands, nil
	}

	pids, err := fd.netnsPIDs(netnsIno)
	if err != nil {
		return nil, err
	}
	if pid != 0 {
		pids = slices.DeleteFunc(pids, func(p int) bool { return p == pid })
		pids = append([]int{pid}, pids...)
	}
	for _, p := range pids {
		paths := fd.mappedLibssl(p)
		if len(paths) == 0 {
			continue
		}
		root, rootDir, err := fd.openRoot(p)
		if err != nil {
			continue // exited
		}
		for _, name := range paths {
			f, err := openRegular(root, name)
			if err != nil {
				continue
			}
			if err := fd.add(f, display(rootDir, name), SourceMaps, p); err != nil {
				root.Close()
				return nil, err
			}
		}
		root.Close()
	}
	if len(fd.cands) > 0 {
		return fd.cands, nil
	}

	// Nothing mapped: search the root file systems, each once.
	if len(pids) == 0 {
		pids = []int{0}
	}
	var searched []string
	roots := map[fileID]bool{}
	for _, p := range pids {
		root, rootDir, err := fd.openRoot(p)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(int(root.Fd()), &st) == nil {
			id := fileID{st.Dev, st.Ino}
			if roots[id] {
				root.Close()
				continue
			}
			roots[id] = true
		}
		searched = append(searched, rootDir)
		err = fd.search(root, rootDir)
		root.Close()
		if err != nil {
			return nil, err
		}
	}
	if len(fd.cands) > 0 {
		return fd.cands, nil
	}
	where := strings.Join(libDirs(), ", ")
	if len(searched) > 0 && (len(searched) > 1 || searched[0] != "/") {
		where += " under " + strings.Join(searched, ", ")
	}
	err = fmt.Errorf("%w in the target's processes or %s: pass --tls-lib PATH", ErrNoLibrary, where)
	if fd.denied > 0 {
		err = fmt.Errorf("%w (%d processes could not be inspected: does the agent have CAP_SYS_PTRACE and hostPID?)", err, fd.denied)
	}
	return nil, err
}

// mappedID returns the device and inode of the file the kernel maps for f:
// on overlayfs (every container) that is the underlying file, which is what
// uprobes attach to and what two containers of one image share, whereas
// fstat reports the overlay's own inode. It maps one page of f and reads the
// entry back from /proc/self/maps.
func mappedID(f *os.File) (fileID, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, 1, unix.PROT_READ, unix.MAP_PRIVATE)
	runtime.KeepAlive(f)
	if err != nil {
		return fileID{}, fmt.Errorf("mapping: %w", err)
	}
	defer unix.Munmap(b)
	prefix := strconv.FormatUint(uint64(uintptr(unsafe.Pointer(&b[0]))), 16) + "-"
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return fileID{}, err
	}
	defer maps.Close()
	sc := bufio.NewScanner(maps)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		// address perms offset dev inode path
		fields := strings.Fields(line)
		if len(fields) < 5 {
			break
		}
		majs, mins, ok := strings.Cut(fields[3], ":")
		if !ok {
			break
		}
		ma, err1 := strconv.ParseUint(majs, 16, 32)
		mi, err2 := strconv.ParseUint(mins, 16, 32)
		ino, err3 := strconv.ParseUint(fields[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			break
		}
		return fileID{dev: unix.Mkdev(uint32(ma), uint32(mi)), ino: ino}, nil
	}
	if err := sc.Err(); err != nil {
		return fileID{}, err
	}
	return fileID{}, errors.New("mapping not found in /proc/self/maps")
}
