//go:build linux

package bpf

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
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

// TestTLSLoads loads each TLS probe program, every flavour of socket hook
// and both kinds of uprobe included, into the running kernel with the
// loader's settings. fentry may be
// refused with EPERM by a kernel's security policy (as on the CI machine,
// whose kernel also lacks CONFIG_KPROBES; kprobe-type programs still load,
// uprobes use that type); the loader then falls back to another flavour.
func TestTLSLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CI runs as root)")
	}
	spec, err := LoadTLS()
	if err != nil {
		t.Fatal(err)
	}
	spec.Maps[TLSMapEvents].MaxEntries = 1 << 20
	if err := spec.Variables[TLSVarTargetNetns].Set(uint32(4026531840)); err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables[TLSVarWakeupBytes].Set(uint32(256 << 10)); err != nil {
		t.Fatal(err)
	}
	if len(spec.Programs) != 15 {
		t.Errorf("%d programs, want 15", len(spec.Programs))
	}
	type variant struct {
		name  string
		multi bool // loaded for uprobe_multi links, as the loader does on 6.6+
	}
	var variants []variant
	for name, ps := range spec.Programs {
		variants = append(variants, variant{name, false})
		if strings.HasPrefix(ps.SectionName, "uprobe/") || strings.HasPrefix(ps.SectionName, "uretprobe/") {
			variants = append(variants, variant{name, true})
		}
	}
	for _, v := range variants {
		name := v.name
		sub := spec.Copy()
		sub.Programs = map[string]*ebpf.ProgramSpec{name: sub.Programs[name]}
		if v.multi {
			sub.Programs[name].AttachType = ebpf.AttachTraceUprobeMulti
		}
		coll, err := ebpf.NewCollection(sub)
		if err != nil {
			var ve *ebpf.VerifierError
			switch {
			case errors.As(err, &ve):
				t.Errorf("%s: verifier: %+v", name, ve)
			case strings.HasSuffix(name, "_fentry") && errors.Is(err, unix.EPERM):
				t.Logf("%s: refused by this kernel: %v", name, err)
			default:
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		coll.Close()
	}
}
