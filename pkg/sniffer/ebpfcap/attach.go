package ebpfcap

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
)

// Mode is how the programs are attached to the TC hooks.
type Mode string

// Modes.
const (
	// ModeTCX: TCX links (Linux 6.6+), which the kernel detaches by itself
	// when the process exits.
	ModeTCX Mode = "tcx"
	// ModeClsact: direct-action bpf filters on a clsact qdisc, through
	// rtnetlink; they stay attached if the process dies without Close.
	ModeClsact Mode = "tc-clsact"
)

// Names of the legacy TC filters (as `tc filter show` prints them).
const (
	filterNameIngress = "capture_ingress"
	filterNameEgress  = "capture_egress"
)

// attachment is what is attached to one interface.
type attachment struct {
	ifc     afpacket.Interface
	links   []link.Link // ModeTCX
	filters []tcFilter  // ModeClsact
	qdisc   bool        // ModeClsact: we added the clsact qdisc
}

// attach attaches the entry programs to ifc: ingress, and egress unless ifc is
// the loopback device (whose every packet also enters it). The first call
// chooses the mode: TCX where the kernel has it, unless ForceLegacyTC.
// Called with h.attMu held.
func (h *Handle) attach(ifc afpacket.Interface) (*attachment, error) {
	a := &attachment{ifc: ifc}
	egress := ifc.HardwareType != unix.ARPHRD_LOOPBACK
	if h.mode == "" || h.mode == ModeTCX {
		err := h.inNetns(func() error {
			for _, hook := range []struct {
				on     bool
				prog   *ebpf.Program
				attach ebpf.AttachType
				anchor link.Anchor
			}{
				// Ingress first, so that packets are seen before other
				// programs change them; egress last, close to the wire.
				{true, h.objs.ingress, ebpf.AttachTCXIngress, link.Head()},
				{egress, h.objs.egress, ebpf.AttachTCXEgress, link.Tail()},
			} {
				if !hook.on {
					continue
				}
				l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: hook.prog, Attach: hook.attach, Anchor: hook.anchor})
				if err != nil {
					return err
				}
				a.links = append(a.links, l)
			}
			return nil
		})
		switch {
		case err == nil:
			h.mode = ModeTCX
			return a, nil
		case h.mode == "" && errors.Is(err, ebpf.ErrNotSupported):
			h.mode = ModeClsact // kernel before 6.6
		default:
			h.detach(a)
			return nil, classify(fmt.Sprintf("attaching the capture programs to %s (TCX)", ifc.Name), err)
		}
	}

	created, err := h.nl.addClsact(ifc.Index)
	if err != nil {
		return nil, classify(fmt.Sprintf("attaching the capture programs to %s", ifc.Name), err)
	}
	a.qdisc = created
	for _, hook := range []struct {
		on     bool
		parent uint32
		prog   *ebpf.Program
		name   string
	}{
		{true, tcHIngress, h.objs.ingress, filterNameIngress},
		{egress, tcHEgress, h.objs.egress, filterNameEgress},
	} {
		if !hook.on {
			continue
		}
		f, err := h.nl.addFilter(ifc.Index, hook.parent, hook.prog.FD(), hook.name)
		if err != nil {
			h.detach(a)
			return nil, classify(fmt.Sprintf("attaching the capture programs to %s (clsact)", ifc.Name), err)
		}
		a.filters = append(a.filters, f)
	}
	h.mode = ModeClsact
	return a, nil
}

// detach removes what attach attached. The interface may be gone already,
// with everything attached to it.
func (h *Handle) detach(a *attachment) error {
	var errs []error
	for _, l := range a.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detaching from %s: %w", a.ifc.Name, err))
		}
	}
	a.links = nil
	gone := func(err error) bool {
		return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL)
	}
	for _, f := range a.filters {
		if err := h.nl.delFilter(f); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("detaching from %s: %w", a.ifc.Name, err))
		}
	}
	a.filters = nil
	if a.qdisc {
		// Leave the qdisc if someone else added filters to it meanwhile.
		n, err := h.nl.filterCount(a.ifc.Index)
		if err == nil && n == 0 {
			err = h.nl.delClsact(a.ifc.Index)
		}
		if err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("detaching from %s: %w", a.ifc.Name, err))
		}
		a.qdisc = false
	}
	return errors.Join(errs...)
}
