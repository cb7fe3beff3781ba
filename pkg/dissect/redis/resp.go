package redis

import (
	"bytes"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// Decoder limits. Bulk strings are streamed: at most keepBulk bytes of any of them are
// kept, the rest is only counted.
const (
	keepBulk    = 1024
	maxDepth    = 32       // nesting of aggregates (Redis replies rarely exceed 7)
	maxCount    = 1 << 31  // elements of one aggregate
	maxBulkLen  = 1 << 40  // bytes of one bulk string
	maxNumLine  = 64       // bytes of a length, number or double line
	maxInline   = 64 << 10 // an inline command line (Redis' PROTO_INLINE_MAX_SIZE)
	maxTextLine = 1 << 20  // bytes of a simple string, error or big number line
	keepLine    = 1024     // bytes of a line kept
	maxArena    = 1024 + 64
	keyedArgs   = 16 // leading arguments that keep at least keyPrefix bytes
	keyPrefix   = 64
	serverKeep  = 32 // bytes kept of the first two elements of a server aggregate
)

const (
	stLine = iota // reading a type line or an inline command
	stBulk        // reading bulk payload bytes
	stCRLF        // reading the CRLF after a bulk payload
	stSkip        // discarding bytes up to the next line start (after an error)
)

// arg is one element of a top-level aggregate, as kept by the decoder.
type arg struct {
	off, n int   // kept bytes: value.arena[off:off+n]
	full   int64 // length on the wire
	typ    byte  // RESP type ('$', ':', '+', ...), '*' for a nested aggregate
}

// value summarises one top-level RESP value (a command or a reply) without holding
// more than a few KiB of it.
type value struct {
	typ      byte  // RESP type of the value; 'i' for an inline command
	null     bool  // RESP2 null bulk/array or RESP3 null
	n        int64 // elements (pairs for maps and attributes); -1 when streamed
	text     []byte
	textFull int64 // wire length of a scalar's text
	arena    []byte
	args     []arg // first-level elements, possibly fewer than nargs
	nargs    int64 // first-level elements seen
	size     int64 // wire bytes, attributes included
	t        time.Time
	iface    int
	started  bool
}

func (v *value) reset() {
	*v = value{text: v.text[:0], arena: v.arena[:0], args: v.args[:0]}
}

// frame is an open aggregate.
type frame struct {
	typ  byte
	left int64 // elements still to come; -1 for a streamed aggregate
	attr bool
}

// decoder is a streaming RESP decoder for one direction of a connection. client
// selects the request grammar Redis accepts (an array of bulk strings or an inline
// command); otherwise every RESP2 and RESP3 type is decoded. It is not safe for
// concurrent use.
type decoder struct {
	client bool

	state    int
	line     []byte // kept bytes of the current line
	lineLen  int    // bytes of the current line so far
	bulkLeft int64
	bulkTyp  byte  // '$', '!', '=' or ';' (a chunk of a streamed string)
	bulkFull int64 // declared length of the current bulk string
	crlf     int   // bytes of the CRLF seen after a bulk payload

	// Where the current bulk's bytes go: into v.text (keepDst 1) or an arg (2).
	keepDst  int
	keepMax  int
	streamed bool // inside a RESP3 streamed string ($?)

	stack     []frame
	attrDepth int // attribute frames on the stack

	// resync is set after an error or a gap: the next top-level value must start
	// plausibly (see startOK) and is looked for at line starts only.
	resync bool

	v value

	onValue func(v *value)
	onError func(reason string)
}

// feed decodes c.Data[from:].
func (d *decoder) feed(c *dissect.Chunk, from int) {
	b := c.Data
	i := from
	for i < len(b) {
		switch d.state {
		case stSkip:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return
			}
			i += j + 1
			d.state = stLine
		case stLine:
			if !d.v.started {
				d.v.started = true
				d.v.t = chunkTime(c, i)
				d.v.iface = c.Interface
			}
			j := bytes.IndexByte(b[i:], '\n')
			seg := b[i:]
			if j >= 0 {
				seg = b[i : i+j]
			}
			if room := keepLine - len(d.line); room > 0 {
				d.line = append(d.line, seg[:min(room, len(seg))]...)
			}
			d.lineLen += len(seg)
			d.v.size += int64(len(seg))
			if d.lineLen > d.lineLimit() {
				// The same verdict whether the line came whole or in pieces.
				if j < 0 {
					d.fail("line too long", false)
					return
				}
				i += j + 1
				d.fail("line too long", true)
				continue
			}
			if j < 0 {
				return
			}
			d.v.size++
			i += j + 1
			d.lineDone()
		case stBulk:
			n := int(min(d.bulkLeft, int64(len(b)-i)))
			d.keep(b[i : i+n])
			d.bulkLeft -= int64(n)
			d.v.size += int64(n)
			i += n
			if d.bulkLeft == 0 {
				d.state, d.crlf = stCRLF, 0
			}
		case stCRLF:
			ch := b[i]
			i++
			d.v.size++
			switch {
			case d.crlf == 0 && ch == '\r':
				d.crlf = 1
			case ch == '\n':
				d.bulkDone()
			default:
				d.fail("bulk string not followed by CRLF", false)
			}
		}
	}
}

