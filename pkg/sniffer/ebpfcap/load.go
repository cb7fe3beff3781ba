package ebpfcap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/bpf"
	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
)

// Errors of Open, wrapped with the cause and a hint for the user; test them
// with errors.Is.
var (
	// ErrPermission: the process may not load eBPF programs or attach them
	// to TC hooks.
	ErrPermission = errors.New("not permitted")
	// ErrNotSupported: the kernel lacks a feature the backend needs (BPF ring
	// buffers, TC programs).
	ErrNotSupported = errors.New("not supported by this kernel")
	// ErrRejected: the verifier rejected a program; the error carries the
	// end of its log.
	ErrRejected = errors.New("rejected by the verifier")
)

const (
	hintPermission   = "the sniffer needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, or use --backend af_packet"
	hintNotSupported = "the eBPF backend needs Linux 5.8 or later with BPF ring buffers, or use --backend af_packet"
	verifierLogLines = 12
)

// kernelError is a failure to load or attach, classified for the user.
type kernelError struct {
	step string // "loading the eBPF capture program", …
	kind error  // ErrPermission, ErrNotSupported, ErrRejected or nil
	err  error
	text string // shown instead of err's text when set
	hint string
}

func (e *kernelError) Error() string {
	var b strings.Builder
	b.WriteString(e.step)
	b.WriteString(": ")
	if e.text != "" {
		b.WriteString(e.text)
	} else {
		b.WriteString(e.err.Error())
	}
	if e.hint != "" {
		b.WriteString(" (" + e.hint + ")")
	}
	return b.String()
}

func (e *kernelError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// classify wraps an error of the bpf(2) or rtnetlink calls of step: missing
// privileges and kernel features get a sentinel and a hint, verifier errors
// the tail of the verifier's log.
func classify(step string, err error) error {
	if err == nil {
		return nil
	}
	var ve *ebpf.VerifierError
	switch {
	case errors.As(err, &ve):
		log := ve.Log
		if len(log) > verifierLogLines {
			log = log[len(log)-verifierLogLines:]
		}
		text := fmt.Sprintf("%v: %v; verifier log (end):\n%s", ErrRejected, ve.Cause, strings.Join(log, "\n"))
		return &kernelError{step: step, kind: ErrRejected, err: err, text: text}
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		// The library's own hint (RLIMIT_MEMLOCK) does not apply: kernels
		// with BPF ring buffers account BPF memory to the memory cgroup.
		text := unix.EPERM.Error()
		if errors.Is(err, unix.EACCES) {
			text = unix.EACCES.Error()
		}
		return &kernelError{step: step, kind: ErrPermission, err: err, text: text, hint: hintPermission}
	case errors.Is(err, ebpf.ErrNotSupported), errors.Is(err, btf.ErrNotSupported):
		return &kernelError{step: step, kind: ErrNotSupported, err: err, hint: hintNotSupported}
	}
	return &kernelError{step: step, err: err}
}

// objects are the loaded programs and maps of a Handle.
type objects struct {
	bpf.CaptureObjects
	// The programs attached to the ingress and egress hooks: the capture
	// programs, or the filter programs that tail-call them.
	ingress, egress *ebpf.Program
	// With a filter in the kernel: the filter programs and their tail-call
	// table (0: capture_ingress, 1: capture_egress).
	filterIn, filterEg *ebpf.Program
	tails              *ebpf.Map
}

func (o *objects) Close() error {
	// Close is nil-safe on programs and maps.
	return errors.Join(o.CaptureObjects.Close(), o.filterIn.Close(), o.filterEg.Close(), o.tails.Close())
}

// loadSettings are what the kernel objects are loaded with.
type loadSettings struct {
	snapLen     uint32 // bytes copied per packet (≤ maxSnap)
	ringSize    uint32 // power of two, ≥ page size
	wakeupBytes uint32
}

// load loads the capture collection with the settings.
func load(s loadSettings) (*objects, error) {
	const step = "loading the eBPF capture program"
	spec, err := bpf.LoadCapture()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("%s: counting possible CPUs: %w", step, err)
	}
	spec.Maps[bpf.CaptureMapScratch].MaxEntries = uint32(ncpu)
	spec.Maps[bpf.CaptureMapPackets].MaxEntries = s.ringSize
	if err := spec.Variables[bpf.CaptureVarSnapLen].Set(s.snapLen); err != nil {
		return nil, fmt.Errorf("%s: setting snap_len: %w", step, err)
	}
	if err := spec.Variables[bpf.CaptureVarWakeupBytes].Set(s.wakeupBytes); err != nil {
		return nil, fmt.Errorf("%s: setting wakeup_bytes: %w", step, err)
	}
	o := &objects{}
	if err := spec.LoadAndAssign(&o.CaptureObjects, nil); err != nil {
		return nil, classify(step, err)
	}
	o.ingress, o.egress = o.CaptureIngress, o.CaptureEgress
	return o, nil
}

// loadFilter loads the filter programs for f and makes them the entry
// programs.
func (o *objects) loadFilter(f *capfilter.Filter) error {
	const step = "loading the eBPF filter program"
	t, err := translate(f.Instructions())
	if err != nil {
		return err
	}
	o.tails, err = ebpf.NewMap(&ebpf.MapSpec{Name: "capture_tails", Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	if err != nil {
		return classify(step, err)
	}
	if err := o.tails.Put(uint32(0), o.CaptureIngress); err != nil {
		return classify(step, err)
	}
	if err := o.tails.Put(uint32(1), o.CaptureEgress); err != nil {
		return classify(step, err)
	}
	for _, p := range []struct {
		name string
		idx  int32
		dst  **ebpf.Program
	}{{"capture_filt_in", 0, &o.filterIn}, {"capture_filt_eg", 1, &o.filterEg}} {
		spec, err := filterProgram(t, p.name, o.tails, p.idx)
		if err != nil {
			return err
		}
		if *p.dst, err = ebpf.NewProgram(spec); err != nil {
			return classify(step, err)
		}
	}
	o.ingress, o.egress = o.filterIn, o.filterEg
	return nil
}
