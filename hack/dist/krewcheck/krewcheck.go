// Package krewcheck checks a krew plugin manifest and its archives the way krew does,
// without krew: Validate applies krew's structural validation (sigs.k8s.io/krew
// internal/index/validation), the checks of krew-index's CI (cmd/validate-krew-manifest)
// and kubectl-shark's own release rules; Install performs what `kubectl krew install
// --manifest=M --archive=A` does with one platform: verify the sha256, unpack the
// tar.gz or zip with krew's rules, apply the `files` operations, find `bin` and link it
// as kubectl-<name>. Its tests run hack/dist/dist.sh and check the result.
package krewcheck

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8sversion "k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// The manifest types, as krew's pkg/index declares them.
type (
	// Plugin is a krew plugin manifest.
	Plugin struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata,omitempty"`
		Spec              PluginSpec `json:"spec"`
	}
	// PluginSpec is the manifest's spec.
	PluginSpec struct {
		Version          string     `json:"version,omitempty"`
		ShortDescription string     `json:"shortDescription,omitempty"`
		Description      string     `json:"description,omitempty"`
		Caveats          string     `json:"caveats,omitempty"`
		Homepage         string     `json:"homepage,omitempty"`
		Platforms        []Platform `json:"platforms,omitempty"`
	}
	// Platform is one installation candidate.
	Platform struct {
		URI      string                `json:"uri,omitempty"`
		Sha256   string                `json:"sha256,omitempty"`
		Selector *metav1.LabelSelector `json:"selector,omitempty"`
		Files    []FileOperation       `json:"files"`
		Bin      string                `json:"bin"`
	}
	// FileOperation moves files matching From (a glob) to To, relative paths.
	FileOperation struct {
		From string `json:"from,omitempty"`
		To   string `json:"to,omitempty"`
	}
)

// Parse decodes a manifest strictly: an unknown or misspelt field is an error.
func Parse(b []byte) (Plugin, error) {
	var p Plugin
	err := yaml.UnmarshalStrict(b, &p)
	return p, err
}

const (
	krewAPIVersion = "krew.googlecontainertools.github.com/v1alpha2"
	sourceKrew     = "krew validation"
	sourceIndexCI  = "krew-index CI"
	sourceInstall  = "krew install"
	sourceNaming   = "krew naming guide"
	sourceShark    = "kubectl-shark release rule"
)

