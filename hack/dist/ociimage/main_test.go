package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// mkimg builds a single-layer docker-archive with hack/cluster/mkimg.sh, with a `uname`
// that answers machine (x86_64, aarch64): what sniffer-images.sh does.
func mkimg(t *testing.T, ref, machine, content string) string {
	t.Helper()
	for _, tool := range []string{"bash", "tar", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("mkimg.sh needs %s", tool)
		}
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "hello"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	realUname, err := exec.LookPath("uname")
	if err != nil {
		t.Skip("no uname")
	}
	shim := filepath.Join(dir, "shim")
	if err := os.MkdirAll(shim, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$*\" = -m ]; then echo %s; else exec %s \"$@\"; fi\n", machine, realUname)
	if err := os.WriteFile(filepath.Join(shim, "uname"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	cmd := exec.Command("../../cluster/mkimg.sh", ref, rootfs, out, `{"Entrypoint":["/bin/true"]}`)
	cmd.Env = append(os.Environ(), "PATH="+shim+string(os.PathListSeparator)+os.Getenv("PATH"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimg.sh: %v\n%s", err, b)
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// readLayout returns the files of an OCI layout tarball, checking the tar's own
// reproducibility attributes on the way.
func readLayout(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	prev := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || !hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: owner %d:%d (%q:%q), mtime %v; want 0:0, no names, the epoch", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname, hdr.ModTime)
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		if hdr.Name < prev {
			t.Errorf("entries not sorted: %s after %s", hdr.Name, prev)
		}
		prev = hdr.Name
		c, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = c
	}
	return files
}

func blob(t *testing.T, files map[string][]byte, d Descriptor) []byte {
	t.Helper()
	b, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
	if !ok {
		t.Fatalf("blob %s (%s) missing", d.Digest, d.MediaType)
	}
	if sha(b) != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: content has digest %s, size %d; descriptor says size %d", d.Digest, sha(b), len(b), d.Size)
	}
	return b
}

func TestBuild(t *testing.T) {
	const ref = "ghcr.io/kubectl-shark/sniffer:v1.2.3-rc.1"
	amd := mkimg(t, ref, "x86_64", "amd64\n")
	arm := mkimg(t, ref, "aarch64", "arm64\n")
	ins := []Input{{"linux", "arm64", arm}, {"linux", "amd64", amd}}

	var out1, out2 bytes.Buffer
	idx, err := Build(&out1, ref, ins)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(&out2, ref, ins); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out1.Bytes(), out2.Bytes()) {
		t.Error("two builds of the same inputs differ")
	}

	files := readLayout(t, out1.Bytes())
	if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}`+"\n" {
		t.Errorf("oci-layout = %q", got)
	}
	var top Index
	if err := json.Unmarshal(files["index.json"], &top); err != nil {
		t.Fatal(err)
	}
	if top.SchemaVersion != 2 || len(top.Manifests) != 1 {
		t.Fatalf("index.json = %+v, want one descriptor", top)
	}
	d := top.Manifests[0]
	if d.Digest != idx.Digest || d.MediaType != mtIndex {
		t.Errorf("index.json points to %s %s, Build returned %s", d.MediaType, d.Digest, idx.Digest)
	}
	if d.Annotations["io.containerd.image.name"] != ref || d.Annotations["org.opencontainers.image.ref.name"] != "v1.2.3-rc.1" {
		t.Errorf("annotations = %v", d.Annotations)
	}
	var index Index
	if err := json.Unmarshal(blob(t, files, d), &index); err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, md := range index.Manifests {
		if md.Platform == nil || md.MediaType != mtManifest {
			t.Fatalf("index entry %+v", md)
		}
		plat := md.Platform.OS + "/" + md.Platform.Architecture
		plats = append(plats, plat)
		var m Manifest
		if err := json.Unmarshal(blob(t, files, md), &m); err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Architecture, OS string
			Rootfs           struct {
				DiffIDs []string `json:"diff_ids"`
			}
		}
		if err := json.Unmarshal(blob(t, files, m.Config), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.OS+"/"+cfg.Architecture != plat {
			t.Errorf("%s: config says %s/%s", plat, cfg.OS, cfg.Architecture)
		}
		if len(m.Layers) != 1 || len(cfg.Rootfs.DiffIDs) != 1 || m.Layers[0].MediaType != mtLayerGz {
			t.Fatalf("%s: layers %+v, diff_ids %v", plat, m.Layers, cfg.Rootfs.DiffIDs)
		}
		zr, err := gzip.NewReader(bytes.NewReader(blob(t, files, m.Layers[0])))
		if err != nil {
			t.Fatal(err)
		}
		layer, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if sha(layer) != cfg.Rootfs.DiffIDs[0] {
			t.Errorf("%s: uncompressed layer %s, diff_id %s", plat, sha(layer), cfg.Rootfs.DiffIDs[0])
		}
		want := strings.TrimPrefix(plat, "linux/") + "\n"
		if !bytes.Contains(layer, []byte(want)) {
			t.Errorf("%s: the layer does not hold that platform's rootfs", plat)
		}
	}
	if strings.Join(plats, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("platforms %v", plats)
	}

	if os.Getuid() == 0 {
		importWithContainerd(t, out1.Bytes(), ref)
	}
}

func TestBuildRefusesMislabelledInput(t *testing.T) {
	amd := mkimg(t, "example.com/x:1", "x86_64", "x")
	_, err := Build(io.Discard, "example.com/x:1", []Input{{"linux", "arm64", amd}})
	if err == nil || !strings.Contains(err.Error(), "says linux/amd64") {
		t.Fatalf("err = %v, want a platform mismatch", err)
	}
	_, err = Build(io.Discard, "example.com/x:1", []Input{{"linux", "amd64", amd}, {"linux", "amd64", amd}})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("err = %v, want a duplicate platform", err)
	}
}

// importWithContainerd is the oracle: a private containerd (root and state in a temp
// dir, no CRI) imports the layout for all platforms and lists both.
func importWithContainerd(t *testing.T, layout []byte, ref string) {
	containerd, err1 := exec.LookPath("containerd")
	ctr, err2 := exec.LookPath("ctr")
	if err1 != nil || err2 != nil || runtime.GOOS != "linux" {
		t.Log("no containerd/ctr: skipping the import check")
		return
	}
	dir, err := os.MkdirTemp("", "ociimage-ctrd")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	cfg := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(containerd, "--config", filepath.Join(dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not start:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	file := filepath.Join(dir, "layout.tar")
	if err := os.WriteFile(file, layout, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		b, err := exec.Command(ctr, append([]string{"--address", sock, "--namespace", "ociimage-test"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	run("images", "import", "--all-platforms", file)
	ls := run("images", "ls")
	if !strings.Contains(ls, ref) || !strings.Contains(ls, "linux/amd64,linux/arm64") {
		t.Errorf("ctr images ls:\n%s\nwant %s for linux/amd64,linux/arm64", ls, ref)
	}
	if check := run("images", "check"); !strings.Contains(check, "complete (2/2)") {
		t.Errorf("ctr images check:\n%s", check)
	}
	t.Logf("containerd imported it:\n%s", ls)
}