// lineLimit is the longest line accepted in the current context.
func (d *decoder) lineLimit() int {
	if len(d.line) == 0 {
		return maxNumLine
	}
	switch d.line[0] {
	case '+', '-', '(':
		return maxTextLine
	}
	if d.client && len(d.stack) == 0 && d.line[0] != '*' {
		return maxInline
	}
	return maxNumLine
}

// keep stores bulk bytes according to keepDst.
func (d *decoder) keep(p []byte) {
	switch d.keepDst {
	case 1:
		if room := d.keepMax - len(d.v.text); room > 0 {
			d.v.text = append(d.v.text, p[:min(room, len(p))]...)
		}
	case 2:
		a := &d.v.args[len(d.v.args)-1]
		if room := d.keepMax - a.n; room > 0 {
			k := min(room, len(p))
			d.v.arena = append(d.v.arena, p[:k]...)
			a.n += k
		}
	}
}

// fail abandons the current value. atLineStart tells whether the next byte starts a
// line (the failing line has been consumed).
func (d *decoder) fail(reason string, atLineStart bool) {
	d.stack = d.stack[:0]
	d.attrDepth = 0
	d.streamed = false
	d.line, d.lineLen = d.line[:0], 0
	d.v.reset()
	d.resync = true
	d.state = stSkip
	if atLineStart {
		d.state = stLine
	}
	if d.onError != nil {
		d.onError(reason)
	}
}

// gap forgets everything in progress after bytes were lost.
func (d *decoder) gap() {
	d.stack = d.stack[:0]
	d.attrDepth = 0
	d.streamed = false
	d.line, d.lineLen = d.line[:0], 0
	d.v.reset()
	d.resync = true
	d.state = stLine // the first byte after a gap may start a value
}

// lineDone handles a complete line (without its LF) in d.line.
func (d *decoder) lineDone() {
	line := d.line
	full := d.lineLen
	d.line, d.lineLen = d.line[:0], 0
	if len(line) > 0 && full <= len(line) && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
		full--
	} else if full > len(line) {
		full-- // the CR is among the bytes not kept
	}
	depth := len(d.stack)

	if d.client && depth == 0 && (len(line) == 0 || line[0] != '*') {
		if d.resync {
			d.v.reset()
			return // while resyncing only a multibulk may start a command
		}
		d.inline(line)
		return
	}
	if len(line) == 0 {
		d.fail("empty line", true)
		return
	}
	typ, rest := line[0], line[1:]
	if d.client && depth > 0 && typ != '$' {
		d.fail("expected '$' in a command", true)
		return
	}
	if d.streamed {
		if typ != ';' {
			d.fail("expected ';' in a streamed string", true)
			return
		}
		n, ok := parseLen(rest)
		switch {
		case !ok || n < 0:
			d.fail("bad streamed string chunk length", true)
		case n == 0:
			d.streamed = false
			d.leafDone('$', false)
		default:
			d.startBulk(';', n)
		}
		return
	}
	if d.resync && depth == 0 && !d.startOK(typ, rest) {
		d.v.reset()
		return
	}
	switch typ {
	case '+', '-', ':', ',', '(', '#', '_':
		if !scalarOK(typ, rest) {
			d.fail("bad "+string(typ)+" value", true)
			return
		}
		if depth == 0 || d.firstLevel() {
			d.scalarText(typ, rest, full-1)
		}
		d.leafDone(typ, typ == '_')
	case '$', '!', '=':
		if typ == '$' && len(rest) == 1 && rest[0] == '?' {
			d.beginBulk('$', -1)
			d.streamed = true
			return
		}
		n, ok := parseLen(rest)
		switch {
		case !ok || n < -1 || n > maxBulkLen:
			d.fail("bad bulk length", true)
		case n == -1:
			d.leafDone(typ, true)
		default:
			d.beginBulk(typ, n)
			d.startBulk(typ, n)
		}
	case '*', '%', '~', '>', '|':
		n := int64(-1)
		if !(len(rest) == 1 && rest[0] == '?') {
			var ok bool
			n, ok = parseLen(rest)
			if !ok || n < -1 || n > maxCount || (n == -1 && typ != '*') {
				d.fail("bad aggregate length", true)
				return
			}
			if n == -1 {
				d.leafDone('*', true)
				return
			}
		}
		if d.client && (n <= 0) {
			if n == 0 {
				d.leafDone('*', false) // "*0": Redis ignores it; the parser will too
				return
			}
			d.fail("streamed command", true)
			return
		}
		d.openAggregate(typ, n)
	case '.':
		if depth == 0 || d.stack[depth-1].left != -1 || len(rest) != 0 {
			d.fail("unexpected end of streamed aggregate", true)
			return
		}
		d.closeAggregate()
	default:
		d.fail("unknown type byte", true)
	}
}

