package export

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Wireshark and tcpdump command-line tools are part of the test setup (Debian
// packages tshark and tcpdump): a missing tool fails the test.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed by this test (apt-get install -y tshark tcpdump): %v", name, err)
	}
	return p
}

// runTool runs a tool and returns its stdout; it fails the test if the tool exits
// non-zero or writes anything to stderr other than Wireshark's notice about running
// as root.
func runTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var rest []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if line == "" || strings.HasPrefix(line, `Running as user "root" and group "root".`) ||
			name == "tcpdump" && strings.HasPrefix(line, "reading from file ") ||
			// tcpdump says this of every LINUX_SLL2 capture it reads, its own included.
			name == "tcpdump" && line == "Warning: interface names might be incorrect" {
			continue
		}
		rest = append(rest, line)
	}
	if err != nil || len(rest) > 0 {
		t.Fatalf("%s %s: %v\nstderr:\n%s", name, strings.Join(args, " "), err, strings.Join(rest, "\n"))
	}
	return stdout.String()
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading fixture (regenerate with testdata/gen.sh): %v", err)
	}
	return b
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
