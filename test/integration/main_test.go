// Package integration holds the privileged integration tests (tier 2): real network
// namespaces, real servers and clients from Debian packages, tcpdump recording, and
// tshark as the oracle. They drive the built kubectl-shark binary.
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var pluginBin, snifferBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kubectl-shark-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBin = filepath.Join(dir, "kubectl-shark")
	snifferBin = filepath.Join(dir, "shark-sniffer")
	for bin, pkg := range map[string]string{pluginBin: "./cmd/kubectl-shark", snifferBin: "./cmd/shark-sniffer"} {
		build := exec.Command("go", "build", "-o", bin, "github.com/kubectl-shark/kubectl-shark/"+pkg[2:])
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result of running the plugin.
type result struct {
	stdout, stderr string
	code           int
}

func shark(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(pluginBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running kubectl-shark %s: %v", strings.Join(args, " "), err)
	}
	return result{out.String(), errb.String(), code}
}

// mustShark runs the plugin and fails the test on a non-zero exit.
func mustShark(t *testing.T, args ...string) result {
	t.Helper()
	r := shark(t, args...)
	if r.code != 0 {
		t.Fatalf("kubectl-shark %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// jsonEntries runs `entries -o json` and decodes each line.
func jsonEntries(t *testing.T, file, kfl string) []map[string]any {
	t.Helper()
	r := mustShark(t, "entries", "-r", file, "--kfl", kfl, "-o", "json", "-q")
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("entries -o json printed a bad line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// tshark runs tshark and fails the test on an error or on anything on stderr other
// than the usual "running as root" note.
func tshark(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	if s := cleanToolStderr(errb.String()); s != "" {
		t.Fatalf("tshark %s warned:\n%s", strings.Join(args, " "), s)
	}
	return out.String()
}

// cleanToolStderr drops the lines Wireshark tools print for every root run.
func cleanToolStderr(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "Running as user \"root\"") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
