package krewcheck

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	repoRoot  = "../../.."
	uriBase   = "https://github.com/kubectl-shark/kubectl-shark/releases/download"
	binary    = "kubectl-shark"
	imageRepo = "ghcr.io/kubectl-shark/sniffer" // internal/version.ImageRepository
)

// platforms are what dist.sh builds.
var platforms = [][2]string{
	{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}, {"windows", "arm64"},
}

func render(t *testing.T, version string, sum func(os, arch string) string) []byte {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, "krew-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(tmpl)
	s = s[strings.Index(s, "\napiVersion:")+1:] // as dist.sh: without the leading comment
	s = strings.ReplaceAll(s, "{{VERSION}}", version)
	for _, p := range platforms {
		s = strings.ReplaceAll(s, fmt.Sprintf("{{SHA256_%s_%s}}", p[0], p[1]), sum(p[0], p[1]))
	}
	if i := strings.Index(s, "{{"); i >= 0 {
		t.Fatalf("krew-manifest.yaml: a placeholder dist.sh does not fill: %s", s[i:i+strings.Index(s[i:], "}}")+2])
	}
	return []byte(s)
}

func fakeSum(os, arch string) string {
	s := sha256.Sum256([]byte(os + "/" + arch))
	return hex.EncodeToString(s[:])
}

// TestTemplate renders krew-manifest.yaml with made-up checksums and holds it to the
// rules; it needs no build.
func TestTemplate(t *testing.T) {
	p, err := Parse(render(t, "v1.2.3", fakeSum))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range Validate("shark.yaml", p, Release{Version: "v1.2.3", URIBase: uriBase, Binary: binary}) {
		t.Error(err)
	}
	if len(p.Spec.Platforms) != len(platforms) {
		t.Errorf("%d platforms, dist.sh builds %d", len(p.Spec.Platforms), len(platforms))
	}
	for _, pf := range platforms {
		pl, ok := MatchingPlatform(p, pf[0], pf[1])
		if !ok {
			t.Errorf("no platform for %s/%s", pf[0], pf[1])
			continue
		}
		var from []string
		for _, f := range pl.Files {
			from = append(from, f.From)
		}
		if !strings.Contains(strings.Join(from, " "), "kubectl_complete-shark") {
			t.Errorf("%s/%s: files do not install kubectl_complete-shark: %v", pf[0], pf[1], from)
		}
	}
}

// TestValidateCatches breaks a good manifest in the ways krew refuses, one at a time.
func TestValidateCatches(t *testing.T) {
	good := render(t, "v1.2.3", fakeSum)
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"version without v", `version: "v1.2.3"`, `version: "1.2.3"`, "does not start with 'v'"},
		{"version not semver", `version: "v1.2.3"`, `version: "v1.2"`, "spec.version"},
		{"api version", "apiVersion: krew.googlecontainertools.github.com/v1alpha2", "apiVersion: krew.googlecontainertools.github.com/v1alpha1", "apiVersion"},
		{"kind", "kind: Plugin", "kind: Plugins", "kind"},
		{"name", "name: shark", "name: Shark", "metadata.name"},
		{"uppercase sha", fakeSum("linux", "amd64"), strings.ToUpper(fakeSum("linux", "amd64")), "`sha256` value"},
		{"same selector twice", "os: darwin\n        arch: amd64", "os: linux\n        arch: amd64", "all select linux/amd64"},
		{"windows bin", "bin: kubectl-shark.exe", "bin: kubectl-shark", "must end in .exe"},
		{"unclean to", "- from: LICENSE\n      to: .", "- from: LICENSE\n      to: ./", "not a clean path"},
		{"selector key", "os: linux\n        arch: arm64", "os: linux\n        cpu: arm64", `selector key "cpu" not supported`},
		{"long short description", "shortDescription: Capture, filter and export workload traffic", "shortDescription: Capture, filter and export the traffic of Kubernetes workloads", "more than 50"},
		{"http uri", "uri: \"https://github.com", "uri: \"http://github.com", "not an https URL"},
		{"unknown field", "    bin: kubectl-shark\n", "    bin: kubectl-shark\n    binary: x\n", "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(c.old)) {
				t.Fatalf("the manifest has no %q", c.old)
			}
			p, err := Parse(bytes.Replace(good, []byte(c.old), []byte(c.new), 1))
			var msgs []string
			if err != nil {
				msgs = append(msgs, err.Error())
			} else {
				for _, e := range Validate("shark.yaml", p, Release{URIBase: uriBase, Binary: binary}) {
					msgs = append(msgs, e.Error())
				}
			}
			if !strings.Contains(strings.Join(msgs, "\n"), c.want) {
				t.Errorf("want an error containing %q, got %q", c.want, msgs)
			}
		})
	}
}

