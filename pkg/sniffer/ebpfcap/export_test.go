package ebpfcap

import (
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// FilterInUserSpace makes Open run cfg.Filter in Next instead of the kernel
// (the fallback for filters the kernel refuses).
func FilterInUserSpace(cfg *Config) { cfg.userFilter = true }

// Attached returns the indexes of the interfaces the programs are attached to.
func Attached(h *Handle) []int {
	h.attMu.Lock()
	defer h.attMu.Unlock()
	var idx []int
	for i := range h.attached {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// IDs are the kernel objects of a Handle.
type IDs struct {
	Programs []ebpf.ProgramID
	Maps     []ebpf.MapID
	Links    []link.ID
}

// ObjectIDs returns the IDs of h's programs, maps and TCX links.
func ObjectIDs(h *Handle) (ids IDs, err error) {
	o := h.objs
	for _, p := range []*ebpf.Program{o.CaptureIngress, o.CaptureEgress, o.filterIn, o.filterEg} {
		if p == nil {
			continue
		}
		info, err := p.Info()
		if err != nil {
			return ids, err
		}
		id, _ := info.ID()
		ids.Programs = append(ids.Programs, id)
	}
	for _, m := range []*ebpf.Map{o.Packets, o.Scratch, o.Stats, o.tails} {
		if m == nil {
			continue
		}
		info, err := m.Info()
		if err != nil {
			return ids, err
		}
		id, _ := info.ID()
		ids.Maps = append(ids.Maps, id)
	}
	h.attMu.Lock()
	defer h.attMu.Unlock()
	for _, a := range h.attached {
		for _, l := range a.links {
			info, err := l.Info()
			if err != nil {
				return ids, err
			}
			ids.Links = append(ids.Links, info.ID)
		}
	}
	return ids, nil
}

// Classify is classify, for tests of the error messages.
var Classify = classify