// startOK tells whether a value may start with this header while resynchronising:
// a command needs "*<n>" with n ≥ 1 (and its first element must be a bulk string, which
// lineDone checks); a reply any well-formed header.
func (d *decoder) startOK(typ byte, rest []byte) bool {
	if d.client {
		n, ok := parseLen(rest)
		return typ == '*' && ok && n >= 1 && n <= 1<<20
	}
	switch typ {
	case '+':
		for _, c := range rest {
			if c < 0x20 || c > 0x7e {
				return false
			}
		}
		return true
	case '-':
		return len(rest) > 0 && 'A' <= rest[0] && rest[0] <= 'Z'
	case ':', ',', '(', '#', '_':
		return scalarOK(typ, rest)
	case '$', '!', '=', '*', '%', '~', '>', '|':
		n, ok := parseLen(rest)
		return ok && n >= -1 && n <= 1<<30
	}
	return false
}

// firstLevel reports whether the element being decoded is a first-level element of the
// top-level aggregate (outside any attribute).
func (d *decoder) firstLevel() bool {
	return len(d.stack) == 1 && d.attrDepth == 0
}

// scalarText keeps the text of a scalar at depth 0 or first level.
func (d *decoder) scalarText(typ byte, text []byte, full int) {
	if len(d.stack) == 0 {
		d.v.text = append(d.v.text[:0], text...)
		d.v.textFull = int64(full)
		return
	}
	d.addArg(text, int64(full), typ)
}

// addArg records a first-level element, keeping as much of text as argBudget allows.
func (d *decoder) addArg(text []byte, full int64, typ byte) {
	d.v.nargs++
	k := d.argBudget(full)
	if k < 0 {
		return
	}
	off := len(d.v.arena)
	k = min(k, len(text))
	d.v.arena = append(d.v.arena, text[:k]...)
	d.v.args = append(d.v.args, arg{off: off, n: k, full: full, typ: typ})
}

// argBudget is how many bytes of the next first-level element to keep; -1 means the
// element is only counted.
func (d *decoder) argBudget(full int64) int {
	idx := d.v.nargs - 1
	if !d.client {
		if idx < 2 {
			return int(min(full, serverKeep))
		}
		return -1
	}
	room := maxArena - len(d.v.arena)
	if idx < keyedArgs {
		room = max(room, keyPrefix)
	} else if room <= 0 {
		return -1
	}
	return int(min(full, int64(room), keepBulk))
}

// beginBulk decides where the bytes of a bulk string that starts now are kept.
func (d *decoder) beginBulk(typ byte, n int64) {
	d.bulkTyp = typ
	d.bulkFull = n
	d.keepDst, d.keepMax = 0, 0
	switch {
	case len(d.stack) == 0:
		d.v.typ = typ
		d.keepDst, d.keepMax = 1, keepBulk
		d.v.text = d.v.text[:0]
		d.v.textFull = max(n, 0)
	case d.firstLevel():
		d.v.nargs++
		full := n
		if n < 0 {
			full = keepBulk // streamed: length unknown
		}
		k := d.argBudget(full)
		if k >= 0 {
			d.v.args = append(d.v.args, arg{off: len(d.v.arena), full: max(n, 0), typ: typ})
			d.keepDst, d.keepMax = 2, k
		}
	}
}

func (d *decoder) startBulk(typ byte, n int64) {
	if typ == ';' {
		if len(d.stack) == 0 {
			d.v.textFull += n
		} else if d.keepDst == 2 {
			d.v.args[len(d.v.args)-1].full += n
		}
	}
	d.bulkTyp = typ
	d.bulkLeft = n
	d.state = stBulk
	if n == 0 {
		d.state, d.crlf = stCRLF, 0
	}
}

func (d *decoder) bulkDone() {
	d.state = stLine
	if d.bulkTyp == ';' {
		return // more chunks of a streamed string follow
	}
	d.leafDone(d.bulkTyp, false)
}