// distDir is the output of hack/dist/dist.sh: $SHARK_DIST_DIR when set (make
// dist-verify), else a fresh run into a temp dir (without the sniffer images unless
// SHARK_DIST_IMAGES=1). It returns the directory and the version dist.sh used ("" when
// not known in advance).
func distDir(t *testing.T) (string, string) {
	if d := os.Getenv("SHARK_DIST_DIR"); d != "" {
		return d, ""
	}
	if testing.Short() {
		t.Skip("builds the plugin for six platforms: not with -short")
	}
	v, err := exec.Command(filepath.Join(repoRoot, "hack/dist/version.sh")).Output()
	if err != nil {
		t.Fatalf("version.sh: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(repoRoot, "hack/dist/dist.sh"), dir)
	cmd.Env = os.Environ()
	if os.Getenv("SHARK_DIST_IMAGES") != "1" {
		cmd.Env = append(cmd.Env, "DIST_IMAGES=0")
	}
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist.sh: %v\n%s", err, b)
	} else {
		t.Logf("dist.sh (%s):\n%s", time.Since(start).Round(time.Second), b)
	}
	return dir, strings.TrimSpace(string(v))
}

type buildInfo struct {
	Version, Commit, Date, SnifferImage string
}

// TestDist checks dist.sh's output as a release: checksums, the rendered manifest
// (krew's rules), every archive (contents, reproducibility attributes, the binary's
// format), an install of every platform as krew does it, and the installed plugin of
// this machine's platform run: version, sniffer image, shell completion.
func TestDist(t *testing.T) {
	dir, wantVersion := distDir(t)

	// checksums.txt lists every archive and image, with the right sums.
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dir, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^([a-f0-9]{64})  ([^/\s]+)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Errorf("checksums.txt: bad line %q", sc.Text())
			continue
		}
		sums[m[2]] = m[1]
	}
	f.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var archives []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "kubectl-shark_") || (strings.HasPrefix(n, "shark-sniffer_") && strings.HasSuffix(n, ".tar")) {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			s := sha256.Sum256(b)
			if got := hex.EncodeToString(s[:]); sums[n] != got {
				t.Errorf("checksums.txt: %s has sha256 %q, the file %s", n, sums[n], got)
			}
			delete(sums, n)
			if strings.HasPrefix(n, "kubectl-shark_") {
				archives = append(archives, n)
			}
		}
	}
	for n := range sums {
		t.Errorf("checksums.txt lists %s, which is not there", n)
	}

	// The manifest.
	mb, err := os.ReadFile(filepath.Join(dir, "shark.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mb, []byte("{{")) {
		t.Fatal("shark.yaml still has placeholders")
	}
	p, err := Parse(mb)
	if err != nil {
		t.Fatalf("shark.yaml: %v", err)
	}
	version := p.Spec.Version
	if wantVersion != "" && version != wantVersion {
		t.Errorf("shark.yaml says %s, version.sh %s", version, wantVersion)
	}
	for _, err := range Validate("shark.yaml", p, Release{Version: wantVersion, URIBase: uriBase, Binary: binary}) {
		t.Error(err)
	}
	var uris []string
	for _, pl := range p.Spec.Platforms {
		uris = append(uris, filepath.Base(pl.URI))
	}
	sort.Strings(uris)
	sort.Strings(archives)
	if strings.Join(uris, " ") != strings.Join(archives, " ") {
		t.Errorf("the manifest's archives %v are not the archives in %s: %v", uris, dir, archives)
	}

	// Every platform, installed the way krew does.
	var host *buildInfo
	var mtimes []time.Time
	for _, pf := range platforms {
		goos, goarch := pf[0], pf[1]
		t.Run(goos+"_"+goarch, func(t *testing.T) {
			pl, ok := MatchingPlatform(p, goos, goarch)
			if !ok {
				t.Fatalf("no platform in shark.yaml")
			}
			archive, err := os.ReadFile(filepath.Join(dir, filepath.Base(pl.URI)))
			if err != nil {
				t.Fatal(err)
			}
			mtimes = append(mtimes, checkArchive(t, archive, goos))
			root := t.TempDir()
			installDir, link, err := Install(root, p.Name, version, pl, archive)
			if err != nil {
				t.Fatalf("install: %v", err)
			}
			bin := filepath.Join(installDir, pl.Bin)
			checkBinary(t, bin, goos, goarch, version)
			for _, f := range []string{"LICENSE", "README.md", "kubectl_complete-shark"} {
				if _, err := os.Stat(filepath.Join(installDir, f)); err != nil {
					t.Errorf("not installed: %s", f)
				}
			}
			if goos == runtime.GOOS && goarch == runtime.GOARCH {
				host = runInstalled(t, link, installDir, version)
			}
		})
	}

	// The archives' mtime is the build's date.
	if host != nil {
		date, err := time.Parse(time.RFC3339, host.Date)
		if err != nil {
			t.Errorf("the plugin's date %q: %v", host.Date, err)
		}
		for _, m := range mtimes {
			if !m.Equal(date) {
				t.Errorf("an archive's entries have mtime %v, the plugin was stamped %v", m, date)
			}
		}
	} else {
		t.Logf("no archive for %s/%s: nothing run", runtime.GOOS, runtime.GOARCH)
	}
	checkImages(t, dir, version, host)
}

// checkArchive checks the entries of one archive and returns their common mtime.
func checkArchive(t *testing.T, b []byte, goos string) time.Time {
	t.Helper()
	type ent struct {
		name  string
		mode  os.FileMode
		mtime time.Time
		owner string
	}
	var ents []ent
	if goos == "windows" {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			ents = append(ents, ent{f.Name, f.Mode(), f.Modified.UTC(), "0:0"})
		}
	} else {
		gz, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if gz.Name != "" || !gz.ModTime.IsZero() {
			t.Errorf("gzip header has name %q, mtime %v", gz.Name, gz.ModTime)
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
				t.Errorf("%s: tar entry type %c, want a regular file", h.Name, h.Typeflag)
			}
			ents = append(ents, ent{h.Name, os.FileMode(h.Mode), h.ModTime.UTC(), fmt.Sprintf("%d:%d%s%s", h.Uid, h.Gid, h.Uname, h.Gname)})
		}
	}
	bin := "kubectl-shark"
	want := []string{"LICENSE", "README.md", bin, "kubectl_complete-shark"}
	if goos == "windows" {
		want = []string{"LICENSE", "README.md", bin + ".exe", "kubectl_complete-shark", "kubectl_complete-shark.cmd"}
	}
	var names []string
	for i, e := range ents {
		names = append(names, e.name)
		if i > 0 && e.name < ents[i-1].name {
			t.Errorf("entries not sorted: %s after %s", e.name, ents[i-1].name)
		}
		if !e.mtime.Equal(ents[0].mtime) {
			t.Errorf("%s: mtime %v, %s has %v", e.name, e.mtime, ents[0].name, ents[0].mtime)
		}
		if e.owner != "0:0" {
			t.Errorf("%s: owner %s, want 0:0 without names", e.name, e.owner)
		}
		wantMode := os.FileMode(0o644)
		if e.name == bin || e.name == bin+".exe" || e.name == "kubectl_complete-shark" {
			wantMode = 0o755
		}
		if e.mode.Perm() != wantMode {
			t.Errorf("%s: mode %v, want %v", e.name, e.mode.Perm(), wantMode)
		}
	}
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("archive holds %v, want %v", names, want)
	}
	if len(ents) == 0 {
		t.Fatal("empty archive")
	}
	return ents[0].mtime
}