var (
	safePluginName   = regexp.MustCompile(`^[\w-]+$`)                 // krew IsSafePluginName
	namingGuideName  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`) // lowercase, dashes between words
	validSHA256      = regexp.MustCompile(`^[a-f0-9]{64}$`)
	windowsForbidden = []string{"CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
		"COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}
)

// SupportedPlatforms are the <os, arch> pairs a platform selector may select: krew's
// list (cmd/validate-krew-manifest) with the arm64 ports krew installs on today.
var SupportedPlatforms = [][2]string{
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"linux", "386"}, {"linux", "amd64"}, {"linux", "arm"}, {"linux", "arm64"}, {"linux", "ppc64le"}, {"linux", "s390x"},
	{"windows", "386"}, {"windows", "amd64"}, {"windows", "arm64"},
}

// Release describes what kubectl-shark's manifest must say beyond krew's rules.
type Release struct {
	Version string // the expected spec.version ("" accepts any)
	URIBase string // e.g. https://github.com/kubectl-shark/kubectl-shark/releases/download
	Binary  string // the executable's name without .exe, e.g. kubectl-shark
}

// Validate returns every rule the manifest file fileName (e.g. shark.yaml) with
// content p breaks, each error naming where the rule comes from.
func Validate(fileName string, p Plugin, rel Release) []error {
	var errs []error
	bad := func(source, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s (%s)", fmt.Sprintf(format, a...), source))
	}
	ext := filepath.Ext(fileName)
	name := strings.TrimSuffix(filepath.Base(fileName), ext)
	if ext != ".yaml" {
		bad(sourceIndexCI, "manifest file %s: the extension must be .yaml", fileName)
	}

	// krew: internal/index/validation.ValidatePlugin
	if p.APIVersion != krewAPIVersion {
		bad(sourceKrew, "apiVersion is %q, want %q", p.APIVersion, krewAPIVersion)
	}
	if p.Kind != "Plugin" {
		bad(sourceKrew, "kind is %q, want Plugin", p.Kind)
	}
	if !isSafePluginName(name) {
		bad(sourceKrew, "plugin name %q must match %s and not be a reserved Windows name", name, safePluginName)
	}
	if p.Name != name {
		bad(sourceKrew, "metadata.name is %q, the file is named for %q", p.Name, name)
	}
	if p.Spec.ShortDescription == "" {
		bad(sourceKrew, "spec.shortDescription is empty")
	}
	if strings.ContainsAny(p.Spec.ShortDescription, "\r\n") {
		bad(sourceKrew, "spec.shortDescription has a line break")
	}
	if len(p.Spec.Platforms) == 0 {
		bad(sourceKrew, "spec.platforms is empty")
	}
	if err := parseVersion(p.Spec.Version); err != nil {
		bad(sourceKrew, "spec.version: %v", err)
	}
	for i, pl := range p.Spec.Platforms {
		for _, err := range validatePlatform(pl) {
			bad(sourceKrew, "spec.platforms[%d]: %v", i, err)
		}
		for _, fo := range pl.Files {
			if fo.To != filepath.Clean(fo.To) {
				bad(sourceInstall, "spec.platforms[%d].files: to %q is not a clean path (%q)", i, fo.To, filepath.Clean(fo.To))
			}
		}
	}

	// krew-index CI: cmd/validate-krew-manifest
	for field, lim := range map[string]struct {
		s   string
		max int
	}{"description": {p.Spec.Description, 80}, "shortDescription": {p.Spec.ShortDescription, 70}, "caveats": {p.Spec.Caveats, 80}} {
		if !lineLengthOK(lim.s, lim.max) {
			bad(sourceIndexCI, "a line of spec.%s is longer than %d characters", field, lim.max)
		}
	}
	for i, pl := range p.Spec.Platforms {
		if !matchesAnyPlatform(pl.Selector) {
			bad(sourceIndexCI, "spec.platforms[%d]'s selector %v selects no supported platform", i, pl.Selector)
		}
	}
	for _, sp := range SupportedPlatforms {
		var idx []int
		for i, pl := range p.Spec.Platforms {
			if selectorMatches(pl.Selector, sp[0], sp[1]) {
				idx = append(idx, i)
			}
		}
		if len(idx) > 1 {
			bad(sourceIndexCI, "spec.platforms %v all select %s/%s", idx, sp[0], sp[1])
		}
	}

	// The naming guide: lowercase words joined by dashes, no "kubectl" in the name.
	if !namingGuideName.MatchString(name) || strings.Contains(name, "kubectl") {
		bad(sourceNaming, "plugin name %q: lowercase letters and digits, words joined by '-', without \"kubectl\"", name)
	}

	// kubectl-shark's own rules for what it publishes.
	if u, err := url.Parse(p.Spec.Homepage); err != nil || u.Scheme != "https" || u.Host == "" {
		bad(sourceShark, "spec.homepage %q is not an https URL", p.Spec.Homepage)
	}
	if n := len(p.Spec.ShortDescription); n > 50 {
		bad(sourceShark, "spec.shortDescription has %d characters, more than 50", n)
	}
	if strings.TrimSpace(p.Spec.Description) == "" {
		bad(sourceShark, "spec.description is empty")
	}
	if rel.Version != "" && p.Spec.Version != rel.Version {
		bad(sourceShark, "spec.version is %q, want %q", p.Spec.Version, rel.Version)
	}
	for i, pl := range p.Spec.Platforms {
		goos, goarch := pl.OSArch()
		if pl.Selector == nil || len(pl.Selector.MatchLabels) != 2 || goos == "" || goarch == "" || len(pl.Selector.MatchExpressions) > 0 {
			bad(sourceShark, "spec.platforms[%d]: the selector must be exactly matchLabels {os, arch}", i)
			continue
		}
		bin := rel.Binary
		ext := ".tar.gz"
		if goos == "windows" {
			bin += ".exe"
			ext = ".zip"
		}
		if rel.Binary != "" && pl.Bin != bin {
			bad(sourceShark, "spec.platforms[%d] (%s/%s): bin is %q, want %q", i, goos, goarch, pl.Bin, bin)
		}
		if goos == "windows" && !strings.HasSuffix(pl.Bin, ".exe") {
			bad(sourceShark, "spec.platforms[%d]: a Windows bin must end in .exe, not %q", i, pl.Bin)
		}
		if u, err := url.Parse(pl.URI); err != nil || u.Scheme != "https" {
			bad(sourceShark, "spec.platforms[%d]: uri %q is not an https URL", i, pl.URI)
		}
		if rel.URIBase != "" {
			want := fmt.Sprintf("%s/%s/%s_%s_%s_%s%s", rel.URIBase, p.Spec.Version, rel.Binary, p.Spec.Version, goos, goarch, ext)
			if pl.URI != want {
				bad(sourceShark, "spec.platforms[%d]: uri is %q, want %q", i, pl.URI, want)
			}
		}
		if len(pl.Files) == 0 {
			bad(sourceShark, "spec.platforms[%d]: files must list what to install", i)
		}
	}
	return errs
}

// OSArch returns the os and arch labels of the platform's matchLabels.
func (p Platform) OSArch() (string, string) {
	if p.Selector == nil {
		return "", ""
	}
	return p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
}

func isSafePluginName(name string) bool {
	if !safePluginName.MatchString(name) {
		return false
	}
	for _, f := range windowsForbidden {
		if strings.EqualFold(f, name) {
			return false
		}
	}
	return true
}

// parseVersion is krew's semver.Parse: a leading v, then a semantic version as
// k8s.io/apimachinery parses it.
func parseVersion(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if !strings.HasPrefix(s, "v") {
		return fmt.Errorf("%q does not start with 'v'", s)
	}
	_, err := k8sversion.ParseSemantic(s)
	return err
}

func validatePlatform(p Platform) []error {
	var errs []error
	if p.URI == "" {
		errs = append(errs, errors.New("`uri` has to be set"))
	}
	if p.Sha256 == "" {
		errs = append(errs, errors.New("`sha256` sum has to be set"))
	} else if !validSHA256.MatchString(p.Sha256) {
		errs = append(errs, fmt.Errorf("`sha256` value %s must match %s", p.Sha256, validSHA256))
	}
	if p.Bin == "" {
		errs = append(errs, errors.New("`bin` has to be set"))
	}
	if p.Files != nil && len(p.Files) == 0 {
		errs = append(errs, errors.New("`files` has to be unspecified or non-empty"))
	}
	for _, op := range p.Files {
		if op.From == "" || op.To == "" {
			errs = append(errs, errors.New("`from` and `to` have to be set in every `files` entry"))
		}
	}
	sel := p.Selector
	switch {
	case sel == nil:
		errs = append(errs, errors.New("nil selector is not supported"))
	case sel.MatchLabels == nil && len(sel.MatchExpressions) == 0:
		errs = append(errs, errors.New("empty selector is not supported"))
	default:
		for k := range sel.MatchLabels {
			if k != "os" && k != "arch" {
				errs = append(errs, fmt.Errorf("selector key %q not supported", k))
			}
		}
		for _, e := range sel.MatchExpressions {
			if e.Key != "os" && e.Key != "arch" {
				errs = append(errs, fmt.Errorf("selector key %q not supported", e.Key))
			}
		}
		if sel.MatchLabels != nil && len(sel.MatchLabels) == 0 {
			errs = append(errs, errors.New("`matchLabels` specified but empty"))
		}
		if sel.MatchExpressions != nil && len(sel.MatchExpressions) == 0 {
			errs = append(errs, errors.New("`matchExpressions` specified but empty"))
		}
	}
	return errs
}

func selectorMatches(sel *metav1.LabelSelector, os, arch string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set{"os": os, "arch": arch})
}

func matchesAnyPlatform(sel *metav1.LabelSelector) bool {
	for _, p := range SupportedPlatforms {
		if selectorMatches(sel, p[0], p[1]) {
			return true
		}
	}
	return false
}

// lineLengthOK is krew-index's check: no line longer than max, unless it is one word.
func lineLengthOK(s string, max int) bool {
	for _, line := range strings.Split(s, "\n") {
		if len(line) > max && strings.Contains(strings.TrimSpace(line), " ") {
			return false
		}
	}
	return true
}

// MatchingPlatform returns the manifest's platform for os/arch, as krew picks it.
func MatchingPlatform(p Plugin, goos, goarch string) (Platform, bool) {
	for _, pl := range p.Spec.Platforms {
		if selectorMatches(pl.Selector, goos, goarch) {
			return pl, true
		}
	}
	return Platform{}, false
}

// Install installs platform pl of plugin name from archive the way `kubectl krew
// install --manifest --archive` does, under root (krew's KREW_ROOT): it verifies the
// sha256, unpacks into a staging directory, moves the `files` into
// root/store/NAME/VERSION and links root/bin/kubectl-NAME to `bin`. It returns the
// installation directory and the link.
func Install(root, name, version string, pl Platform, archive []byte) (installDir, link string, err error) {
	sum := sha256.Sum256(archive)
	if got := hex.EncodeToString(sum[:]); got != pl.Sha256 {
		return "", "", fmt.Errorf("checksum does not match: the archive has sha256 %s, the manifest says %s", got, pl.Sha256)
	}
	staging, err := os.MkdirTemp("", "krewcheck-download")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(staging)
	if err := extract(staging, archive); err != nil {
		return "", "", err
	}
	files := pl.Files
	if files == nil {
		files = []FileOperation{{From: "*", To: "."}}
	}
	installDir = filepath.Join(root, "store", name, version)
	if err := os.MkdirAll(installDir, 0o755); err != nil {
		return "", "", err
	}
	for _, fo := range files {
		if err := moveFiles(staging, installDir, fo); err != nil {
			return "", "", fmt.Errorf("files %+v: %w", fo, err)
		}
	}
	bin := filepath.Join(installDir, filepath.FromSlash(pl.Bin))
	if !isSubPath(installDir, bin) {
		return "", "", fmt.Errorf("bin %q is outside the installation directory", pl.Bin)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("bin %q is not in the installed files: %w", pl.Bin, err)
	}
	binDir := filepath.Join(root, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", "", err
	}
	link = filepath.Join(binDir, "kubectl-"+strings.ReplaceAll(name, "-", "_"))
	rel, err := filepath.Rel(binDir, bin)
	if err != nil {
		return "", "", err
	}
	return installDir, link, os.Symlink(rel, link)
}

// extract is krew's extractArchive: the type comes from the content (zip or gzip), and
// entries are refused when their path is suspicious; tar may hold only directories and
// regular files.
func extract(dst string, b []byte) error {
	head := b[:min(len(b), 512)]
	switch t := strings.Split(http.DetectContentType(head), ";")[0]; t {
	case "application/zip":
		return extractZip(dst, b)
	case "application/x-gzip":
		return extractTarGz(dst, b)
	default:
		return fmt.Errorf("mime type %q is not a supported archive format", t)
	}
}

func suspiciousPath(p string) error {
	if strings.Contains(p, "..") {
		return fmt.Errorf("refusing to unpack archive with suspicious entry %q", p)
	}
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) {
		return fmt.Errorf("refusing to unpack archive with absolute entry %q", p)
	}
	return nil
}

