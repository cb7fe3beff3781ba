package bpfexpr

import (
	"strconv"
	"strings"
)

// optimize shortens the emitted code, as libpcap's optimizer does, so that
// Match keeps what tcpdump keeps:
//
//  1. jump threading: every test block is self-contained (it loads what it
//     compares), so an edge along which the block's outcome is already
//     known (the packet's EtherType was found to be 0x0800 a moment ago)
//     jumps straight to the right successor. Skipping the block cannot
//     skip a failing load: the same load succeeded earlier on that edge.
//     Blocks left without predecessors are dropped.
//  2. useless tests, whose branches meet, are dropped with their loads.
//  3. identical blocks are merged.
//  4. redundant loads: a load into A or X whose value the register holds
//     on every path reaching it is removed.
func optimize(e *emitter) {
	for range 3 {
		threadJumps(e)
		dropUselessBlocks(e)
		mergeBlocks(e)
	}
	optRoot(e)
	removeRedundantLoads(e)
}

// optRoot skips a first test whose branches meet, as libpcap's opt_root
// does: the statements of the first block still run (their loads may
// reject a short packet) before the block the program now starts with,
// unless that block is a return.
func optRoot(e *emitter) {
	blocks, startOf := splitBlocks(e)
	if !usable(e, blocks) {
		return
	}
	root := blocks[0]
	stmts := append([]linsn(nil), e.code[root.start:root.end]...)
	b := 0
	for {
		j := e.code[blocks[b].end]
		if !isCondJump(j.op) || e.targets[j.jt] != e.targets[j.jf] {
			break
		}
		b = startOf[e.targets[j.jt]]
	}
	if b == 0 {
		return
	}
	// Everything before the new root was reachable only through the
	// old one.
	code := e.code[blocks[b].start:]
	if !isRet(e.code[blocks[b].end].op) {
		for i := range stmts {
			stmts[i].id = e.nextID
			e.nextID++
		}
		// Labels of the new root now name its first carried statement.
		first := code[0].id
		if len(stmts) > 0 {
			for l, id := range e.targets {
				if id == first {
					e.targets[l] = stmts[0].id
				}
			}
		}
		code = append(stmts, code...)
	}
	e.code = code
}

// dropUselessBlocks removes tests whose two branches go to the same place,
// with the loads they make, as libpcap's optimizer does: a load that
// would run off the end of a truncated packet and reject it does not run.
// tcpdump keeps such packets; so does Match.
func dropUselessBlocks(e *emitter) {
	for {
		blocks, startOf := splitBlocks(e)
		if !usable(e, blocks) {
			return
		}
		changed := false
		// From the end, so that a chain of useless blocks collapses at once.
		for i := len(blocks) - 1; i > 0; i-- {
			j := e.code[blocks[i].end]
			if !isCondJump(j.op) || e.targets[j.jt] != e.targets[j.jf] {
				continue
			}
			to := e.targets[j.jt]
			from := e.code[blocks[i].start].id
			for l, id := range e.targets {
				if id == from {
					e.targets[l] = to
				}
			}
			blocks[i].dead = true
			changed = true
		}
		if !changed {
			return
		}
		// Keep the blocks reachable from the entry; jumps go forward.
		reach := make([]bool, len(blocks))
		reach[0] = true
		var code []linsn
		for i, b := range blocks {
			if !reach[i] || b.dead {
				continue
			}
			code = append(code, e.code[b.start:b.end+1]...)
			j := e.code[b.end]
			if isCondJump(j.op) {
				reach[startOf[e.targets[j.jt]]] = true
				reach[startOf[e.targets[j.jf]]] = true
			}
		}
		e.code = code
	}
}

type block struct {
	start, end int // instruction indices; end is the jump or return
	key        string
	in         []edge
	dead       bool
}

type edge struct {
	from   int // block index, -1 for the entry
	branch int // 0: jt, 1: jf
	facts  facts
}

type fact struct {
	key string
	jop uint16
	k   uint32
}

// facts are outcomes of tests known to hold on an edge.
type facts map[fact]bool

// maxFacts bounds the facts remembered along a path, to keep long
// filters (hundreds of hosts) linear; the first ones, the link-layer and
// IP protocol tests, are the ones worth keeping.
const maxFacts = 32

func (f facts) with(k fact, v bool) facts {
	if len(f) >= maxFacts {
		return f
	}
	out := make(facts, len(f)+1)
	for kk, vv := range f {
		out[kk] = vv
	}
	out[k] = v
	return out
}

func intersect(a, b facts) facts {
	out := facts{}
	for k, v := range a {
		if w, ok := b[k]; ok && w == v {
			out[k] = v
		}
	}
	return out
}

