package sniffertest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ContainerBody is what the test container's HTTP server answers.
const ContainerBody = "hello from the container\n"

// Containerd is a private containerd (Debian's) with its own root, state and
// socket, stopped by PID at cleanup together with its shims and mounts.
type Containerd struct {
	*Process
	Socket    string
	Namespace string
	root      string
	state     string
}

// StartContainerd starts a containerd that shares nothing with the system's
// or any other one on the machine.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatalf("containerd is not installed (apt-get install containerd runc): %v", err)
	}
	name := UniqueName("shark-test-containerd-")
	state := filepath.Join("/run", name)
	root, err := os.MkdirTemp("", name+"-root-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Containerd{Socket: filepath.Join(state, "containerd.sock"), Namespace: "k8s.io", root: root, state: state}
	t.Cleanup(c.cleanupFiles)
	if err := os.MkdirAll(state, 0o711); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, root, state, c.Socket, c.Socket+".ttrpc", filepath.Join(root, "opt"))
	confPath := filepath.Join(state, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Process = Start(t, exec.Command("containerd", "--config", confPath))
	c.WaitOutput(t, "containerd successfully booted", 60*time.Second)
	return c
}

// cleanupFiles runs after containerd has stopped: it kills the shims it left,
// unmounts what it mounted and removes its directories.
func (c *Containerd) cleanupFiles() {
	c.killShims()
	var mounts []string
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 && (strings.HasPrefix(fields[4], c.root+"/") || strings.HasPrefix(fields[4], c.state+"/")) {
				mounts = append(mounts, fields[4])
			}
		}
		f.Close()
	}
	slices.Reverse(mounts)
	for _, m := range mounts {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	os.RemoveAll(c.root)
	os.RemoveAll(c.state)
}

// killShims kills the containerd-shim processes that serve this containerd
// (their command line names its socket).
func (c *Containerd) killShims() {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 0 && strings.Contains(args[0], "containerd-shim") && slices.Contains(args, c.Socket) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Ctr runs ctr against this containerd.
func (c *Containerd) Ctr(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, "ctr", append([]string{"-a", c.Socket, "-n", c.Namespace}, args...)...)
}

// Container is a running container of the test image.
type Container struct {
	ID     string
	Cgroup string // its cgroups path
}

// RunContainer imports the test image (a static HTTP server answering
// ContainerBody on :80) and runs it detached in the network namespace ns.
func (c *Containerd) RunContainer(t testing.TB, ns Netns) *Container {
	t.Helper()
	image := "shark.test/tinyhttpd:v1"
	tarball := BuildImage(t, image)
	c.Ctr(t, "images", "import", tarball)

	sum := sha256.Sum256([]byte(UniqueName("ctr")))
	id := hex.EncodeToString(sum[:])
	parent := UniqueName("shark-test-")
	ctr := &Container{ID: id, Cgroup: "/" + parent + "/pod" + id[:8] + "/" + id}
	c.Ctr(t, "run", "-d", "--with-ns", "network:"+ns.Path(), "--cgroup", ctr.Cgroup, image, id)
	t.Cleanup(func() {
		exec.Command("ctr", "-a", c.Socket, "-n", c.Namespace, "task", "kill", "-s", "SIGKILL", id).Run()
		for range 100 {
			if exec.Command("ctr", "-a", c.Socket, "-n", c.Namespace, "task", "delete", id).Run() == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		exec.Command("ctr", "-a", c.Socket, "-n", c.Namespace, "containers", "delete", id).Run()
		removeCgroups(parent)
	})
	WaitListening(t, ns, "127.0.0.1:80", nil)
	return ctr
}

// TaskPID returns the PID containerd reports for the container's task.
func (c *Containerd) TaskPID(t testing.TB, id string) int {
	t.Helper()
	for _, line := range strings.Split(c.Ctr(t, "task", "ls"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no task %s in ctr task ls", id)
	return 0
}

// removeCgroups removes the (empty) cgroup tree named parent from every
// hierarchy, deepest first.
func removeCgroups(parent string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
	if _, err := os.Stat("/sys/fs/cgroup/" + parent); err == nil {
		roots = append(roots, "/sys/fs/cgroup/"+parent)
	}
	for _, r := range roots {
		var dirs []string
		filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			os.Remove(d)
		}
	}
}

// BuildImage builds a docker-archive tarball (manifest.json, config, one
// layer) holding a static build of ./tinyhttpd as its entrypoint, without
// Docker, and returns its path.
func BuildImage(t testing.TB, ref string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "tinyhttpd")
	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Dir = filepath.Join(filepath.Dir(self), "tinyhttpd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building tinyhttpd: %v\n%s", err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	mod := time.Unix(0, 0)
	tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mod})
	tw.WriteHeader(&tar.Header{Name: "tinyhttpd", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(binData)), ModTime: mod})
	tw.Write(binData)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	diffID := sha256.Sum256(layer.Bytes())

	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/tinyhttpd"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	})
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{ref}, "Layers": []string{"layer.tar"},
	}})

	out := filepath.Join(dir, "image.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	for _, file := range []struct {
		name string
		data []byte
	}{{"layer.tar", layer.Bytes()}, {configName, config}, {"manifest.json", manifest}} {
		aw.WriteHeader(&tar.Header{Name: file.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(file.data)), ModTime: mod})
		aw.Write(file.data)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
