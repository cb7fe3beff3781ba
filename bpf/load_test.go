//go:build linux

package bpf

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
)

// TestCaptureLoads loads the capture programs into the running kernel: the verifier
// must accept them as committed, with the loader's settings.
func TestCaptureLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CI runs as root)")
	}
	spec, err := LoadCapture()
	if err != nil {
		t.Fatal(err)
	}
	spec.Maps[CaptureMapScratch].MaxEntries = uint32(runtime.NumCPU())
	if err := spec.Variables[CaptureVarSnapLen].Set(uint32(262144)); err != nil {
		t.Fatal(err)
	}
	var objs CaptureObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("verifier: %+v", ve)
		}
		t.Fatal(err)
	}
	defer objs.Close()
	if objs.CaptureIngress == nil || objs.CaptureEgress == nil || objs.Packets == nil {
		t.Fatal("missing objects")
	}
}