// decide returns the outcome of "key jop k" if facts imply it.
func (f facts) decide(key string, jop uint16, k uint32) (outcome, known bool) {
	if v, ok := f[fact{key, jop, k}]; ok {
		return v, true
	}
	for fk, v := range f {
		if fk.key != key || fk.jop != opJMP|jJEQ|srcK || !v {
			continue
		}
		a := fk.k // A is known to equal a
		switch jop {
		case opJMP | jJEQ | srcK:
			return a == k, true
		case opJMP | jJGT | srcK:
			return a > k, true
		case opJMP | jJGE | srcK:
			return a >= k, true
		case opJMP | jJSET | srcK:
			return a&k != 0, true
		}
	}
	return false, false
}

func isRet(op uint16) bool { return op&0x07 == opRET }

func stmtKey(code []linsn) string {
	var b strings.Builder
	for _, in := range code {
		b.WriteString(strconv.FormatUint(uint64(in.op), 16))
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(uint64(in.k), 16))
		b.WriteByte(';')
	}
	return b.String()
}

// splitBlocks cuts the code into blocks: straight-line statements ending
// with a jump or a return. A label inside straight-line code (which the
// emitter never produces) yields a block marked dead, telling the passes
// to leave the code alone.
func splitBlocks(e *emitter) ([]block, map[int]int) {
	targeted := map[int]bool{}
	for _, id := range e.targets {
		targeted[id] = true
	}
	var blocks []block
	startOf := map[int]int{} // instruction id -> block index
	start := 0
	for i, in := range e.code {
		if i > start && targeted[in.id] {
			blocks = append(blocks, block{start: start, end: i - 1, dead: true})
			startOf[e.code[start].id] = len(blocks) - 1
			start = i
		}
		if isCondJump(in.op) || isRet(in.op) || in.op == opJMP|jJA {
			blocks = append(blocks, block{start: start, end: i, key: stmtKey(e.code[start:i])})
			startOf[e.code[start].id] = len(blocks) - 1
			start = i + 1
		}
	}
	return blocks, startOf
}

func usable(e *emitter, blocks []block) bool {
	for _, b := range blocks {
		if b.dead || e.code[b.end].op == opJMP|jJA {
			return false
		}
	}
	return true
}

func threadJumps(e *emitter) {
	blocks, startOf := splitBlocks(e)
	if !usable(e, blocks) {
		return
	}
	target := func(l label) int { return startOf[e.targets[l]] }
	blocks[0].in = []edge{{from: -1, facts: facts{}}}
	for i := range blocks {
		b := &blocks[i]
		jump := &e.code[b.end]
		if len(b.in) == 0 {
			b.dead = true
			continue
		}
		if !isCondJump(jump.op) {
			continue
		}
		// Thread the edges along which this block's outcome is known.
		var kept []edge
		for _, in := range b.in {
			if in.from < 0 {
				kept = append(kept, in)
				continue
			}
			outcome, known := in.facts.decide(b.key, jump.op, jump.k)
			if !known {
				kept = append(kept, in)
				continue
			}
			succ := jump.jf
			if outcome {
				succ = jump.jt
			}
			pj := &e.code[blocks[in.from].end]
			if in.branch == 0 {
				pj.jt = succ
			} else {
				pj.jf = succ
			}
			t := target(succ)
			blocks[t].in = append(blocks[t].in, edge{from: in.from, branch: in.branch, facts: in.facts})
		}
		b.in = kept
		if len(b.in) == 0 {
			b.dead = true
			continue
		}
		f := b.in[0].facts
		for _, in := range b.in[1:] {
			f = intersect(f, in.facts)
		}
		tf, ff := f, f
		if jump.op&srcX == 0 { // a comparison with X leaves nothing to remember
			k := fact{b.key, jump.op, jump.k}
			tf, ff = f.with(k, true), f.with(k, false)
		}
		t, fl := target(jump.jt), target(jump.jf)
		blocks[t].in = append(blocks[t].in, edge{from: i, branch: 0, facts: tf})
		blocks[fl].in = append(blocks[fl].in, edge{from: i, branch: 1, facts: ff})
	}
	var code []linsn
	for _, b := range blocks {
		if !b.dead {
			code = append(code, e.code[b.start:b.end+1]...)
		}
	}
	e.code = code
}

