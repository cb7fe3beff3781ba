package ebpfcap_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

func TestUnknownInterface(t *testing.T) {
	st.RequireRoot(t)
	pair := st.NewPair(t)
	ns := pair.Server.Open(t)
	fds := countFDs(t)
	before := tcState(t, pair.Server)
	_, err := ebpfcap.Open(ns, ebpfcap.Config{Interfaces: []string{pair.ServerIf, "nosuch0"}, ForceLegacyTC: true})
	if !errors.Is(err, ebpfcap.ErrNoSuchInterface) {
		t.Fatalf("Open: %v, want ErrNoSuchInterface", err)
	}
	want := fmt.Sprintf(`interface "nosuch0": no such interface (the namespace has lo, %s)`, pair.ServerIf)
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// What was attached before the error is gone again.
	if after := tcState(t, pair.Server); after != before {
		t.Errorf("TC state after the failed Open:\n%s", after)
	}
	if n := countFDs(t); n != fds {
		t.Errorf("%d descriptors open after the failed Open, %d before", n, fds)
	}

	// One interface only: lo's traffic is not captured.
	h, err := ebpfcap.Open(ns, ebpfcap.Config{Interfaces: []string{pair.ServerIf}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if got := ebpfcap.Attached(h); len(got) != 1 {
		t.Errorf("attached to %v", got)
	}
}

// TestPermissionError runs Open in a child process (this test binary) without
// capabilities: the error must say what is missing.
func TestPermissionError(t *testing.T) {
	if os.Getenv("EBPFCAP_TEST_CHILD") == "1" {
		_, err := ebpfcap.Open(nil, ebpfcap.Config{})
		fmt.Printf("is-permission=%v\nerror: %v\n", errors.Is(err, ebpfcap.ErrPermission), err)
		return
	}
	st.RequireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed: %v", err)
	}
	cmd := exec.Command(setpriv, "--bounding-set=-all", "--inh-caps=-all", "--", os.Args[0], "-test.run=^TestPermissionError$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EBPFCAP_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	const want = "error: loading the eBPF capture program: operation not permitted (the sniffer needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, or use --backend af_packet)"
	if !strings.Contains(string(out), "is-permission=true\n") || !strings.Contains(string(out), want) {
		t.Errorf("child without capabilities printed:\n%s\nwant:\n%s", out, want)
	}
}

// TestVerifierError checks the error of a program the verifier rejects.
func TestVerifierError(t *testing.T) {
	st.RequireRoot(t)
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SchedCLS,
		License: "MIT",
		// Returns R2, which is not initialized.
		Instructions: asm.Instructions{asm.Mov.Reg(asm.R0, asm.R2), asm.Return()},
	})
	err = ebpfcap.Classify("loading the eBPF capture program", err)
	if !errors.Is(err, ebpfcap.ErrRejected) {
		t.Fatalf("%v is not ErrRejected", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "loading the eBPF capture program: rejected by the verifier: ") || !strings.Contains(msg, "R2 !read_ok") {
		t.Errorf("message %q", msg)
	}
}
