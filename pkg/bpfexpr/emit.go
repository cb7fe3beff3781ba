package bpfexpr

import (
	"fmt"
)

// maxInsns is the kernel's limit on the length of a classic BPF program
// (BPF_MAXINSNS).
const maxInsns = 4096

// label names a position in the code; it is bound to the next
// instruction emitted after place.
type label int

// linsn is an instruction whose jump targets are labels.
type linsn struct {
	op     uint16
	k      uint32
	jt, jf label // conditional jumps; "ja" uses jt
	id     int   // identity, stable when instructions are inserted
}

// emitter lays out a bexpr as a list of instructions, true and false
// branches as forward jumps to labels.
type emitter struct {
	code    []linsn
	targets map[label]int // label -> id of the instruction it names
	pending []label
	nlabels int
	nextID  int
}

func newEmitter() *emitter {
	return &emitter{targets: map[label]int{}}
}

func (e *emitter) newLabel() label {
	e.nlabels++
	return label(e.nlabels)
}

func (e *emitter) place(l label) { e.pending = append(e.pending, l) }

func (e *emitter) add(in linsn) {
	in.id = e.nextID
	e.nextID++
	for _, l := range e.pending {
		e.targets[l] = in.id
	}
	e.pending = e.pending[:0]
	e.code = append(e.code, in)
}

// emit lays out b so that control reaches t when it holds and f when not.
func (e *emitter) emit(b bexpr, t, f label) {
	switch b := b.(type) {
	case bTest:
		for _, s := range b.stmts {
			e.add(linsn{op: s.op, k: s.k})
		}
		e.add(linsn{op: b.jop, k: b.k, jt: t, jf: f})
	case bAnd:
		m := e.newLabel()
		e.emit(b.l, m, f)
		e.place(m)
		e.emit(b.r, t, f)
	case bOr:
		m := e.newLabel()
		e.emit(b.l, t, m)
		e.place(m)
		e.emit(b.r, t, f)
	case bNot:
		e.emit(b.x, f, t)
	case bConst:
		target := f
		if b {
			target = t
		}
		e.add(linsn{op: opJMP | jJA, jt: target})
	default:
		panic(fmt.Sprintf("bpfexpr: unexpected %T", b))
	}
}

func isCondJump(op uint16) bool {
	return op&0x07 == opJMP && op&0xf0 != jJA
}

// assemble resolves labels to offsets. A conditional jump reaches at most
// 255 instructions ahead; a farther target gets a "ja" trampoline right
// after the jump, as libpcap does.
func (e *emitter) assemble() ([]insnRaw, error) {
	code := e.code
	for {
		pos := make([]int, e.nextID)
		for i, in := range code {
			pos[in.id] = i
		}
		dist := func(l label, i int) int { return pos[e.targets[l]] - (i + 1) }
		var out []linsn
		changed := false
		for i, in := range code {
			far := isCondJump(in.op) && (dist(in.jt, i) > 255 || dist(in.jf, i) > 255)
			if !far {
				out = append(out, in)
				continue
			}
			changed = true
			var tramps []linsn
			for _, br := range []*label{&in.jt, &in.jf} {
				if dist(*br, i) <= 255 {
					continue
				}
				l := e.newLabel()
				t := linsn{op: opJMP | jJA, jt: *br, id: e.nextID}
				e.nextID++
				e.targets[l] = t.id
				*br = l
				tramps = append(tramps, t)
			}
			out = append(out, in)
			out = append(out, tramps...)
		}
		code = out
		if changed {
			if len(code) > 4*maxInsns {
				return nil, fmt.Errorf("filter too long: more than %d instructions (the kernel accepts %d)", len(code), maxInsns)
			}
			continue
		}
		if len(code) > maxInsns {
			return nil, fmt.Errorf("filter too long: %d instructions (the kernel accepts %d)", len(code), maxInsns)
		}
		res := make([]insnRaw, len(code))
		for i, in := range code {
			res[i] = insnRaw{op: in.op, k: in.k}
			switch {
			case isCondJump(in.op):
				res[i].jt = uint8(dist(in.jt, i))
				res[i].jf = uint8(dist(in.jf, i))
			case in.op == opJMP|jJA:
				res[i].k = uint32(dist(in.jt, i))
			}
		}
		return res, nil
	}
}