// mergeBlocks makes identical blocks (same statements, same jump, same
// successors) one, from the end of the program backwards so that the
// successors of a block are merged before the block is compared.
func mergeBlocks(e *emitter) {
	blocks, startOf := splitBlocks(e)
	if !usable(e, blocks) {
		return
	}
	canon := map[int]int{} // block index -> canonical block index
	seen := map[string]int{}
	for i := len(blocks) - 1; i >= 0; i-- {
		b := blocks[i]
		j := e.code[b.end]
		sig := b.key + "|" + strconv.Itoa(int(j.op)) + ":" + strconv.FormatUint(uint64(j.k), 16)
		if isCondJump(j.op) {
			sig += ">" + strconv.Itoa(canon[startOf[e.targets[j.jt]]]) +
				"," + strconv.Itoa(canon[startOf[e.targets[j.jf]]])
		}
		if c, ok := seen[sig]; ok && i != 0 {
			canon[i] = c
			blocks[i].dead = true
			continue
		}
		seen[sig] = i
		canon[i] = i
	}
	for l, id := range e.targets {
		if bi, ok := startOf[id]; ok && canon[bi] != bi {
			e.targets[l] = e.code[blocks[canon[bi]].start].id
		}
	}
	var code []linsn
	for _, b := range blocks {
		if !b.dead {
			code = append(code, e.code[b.start:b.end+1]...)
		}
	}
	e.code = code
}

// regState is what A, X and the scratch memory hold, as descriptions of
// how the values were computed from the packet ("" when unknown).
type regState struct {
	a, x string
	mem  [memWords]string
}

func meet(s, t regState) regState {
	if s.a != t.a {
		s.a = ""
	}
	if s.x != t.x {
		s.x = ""
	}
	for i := range s.mem {
		if s.mem[i] != t.mem[i] {
			s.mem[i] = ""
		}
	}
	return s
}

func removeRedundantLoads(e *emitter) {
	n := len(e.code)
	if n == 0 {
		return
	}
	index := make(map[int]int, n)
	for i, in := range e.code {
		index[in.id] = i
	}
	in := make([]*regState, n)
	in[0] = &regState{}
	flow := func(to int, s regState) {
		if in[to] == nil {
			c := s
			in[to] = &c
			return
		}
		*in[to] = meet(*in[to], s)
	}
	drop := make([]bool, n)
	for i, ins := range e.code {
		if in[i] == nil {
			continue // unreachable
		}
		s := *in[i]
		k := strconv.FormatUint(uint64(ins.k), 10)
		setA := func(v string) {
			if v != "" && v == s.a {
				drop[i] = true
			}
			s.a = v
		}
		setX := func(v string) {
			if v != "" && v == s.x {
				drop[i] = true
			}
			s.x = v
		}
		switch op := ins.op; {
		case op == opLD|mIMM:
			setA("#" + k)
		case op == opLD|mLEN|szW:
			setA("len")
		case op&0x07 == opLD && op&0xe0 == mABS:
			setA("P" + strconv.Itoa(int(op&0x18)) + "[" + k + "]")
		case op&0x07 == opLD && op&0xe0 == mIND:
			if s.x == "" {
				s.a = ""
			} else {
				setA("P" + strconv.Itoa(int(op&0x18)) + "[" + s.x + "+" + k + "]")
			}
		case op == opLD|mMEM:
			setA(s.mem[ins.k%memWords])
		case op == opLDX|mIMM:
			setX("#" + k)
		case op == opLDX|mMSH|szB:
			setX("msh[" + k + "]")
		case op == opLDX|mMEM:
			setX(s.mem[ins.k%memWords])
		case op == opST:
			s.mem[ins.k%memWords] = s.a
		case op == opSTX:
			s.mem[ins.k%memWords] = s.x
		case op == opMISC|miscTAX:
			setX(s.a)
		case op == opMISC|miscTXA:
			setA(s.x)
		case op&0x07 == opALU:
			switch {
			case s.a == "":
			case op&srcX != 0 && s.x == "":
				s.a = ""
			case op&srcX != 0:
				s.a = "(" + s.a + " " + strconv.Itoa(int(op&0xf0)) + " X(" + s.x + "))"
			default:
				s.a = "(" + s.a + " " + strconv.Itoa(int(op&0xf0)) + " #" + k + ")"
			}
		case isCondJump(op):
			flow(index[e.targets[ins.jt]], s)
			flow(index[e.targets[ins.jf]], s)
			continue
		case op == opJMP|jJA:
			flow(index[e.targets[ins.jt]], s)
			continue
		case isRet(op):
			continue
		}
		if i+1 < n {
			flow(i+1, s)
		}
	}
	// Labels of dropped instructions move to the next instruction kept.
	next := -1
	moved := map[int]int{}
	for i := n - 1; i >= 0; i-- {
		if drop[i] {
			moved[e.code[i].id] = next
		} else {
			next = e.code[i].id
		}
	}
	for l, id := range e.targets {
		if to, ok := moved[id]; ok {
			e.targets[l] = to
		}
	}
	code := e.code[:0]
	for i, ins := range e.code {
		if !drop[i] {
			code = append(code, ins)
		}
	}
	e.code = code
}