// checkBinary checks the executable's format, CPU, static linking (linux), and the
// version stamped into it.
func checkBinary(t *testing.T, bin, goos, goarch, version string) {
	t.Helper()
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	switch goos {
	case "linux":
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not ELF: %v", err)
		}
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if f.Machine != want {
			t.Errorf("ELF machine %v, want %v", f.Machine, want)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("dynamically linked: CGO_ENABLED=0 should give a static binary")
			}
		}
	case "darwin":
		f, err := macho.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not Mach-O: %v", err)
		}
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
		if f.Cpu != want {
			t.Errorf("Mach-O CPU %v, want %v", f.Cpu, want)
		}
	case "windows":
		f, err := pe.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not PE: %v", err)
		}
		want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[goarch]
		if f.Machine != want {
			t.Errorf("PE machine %#x, want %#x", f.Machine, want)
		}
	}
	if !bytes.Contains(b, []byte(version)) {
		t.Errorf("the binary does not hold its version %s (ldflags -X)", version)
	}
}

// runInstalled runs what krew installed, through krew's link, as kubectl would.
func runInstalled(t *testing.T, link, installDir, version string) *buildInfo {
	t.Helper()
	out, err := exec.Command(link, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl-shark version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "kubectl-shark "+version+" ") {
		t.Errorf("kubectl-shark version does not say %s:\n%s", version, out)
	}
	out, err = exec.Command(link, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var bi buildInfo
	if err := json.Unmarshal(out, &bi); err != nil {
		t.Fatal(err)
	}
	tag := version
	if tag == "v0.0.0-dev" {
		tag = "dev"
	}
	repo := imageRepo
	if r := os.Getenv("IMAGE_REPOSITORY"); r != "" && os.Getenv("SHARK_DIST_DIR") == "" {
		repo = r
	}
	if bi.Version != version || bi.Commit == "" || bi.Commit == "unknown" || bi.SnifferImage != repo+":"+tag {
		t.Errorf("version -o json = %+v; want version %s, a commit, sniffer image %s:%s", bi, version, repo, tag)
	}
	if !strings.Contains(string(mustRun(t, link, "version")), "sniffer image: "+bi.SnifferImage) {
		t.Error("kubectl-shark version does not print the sniffer image")
	}

	// Shell completion: the completion script, and kubectl_complete-shark run the way
	// kubectl runs it (kubectl here dispatches to kubectl-<plugin> on PATH, as kubectl does).
	script := mustRun(t, link, "completion", "bash")
	if bash, err := exec.LookPath("bash"); err == nil {
		f := filepath.Join(t.TempDir(), "c.bash")
		if err := os.WriteFile(f, script, 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(bash, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("completion bash is not valid bash: %v\n%s", err, b)
		}
	}
	binDir := filepath.Dir(link)
	kubectl := "#!/bin/sh\nplugin=$1; shift\nexec \"kubectl-$plugin\" \"$@\"\n"
	if err := os.WriteFile(filepath.Join(binDir, "kubectl"), []byte(kubectl), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(installDir, "kubectl_complete-shark"), "")
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("kubectl_complete-shark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	offered := map[string]bool{}
	for _, l := range lines {
		offered[strings.SplitN(l, "\t", 2)[0]] = true
	}
	if !strings.HasPrefix(lines[len(lines)-1], ":") || !offered["capture"] || !offered["export"] || !offered["completion"] {
		t.Errorf("kubectl_complete-shark '' does not answer with the commands and a directive:\n%s", out)
	}
	return &bi
}

func mustRun(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	b, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return b
}

// checkImages checks the sniffer images, when dist.sh built them: named exactly as the
// plugin's default sniffer image, one per platform, and one OCI index with both.
func checkImages(t *testing.T, dir, version string, host *buildInfo) {
	oci := filepath.Join(dir, "shark-sniffer_"+version+".oci.tar")
	if _, err := os.Stat(oci); err != nil {
		t.Log("no sniffer images in the output (DIST_IMAGES=0)")
		return
	}
	ref := ""
	if host != nil {
		ref = host.SnifferImage
	}
	files := tarFiles(t, oci)
	var top struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(files["index.json"], &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("%s: index.json: %v %+v", oci, err, top)
	}
	name := top.Manifests[0].Annotations["io.containerd.image.name"]
	if ref != "" && name != ref {
		t.Errorf("the OCI image is named %q, the plugin runs %q", name, ref)
	}
	var index struct {
		Manifests []struct {
			Platform struct{ OS, Architecture string }
		}
	}
	if err := json.Unmarshal(files["blobs/sha256/"+strings.TrimPrefix(top.Manifests[0].Digest, "sha256:")], &index); err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, m := range index.Manifests {
		plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if strings.Join(plats, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("the OCI index has %v, want linux/amd64 linux/arm64", plats)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		f := filepath.Join(dir, "shark-sniffer_"+version+"_linux_"+arch+".docker.tar")
		files := tarFiles(t, f)
		var man []struct {
			Config   string
			RepoTags []string
		}
		if err := json.Unmarshal(files["manifest.json"], &man); err != nil || len(man) != 1 {
			t.Fatalf("%s: manifest.json: %v", f, err)
		}
		if len(man[0].RepoTags) != 1 || man[0].RepoTags[0] != name {
			t.Errorf("%s is tagged %v, want %s", f, man[0].RepoTags, name)
		}
		var cfg struct{ OS, Architecture string }
		if err := json.Unmarshal(files[man[0].Config], &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.OS != "linux" || cfg.Architecture != arch {
			t.Errorf("%s: config says %s/%s", f, cfg.OS, cfg.Architecture)
		}
	}
}

// tarFiles returns the small files of a tarball (manifests, configs, indexes).
func tarFiles(t *testing.T, p string) map[string][]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Clean(h.Name)] = b
		}
	}
}