func extractZip(dst string, b []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		if err := suspiciousPath(f.Name); err != nil {
			return err
		}
		p := filepath.Join(dst, filepath.FromSlash(f.Name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(p, f.Mode()); err != nil {
				return err
			}
			continue
		}
		if err := writeEntry(p, f.Mode(), func() (io.ReadCloser, error) { return f.Open() }); err != nil {
			return err
		}
	}
	return nil
}

func extractTarGz(dst string, b []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Name == "pax_global_header" {
			continue
		}
		if err := suspiciousPath(hdr.Name); err != nil {
			return err
		}
		p := filepath.Join(dst, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(hdr.Mode)); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeEntry(p, os.FileMode(hdr.Mode), func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unable to handle file type %d for %q in tar", hdr.Typeflag, hdr.Name)
		}
	}
}

func writeEntry(p string, mode os.FileMode, open func() (io.ReadCloser, error)) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	src, err := open()
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// moveFiles is krew's findMoveTargets + moveFiles: a `from` naming one existing file is
// moved to `to` ("." keeps its name); otherwise `from` is a glob whose matches go into
// the directory `to`.
func moveFiles(fromDir, toDir string, fo FileOperation) error {
	if fo.To != filepath.Clean(fo.To) {
		return fmt.Errorf("the path %q is not clean, it should be %q", fo.To, filepath.Clean(fo.To))
	}
	type move struct{ from, to string }
	var moves []move
	direct := filepath.Clean(filepath.Join(fromDir, fo.From))
	if _, err := os.Stat(direct); err == nil {
		to := fo.To
		if filepath.Clean(to) == "." {
			to = filepath.Base(direct)
		}
		moves = append(moves, move{direct, filepath.Join(toDir, filepath.FromSlash(to))})
	} else {
		matches, err := filepath.Glob(filepath.Join(fromDir, filepath.FromSlash(fo.From)))
		if err != nil {
			return err
		}
		if len(matches) == 0 {
			return fmt.Errorf("no files in the plugin archive matched the glob pattern=%s", fo.From)
		}
		for _, m := range matches {
			moves = append(moves, move{m, filepath.Join(toDir, filepath.FromSlash(fo.To), filepath.Base(m))})
		}
	}
	for _, m := range moves {
		if !isSubPath(fromDir, m.from) || !isSubPath(toDir, m.to) {
			return fmt.Errorf("can't move %s to %s: out of bounds", m.from, m.to)
		}
		if err := os.MkdirAll(filepath.Dir(m.to), 0o755); err != nil {
			return err
		}
		if err := os.Rename(m.from, m.to); err != nil {
			return err
		}
	}
	return nil
}

func isSubPath(base, p string) bool {
	rel, err := filepath.Rel(base, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