// openAggregate pushes an aggregate of n elements (n pairs for maps and attributes;
// -1 streamed).
func (d *decoder) openAggregate(typ byte, n int64) {
	if len(d.stack) == 0 && typ != '|' {
		d.v.typ, d.v.n = typ, n
	} else if d.firstLevel() && typ != '|' {
		d.addArg(nil, n, '*')
	}
	if len(d.stack) >= maxDepth {
		d.fail("aggregates nested too deeply", true)
		return
	}
	left := n
	if n > 0 && (typ == '%' || typ == '|') {
		left = 2 * n
	}
	d.stack = append(d.stack, frame{typ: typ, left: left, attr: typ == '|'})
	if typ == '|' {
		d.attrDepth++
	}
	if n == 0 {
		d.closeAggregate()
	}
}

// closeAggregate pops the innermost aggregate, which is complete.
func (d *decoder) closeAggregate() {
	f := d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
	if f.attr {
		// An attribute describes the value that follows it: it is not an element.
		d.attrDepth--
		return
	}
	d.elementDone()
}

// leafDone completes a scalar of type typ.
func (d *decoder) leafDone(typ byte, null bool) {
	if len(d.stack) == 0 {
		d.v.typ, d.v.null = typ, null
	}
	d.elementDone()
}

// elementDone accounts for a complete element at the current depth.
func (d *decoder) elementDone() {
	if len(d.stack) == 0 {
		v := &d.v
		d.resync = false
		if d.onValue != nil {
			d.onValue(v)
		}
		d.v.reset()
		return
	}
	f := &d.stack[len(d.stack)-1]
	if f.left > 0 {
		f.left--
		if f.left == 0 {
			d.closeAggregate()
		}
	}
}

// inline handles an inline command line (client side, not starting with '*').
func (d *decoder) inline(line []byte) {
	args := splitInline(line)
	if len(args) == 0 {
		d.v.reset() // Redis ignores empty lines
		return
	}
	d.v.typ = 'i'
	for _, a := range args {
		d.v.nargs++
		k := d.argBudget(int64(len(a)))
		if k < 0 {
			continue
		}
		off := len(d.v.arena)
		d.v.arena = append(d.v.arena, a[:min(k, len(a))]...)
		d.v.args = append(d.v.args, arg{off: off, n: len(d.v.arena) - off, full: int64(len(a)), typ: '$'})
	}
	d.elementDone()
}

// splitInline splits an inline command as Redis' sdssplitargs does: arguments
// separated by blanks, "double quotes" with \n \r \t \b \a and \xHH escapes (any
// other escaped byte stands for itself), 'single quotes' with \' . Redis rejects a
// line with an unbalanced quote; here such a line is split as far as it goes.
func splitInline(line []byte) [][]byte {
	var args [][]byte
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			return args
		}
		cur := []byte{}
		inDQ, inSQ := false, false
	arg:
		for ; i < len(line); i++ {
			c := line[i]
			switch {
			case inDQ:
				switch {
				case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					cur = append(cur, unhex(line[i+2])<<4|unhex(line[i+3]))
					i += 3
				case c == '\\' && i+1 < len(line):
					i++
					switch line[i] {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, line[i])
					}
				case c == '"':
					inDQ = false
				default:
					cur = append(cur, c)
				}
			case inSQ:
				switch {
				case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
					cur = append(cur, '\'')
					i++
				case c == '\'':
					inSQ = false
				default:
					cur = append(cur, c)
				}
			case isBlank(c):
				break arg
			case c == '"' && len(cur) == 0:
				inDQ = true
			case c == '\'' && len(cur) == 0:
				inSQ = true
			default:
				cur = append(cur, c)
			}
		}
		args = append(args, cur)
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 }
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// parseLen parses a decimal integer (optional '-'), at most 19 digits.
func parseLen(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// scalarOK validates the text of a one-line scalar.
func scalarOK(typ byte, rest []byte) bool {
	switch typ {
	case ':':
		_, ok := parseLen(rest)
		return ok
	case '(':
		if len(rest) > 0 && (rest[0] == '-' || rest[0] == '+') {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return false
		}
		for _, c := range rest {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	case ',':
		if len(rest) == 0 || len(rest) > maxNumLine {
			return false
		}
		for _, c := range rest {
			if !('0' <= c && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' ||
				c == 'i' || c == 'n' || c == 'f' || c == 'a') {
				return false
			}
		}
		return true
	case '#':
		return len(rest) == 1 && (rest[0] == 't' || rest[0] == 'f')
	case '_':
		return len(rest) == 0
	}
	return true
}

func chunkTime(c *dissect.Chunk, off int) time.Time {
	if c.Time == nil {
		return time.Time{}
	}
	return c.Time(off)
}
