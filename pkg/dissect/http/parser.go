package http

import (
	"bytes"
	"math"
	"strconv"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// Limits bound the memory one connection's parser may hold. Zero fields take the
// defaults.
type Limits struct {
	// MaxHeaderBytes bounds a start line plus header block, and a trailer block.
	// Default 64 KiB. A longer block yields an entry with ErrorType "too_large".
	MaxHeaderBytes int
	// MaxPending bounds requests waiting for their response. Default 1024; beyond it
	// the oldest unanswered request is emitted without a response.
	MaxPending int
}

const (
	defaultMaxHeaderBytes = 64 << 10
	defaultMaxPending     = 1024
	// maxChunkLine bounds a chunk-size line (with extensions).
	maxChunkLine = 4096
	// probeWindow is how many bytes of a line are checked before a speculative
	// message start; the start line is validated in full when it is complete.
	probeWindow = 64
	// keepBuffer is the capacity above which a per-side buffer is dropped after use
	// rather than kept for the next message.
	keepBuffer = 16 << 10
)

// Entry.ErrorType values particular to HTTP; the package also sets the shared ones
// (dissect.ErrorNoResponse, ErrorNoRequest, ErrorTruncated, ErrorMalformed). See the
// package documentation.
const (
	ErrorGap      = "gap"       // body bytes not captured; the framing was kept
	ErrorTooLarge = "too_large" // header or trailer block over Limits.MaxHeaderBytes
)

const (
	errTruncated = dissect.ErrorTruncated
	errMalformed = dissect.ErrorMalformed
)

// TCP is the HTTP/1.x dissector. The zero value uses the default limits. It is safe
// for concurrent use; the parsers it creates are not.
type TCP struct {
	Limits Limits
}

// Dissector is the HTTP/1.x dissector with default limits.
var Dissector dissect.TCPDissector = TCP{}

// Protocol returns dissect.ProtoHTTP.
func (TCP) Protocol() string { return dissect.ProtoHTTP }

// Probe matches when data, the first bytes one side sent, begin with an HTTP/1.x
// request line of a known method or a status line; ports are not consulted.
func (TCP) Probe(_ dissect.Side, data []byte, _ [2]uint16) dissect.Verdict {
	return probeStart(data, false)
}

// NewParser returns a parser for one connection.
func (t TCP) NewParser(emit dissect.Emit) dissect.StreamParser { return NewParser(emit, t.Limits) }

type state uint8

const (
	stStart      state = iota // between messages: a start line is expected (empty lines skipped)
	stResync                  // after a gap or garbage: looking for a line that starts a message
	stSkipLine                // discarding bytes up to the next LF, then stResync
	stHeaders                 // collecting the start line and header block in hdr
	stBody                    // Content-Length body: remaining bytes
	stChunkSize               // reading a chunk-size line into line
	stChunkData               // remaining bytes of the current chunk
	stChunkEnd                // the CRLF after chunk data
	stTrailers                // collecting trailer lines in hdr
	stUntilClose              // body delimited by the end of the connection
)

// Parser parses both directions of one HTTP/1.x connection and emits one entry per
// request/response exchange.
//
// Ownership: Feed copies what it keeps out of Chunk.Data into buffers the parser owns
// and reuses across messages (a header block, a chunk-size line); bodies are counted,
// never stored. Entries are allocated per exchange and belong to the pipeline once
// passed to emit: the parser never touches them again. A Parser is not safe for
// concurrent use; the pipeline calls it from one goroutine.
type Parser struct {
	emit dissect.Emit
	lim  Limits

	sides [2]side
	// queue holds exchanges with a request, oldest first, until they are complete
	// (request and response, or request known to stay unanswered) and emitted.
	queue []*exchange
	qhead int

	// clock counts bytes fed (both sides): it orders message starts, so a response
	// is never paired with a request that began after it.
	clock  uint64
	tunnel bool // 101 Switching Protocols or CONNECT 2xx: no more HTTP
	closed bool
	// last is the side of the previous Feed: a side's data that follows the other
	// side's (a turn) is where a new message usually begins.
	last dissect.Side

	// chunk being fed (valid during Feed)
	timeAt func(int) time.Time
	iface  int

	// stalls counts parse steps that consumed nothing twice in a row: always zero
	// unless the state machine has a bug (tests check it).
	stalls uint64
}

// side is the parsing state of one direction.
type side struct {
	id dissect.Side
	st state
	// anyMethod: the previous message ended cleanly, so any token is accepted as a
	// method; after a gap or garbage only known methods resynchronise.
	anyMethod bool
	// resynced: this side lost its place since its last response; the next response
	// is paired with the newest request that began before it.
	resynced bool

	hdr       []byte // start line and header block, or trailer block
	lineStart int    // start of the current (incomplete) line in hdr
	firstEnd  int    // length of the start line in hdr with its LF; 0 while incomplete
	sl        startLine

	line      []byte // chunk-size line carry
	sawCR     bool
	remaining int64
	body      int64

	// message in progress (from its first byte)
	start      time.Time
	startClock uint64
	startIface int
	x          *exchange // exchange filled by the body in progress; nil in headers
}

// exchange is one request/response pair under construction. It is allocated with the
// entry it becomes; after emission only the entry is used (by the pipeline).
type exchange struct {
	entry dissect.Entry
	http  dissect.HTTP

	reqSide, respSide   dissect.Side
	reqClock            uint64
	reqTime, respTime   time.Time
	reqIface, respIface int
	reqDone, respDone   bool
	noResp              bool // no response will be paired (lost or evicted)
	orphan              bool // response without request: not queued
	head, connect       bool // request method HEAD / CONNECT
}

func (x *exchange) setErr(typ, msg string) {
	e := &x.entry
	if e.ErrorType == "" {
		e.ErrorType, e.ErrorMessage = typ, msg
		return
	}
	e.ErrorMessage += "; " + msg
}

func (x *exchange) complete() bool {
	return x.reqDone && (x.respDone || x.noResp && !x.http.HasResponse)
}

// NewParser returns a parser for one connection that calls emit for every exchange.
func NewParser(emit dissect.Emit, lim Limits) *Parser {
	if lim.MaxHeaderBytes <= 0 {
		lim.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if lim.MaxPending <= 0 {
		lim.MaxPending = defaultMaxPending
	}
	p := &Parser{emit: emit, lim: lim}
	p.sides[dissect.SideA].id = dissect.SideA
	p.sides[dissect.SideB].id = dissect.SideB
	return p
}

// Feed consumes in-order data of one side.
func (p *Parser) Feed(c dissect.Chunk) {
	if p.closed || c.Side > dissect.SideB {
		return
	}
	base := p.clock
	p.clock += uint64(len(c.Data))
	if p.tunnel {
		return
	}
	s := &p.sides[c.Side]
	p.timeAt, p.iface = c.Time, c.Interface
	p.clock = base
	turn := c.Side != p.last
	p.last = c.Side
	if c.Skipped != 0 {
		p.gap(s, c.Skipped)
	}
	if turn && s.st == stSkipLine {
		// Skipping the rest of a line that is not HTTP: peers write a message in a
		// new segment after hearing from the other side, so a turn is a line start.
		// (Splitting one side's data differently never adds or removes turns.)
		s.st = stResync
	}
	data := c.Data
	off, idle := 0, 0
	for off < len(data) && !p.tunnel {
		n := p.step(s, data[off:], off)
		if n <= 0 {
			// Zero-length steps only change state; at most three follow each other
			// (bad chunk line, resync, oversized line). More would be a bug: skip
			// the line rather than loop.
			if idle++; idle > 4 {
				p.stalls++
				p.abandon(s)
				s.st = stSkipLine
				idle = 0
			}
			continue
		}
		idle = 0
		off += min(n, len(data)-off)
	}
	p.clock = base + uint64(len(data))
	p.timeAt = nil
}

// time returns the capture time of the byte at off in the chunk being fed.
func (p *Parser) time(off int) time.Time {
	if p.timeAt == nil {
		return time.Time{}
	}
	return p.timeAt(off)
}

// step parses the start of d (data of s at offset off of the chunk) and returns how
// many bytes it consumed. It returns 0 only after changing state.
func (p *Parser) step(s *side, d []byte, off int) int {
	switch s.st {
	case stStart, stResync:
		n := 0
		for n < len(d) && (d[n] == '\r' || d[n] == '\n') {
			n++
		}
		if n > 0 {
			return n
		}
		if probeStart(d[:min(len(d), probeWindow)], s.st == stStart && s.anyMethod) == dissect.NoMatch {
			p.lostSync(s)
			s.st = stSkipLine
			return 0
		}
		p.begin(s, off)
		return 0

	case stSkipLine:
		i := bytes.IndexByte(d, '\n')
		if i < 0 {
			return len(d)
		}
		s.st = stResync
		return i + 1

	case stHeaders:
		return p.headers(s, d)

	case stBody, stChunkData:
		n := int64(len(d))
		if n > s.remaining {
			n = s.remaining
		}
		s.body += n
		s.remaining -= n
		if s.remaining == 0 {
			if s.st == stBody {
				p.finish(s, stStart)
			} else {
				s.st, s.sawCR = stChunkEnd, false
			}
		}
		return int(n)

	case stChunkSize:
		return p.chunkSize(s, d)

	case stChunkEnd:
		switch {
		case d[0] == '\r' && !s.sawCR:
			s.sawCR = true
			return 1
		case d[0] == '\n':
			s.st = stChunkSize
			return 1
		}
		p.cut(s, errMalformed, "chunk data not followed by CRLF")
		p.lostSync(s)
		s.st = stResync
		return 0

	case stTrailers:
		return p.trailers(s, d)

	case stUntilClose:
		s.body += int64(len(d))
		return len(d)
	}
	s.st = stResync
	return 0
}

// begin starts a message (speculatively: the start line is validated once complete).
func (p *Parser) begin(s *side, off int) {
	s.st = stHeaders
	s.hdr = s.hdr[:0]
	s.lineStart, s.firstEnd = 0, 0
	s.sl = startLine{}
	s.body, s.remaining = 0, 0
	s.x = nil
	s.start = p.time(off)
	s.startClock = p.clock + uint64(off)
	s.startIface = p.iface
}

// lostSync records that s is no longer at a known message boundary.
func (p *Parser) lostSync(s *side) {
	s.anyMethod = false
	s.resynced = true
}

// headers collects the start line and header block.
func (p *Parser) headers(s *side, d []byte) int {
	if len(s.hdr) == 0 {
		if n := p.wholeHeaders(s, d); n > 0 {
			return n
		}
	}
	room := p.lim.MaxHeaderBytes - len(s.hdr)
	i := bytes.IndexByte(d, '\n')
	if i < 0 {
		if len(d) > room {
			p.tooLarge(s, d[:room])
			return 0
		}
		s.hdr = append(s.hdr, d...)
		if s.firstEnd == 0 && len(s.hdr)-len(d) < probeWindow &&
			probeStart(s.hdr[:min(len(s.hdr), probeWindow)], s.anyMethod) == dissect.NoMatch {
			// Not a start line after all (the side was never in a message).
			p.lostSync(s)
			s.st = stSkipLine
		}
		return len(d)
	}
	if i+1 > room {
		p.tooLarge(s, d[:room])
		return 0
	}
	s.hdr = append(s.hdr, d[:i+1]...)
	line := s.hdr[s.lineStart:]
	line = line[:trimLine(line)]
	switch {
	case s.firstEnd == 0:
		sl, ok := parseStartLine(line, s.anyMethod)
		if !ok {
			p.lostSync(s)
			s.st = stResync
			return i + 1
		}
		s.sl = sl
		s.firstEnd = len(s.hdr)
	case len(line) == 0:
		p.headersDone(s)
		return i + 1
	}
	s.lineStart = len(s.hdr)
	return i + 1
}

// tooLarge ends a message whose header block exceeds the limit; fill is the part of
// the data that still fits (appended first, so the outcome does not depend on how the
// data was split into chunks). The caller consumes nothing: the line is skipped.
func (p *Parser) tooLarge(s *side, fill []byte) {
	s.hdr = append(s.hdr, fill...)
	p.cut(s, ErrorTooLarge, "header block larger than "+strconv.Itoa(p.lim.MaxHeaderBytes)+" bytes")
	p.lostSync(s)
	s.st = stSkipLine
}

// releaseHdr empties hdr, dropping it when a large block grew it.
func (s *side) releaseHdr() {
	if cap(s.hdr) > keepBuffer {
		s.hdr = nil
	} else {
		s.hdr = s.hdr[:0]
	}
	s.lineStart = 0
}

// wholeHeaders is headers for a header block that lies entirely at the start of d,
// the usual case (a message starts a segment): the block is parsed where it is and
// copied once. It returns 0, having changed nothing, when the block does not end in d
// within Limits.MaxHeaderBytes or its first line is not a start line: the
// line-by-line path then decides, as for a block split across chunks.
func (p *Parser) wholeHeaders(s *side, d []byte) int {
	d = d[:min(len(d), p.lim.MaxHeaderBytes)]
	i := bytes.IndexByte(d, '\n')
	if i < 0 {
		return 0
	}
	sl, ok := parseStartLine(d[:trimLine(d[:i+1])], s.anyMethod)
	if !ok {
		return 0
	}
	end := i + 1
	for {
		j := bytes.IndexByte(d[end:], '\n')
		if j < 0 {
			return 0
		}
		line := d[end : end+j+1]
		end += j + 1
		if trimLine(line) == 0 {
			break
		}
	}
	s.sl, s.firstEnd = sl, i+1
	p.headerBlock(s, string(d[:end]))
	return end
}

// headersDone handles a complete header block collected in s.hdr.
func (p *Parser) headersDone(s *side) {
	block := string(s.hdr)
	s.releaseHdr()
	p.headerBlock(s, block)
}

// headerBlock handles a complete header block: it creates or pairs the exchange and
// decides how the body is delimited.
func (p *Parser) headerBlock(s *side, block string) {
	if s.sl.response && s.sl.code >= 100 && s.sl.code < 200 && s.sl.code != 101 {
		// Interim response (100 Continue, 103 Early Hints...): the final response
		// follows; the exchange is unaffected.
		s.st, s.anyMethod = stStart, true
		return
	}
	x := p.message(s, block, len(block))
	s.x = x
	h := &x.http
	msg := &h.Request
	if s.sl.response {
		msg = &h.Response
	}
	te, hasTE := msg.Headers["transfer-encoding"]
	cl, hasCL := msg.Headers["content-length"]

	if s.sl.response {
		code := s.sl.code
		switch {
		case code == 101 || x.connect && code/100 == 2:
			p.finish(s, stStart)
			p.startTunnel()
			return
		case x.head || code == 204 || code == 304:
			p.finish(s, stStart)
			return
		}
	}
	switch {
	case hasTE && chunkedLast(te):
		s.st, s.line = stChunkSize, s.line[:0]
	case hasTE:
		// A request must end with chunked (RFC 9112 section 6.3); a response is
		// then delimited by the end of the connection.
		if !s.sl.response {
			x.setErr(errMalformed, "request Transfer-Encoding does not end with chunked")
		}
		s.st = stUntilClose
	case hasCL:
		n, ok := parseContentLength(cl)
		switch {
		case !ok && s.sl.response:
			x.setErr(errMalformed, "invalid Content-Length "+strconv.Quote(cl))
			s.st = stUntilClose
		case !ok:
			x.setErr(errMalformed, "invalid Content-Length "+strconv.Quote(cl))
			p.finish(s, stResync)
			p.lostSync(s)
		case n == 0:
			p.finish(s, stStart)
		default:
			s.st, s.remaining = stBody, n
		}
	case s.sl.response:
		s.st = stUntilClose
	default:
		p.finish(s, stStart)
	}
}

// message builds the exchange of the message whose complete lines are block (hsize
// bytes were seen of its start line and headers): a new queued exchange for a
// request, the paired (or an orphan) exchange for a response.
func (p *Parser) message(s *side, block string, hsize int) *exchange {
	sl := &s.sl
	if !sl.response {
		x := &exchange{
			reqSide: s.id, reqClock: s.startClock, reqTime: s.start, reqIface: s.startIface,
		}
		h := &x.http
		h.HasRequest = true
		h.Method = block[sl.method[0]:sl.method[1]]
		h.URL = block[sl.target[0]:sl.target[1]]
		h.Version = block[sl.version[0]:sl.version[1]]
		h.Path, h.Query = splitTarget(h.URL)
		x.head = h.Method == "HEAD"
		x.connect = h.Method == "CONNECT"
		h.Request.Headers, h.Request.Cookies = parseFields(block[s.firstEnd:], nil, nil)
		h.Request.HeadersSize = hsize
		p.enqueue(x)
		return x
	}
	x := p.pair(s)
	if x == nil {
		x = &exchange{orphan: true}
	}
	x.respSide, x.respTime, x.respIface = s.id, s.start, s.startIface
	h := &x.http
	h.HasResponse = true
	h.StatusCode = sl.code
	h.StatusText = block[sl.reason[0]:sl.reason[1]]
	if !h.HasRequest {
		h.Version = block[sl.version[0]:sl.version[1]]
	}
	h.Response.Headers, h.Response.Cookies = parseFields(block[s.firstEnd:], nil, nil)
	h.Response.HeadersSize = hsize
	return x
}

// pair finds the request a response of side s answers: the oldest unanswered request
// of the other side that began before the response, or, when s lost its place since
// its last response, the newest one (older ones then stay unanswered). nil means the
// capture holds no such request.
func (p *Parser) pair(s *side) *exchange {
	q := p.queue[p.qhead:]
	pick := -1
	for i, x := range q {
		if x.http.HasResponse || x.noResp || x.reqSide == s.id || x.reqClock >= s.startClock {
			continue
		}
		pick = i
		if !s.resynced {
			break
		}
	}
	if s.resynced && pick >= 0 {
		for _, x := range q[:pick] {
			if !x.http.HasResponse && !x.noResp && x.reqSide != s.id {
				x.noResp = true
				x.setErr(dissect.ErrorNoResponse, "response lost in a capture gap")
			}
		}
	}
	s.resynced = false
	if pick < 0 {
		return nil
	}
	return q[pick]
}

// enqueue adds a request's exchange, first making room by emitting the oldest
// unanswered complete request when MaxPending are waiting.
func (p *Parser) enqueue(x *exchange) {
	if len(p.queue)-p.qhead >= p.lim.MaxPending {
		for i := p.qhead; i < len(p.queue); i++ {
			y := p.queue[i]
			if y.reqDone && !y.http.HasResponse {
				y.setErr(dissect.ErrorNoResponse, "more than "+strconv.Itoa(p.lim.MaxPending)+
					" requests waiting: response not tracked")
				copy(p.queue[i:], p.queue[i+1:])
				p.queue[len(p.queue)-1] = nil
				p.queue = p.queue[:len(p.queue)-1]
				p.deliver(y)
				break
			}
		}
	}
	if p.qhead > 0 && p.qhead == len(p.queue) {
		p.queue, p.qhead = p.queue[:0], 0
	} else if p.qhead >= 64 && p.qhead*2 >= len(p.queue) {
		n := copy(p.queue, p.queue[p.qhead:])
		clear(p.queue[n:])
		p.queue, p.qhead = p.queue[:n], 0
	}
	p.queue = append(p.queue, x)
}

// finish ends the message of s: the body size is recorded, the exchange marked done
// (an orphan response is emitted), complete exchanges are emitted, and s moves to next.
func (p *Parser) finish(s *side, next state) {
	if x := s.x; x != nil {
		body := s.body
		if body > math.MaxInt32 && math.MaxInt == math.MaxInt32 {
			body = math.MaxInt32
		}
		if s.sl.response {
			x.http.Response.BodySize = int(body)
			x.respDone = true
			if x.orphan {
				p.deliver(x)
			}
		} else {
			x.http.Request.BodySize = int(body)
			x.reqDone = true
		}
		s.x = nil
	}
	s.body, s.remaining = 0, 0
	s.st = next
	s.anyMethod = next == stStart
	p.flush()
}

// flush emits complete exchanges from the front of the queue.
func (p *Parser) flush() {
	for p.qhead < len(p.queue) {
		x := p.queue[p.qhead]
		if !x.complete() {
			return
		}
		p.queue[p.qhead] = nil
		p.qhead++
		p.deliver(x)
	}
	if p.qhead == len(p.queue) {
		p.queue, p.qhead = p.queue[:0], 0
	}
}

// deliver emits x; the entry belongs to the pipeline afterwards. A missing request or
// response is an error of its own unless a more specific one was recorded.
func (p *Parser) deliver(x *exchange) {
	e := &x.entry
	h := &x.http
	switch {
	case !h.HasResponse && e.ErrorType != dissect.ErrorNoResponse:
		x.setErr(dissect.ErrorNoResponse, "no response seen")
	case !h.HasRequest:
		x.setErr(dissect.ErrorNoRequest, "no request seen")
	}
	e.Protocol = dissect.ProtoHTTP
	e.HTTP = h
	var client dissect.Side
	if h.HasRequest {
		client = x.reqSide
		e.Timestamp, e.Interface = x.reqTime, x.reqIface
		if h.HasResponse {
			if d := x.respTime.Sub(x.reqTime); d > 0 {
				e.Elapsed = d
			}
		}
	} else {
		client = x.respSide.Other()
		e.Timestamp, e.Interface = x.respTime, x.respIface
	}
	p.emit(e, client)
}

// cut ends the message in progress on s because of a gap, the end of the stream, a
// size limit or bad framing: what was seen is kept, and the exchange carries the
// error. A message whose start line is incomplete is dropped. s.st is left for the
// caller to set.
func (p *Parser) cut(s *side, typ, msg string) {
	switch s.st {
	case stHeaders:
		if s.firstEnd == 0 {
			s.releaseHdr()
			return
		}
		if s.sl.response && s.sl.code >= 100 && s.sl.code < 200 && s.sl.code != 101 {
			s.releaseHdr()
			return
		}
		seen := len(s.hdr)
		block := string(s.hdr[:s.lineStart])
		s.releaseHdr()
		s.x = p.message(s, block, seen)
		what := "request"
		if s.sl.response {
			what = "response"
		}
		s.x.setErr(typ, what+" headers "+msg)
	case stBody, stChunkSize, stChunkData, stChunkEnd, stTrailers, stUntilClose:
		if s.x == nil {
			break
		}
		what := "request"
		if s.sl.response {
			what = "response"
		}
		detail := what + " body " + msg
		if s.st == stBody {
			detail += " (" + strconv.FormatInt(s.body, 10) + " of " +
				strconv.FormatInt(s.body+s.remaining, 10) + " bytes seen)"
		}
		if s.st == stTrailers {
			detail = what + " trailers " + msg
			s.releaseHdr()
		}
		s.x.setErr(typ, detail)
	}
	p.finish(s, stResync)
}

// abandon drops whatever s was doing without emitting garbage.
func (p *Parser) abandon(s *side) {
	if s.st == stHeaders && s.firstEnd == 0 {
		s.releaseHdr()
		return
	}
	p.cut(s, errMalformed, "abandoned")
}

// gap handles Skipped bytes lost before the next data of s.
func (p *Parser) gap(s *side, skipped int) {
	known := skipped > 0
	sk := int64(skipped)
	switch s.st {
	case stStart, stResync, stSkipLine:
		p.lostSync(s)
		s.st = stResync
		return
	case stBody, stChunkData:
		if known && sk <= s.remaining && s.x != nil {
			// The lost bytes are inside the body: keep the framing.
			s.body += sk
			s.remaining -= sk
			s.x.setErr(ErrorGap, strconv.FormatInt(sk, 10)+" body bytes not captured")
			if s.remaining == 0 {
				if s.st == stBody {
					p.finish(s, stStart)
				} else {
					s.st, s.sawCR = stChunkEnd, false
				}
			}
			return
		}
	case stUntilClose:
		if s.x != nil {
			if known {
				s.body += sk
				s.x.setErr(ErrorGap, strconv.FormatInt(sk, 10)+" body bytes not captured")
			} else {
				s.x.setErr(ErrorGap, "body bytes not captured")
			}
		}
		return
	}
	p.cut(s, errTruncated, "cut by a capture gap")
	p.lostSync(s)
	s.st = stResync
}

// chunkSize reads a chunk-size line.
func (p *Parser) chunkSize(s *side, d []byte) int {
	i := bytes.IndexByte(d, '\n')
	if i < 0 {
		if len(s.line)+len(d) > maxChunkLine {
			p.cut(s, errMalformed, "chunk size line too long")
			p.lostSync(s)
			s.st = stSkipLine
			return 0
		}
		s.line = append(s.line, d...)
		return len(d)
	}
	if len(s.line)+i > maxChunkLine {
		p.cut(s, errMalformed, "chunk size line too long")
		p.lostSync(s)
		s.st = stResync
		return i + 1
	}
	ln := d[:i]
	if len(s.line) > 0 {
		s.line = append(s.line, ln...)
		ln = s.line
	}
	ln = ln[:trimLine(ln)]
	n, ok := parseChunkSize(ln)
	s.line = s.line[:0]
	if !ok {
		// The whole line is consumed: had it started the next message, its first
		// bytes could already be in s.line, and the outcome would depend on how the
		// data was split into chunks.
		p.cut(s, errMalformed, "has a bad chunk size line")
		p.lostSync(s)
		s.st = stResync
		return i + 1
	}
	if n == 0 {
		s.st = stTrailers
		s.hdr, s.lineStart = s.hdr[:0], 0
	} else {
		s.st, s.remaining = stChunkData, n
	}
	return i + 1
}

// trailers collects the trailer section of a chunked body (possibly empty).
func (p *Parser) trailers(s *side, d []byte) int {
	room := p.lim.MaxHeaderBytes - len(s.hdr)
	i := bytes.IndexByte(d, '\n')
	if i < 0 {
		if len(d) > room {
			p.cut(s, ErrorTooLarge, "larger than "+strconv.Itoa(p.lim.MaxHeaderBytes)+" bytes")
			p.lostSync(s)
			s.st = stSkipLine
			return 0
		}
		s.hdr = append(s.hdr, d...)
		return len(d)
	}
	if i+1 > room {
		p.cut(s, ErrorTooLarge, "larger than "+strconv.Itoa(p.lim.MaxHeaderBytes)+" bytes")
		p.lostSync(s)
		s.st = stSkipLine
		return 0
	}
	s.hdr = append(s.hdr, d[:i+1]...)
	line := s.hdr[s.lineStart:]
	if trimLine(line) > 0 {
		s.lineStart = len(s.hdr)
		return i + 1
	}
	if s.lineStart > 0 && s.x != nil {
		msg := &s.x.http.Request
		if s.sl.response {
			msg = &s.x.http.Response
		}
		msg.Headers, msg.Cookies = parseFields(string(s.hdr[:s.lineStart]), msg.Headers, msg.Cookies)
	}
	s.releaseHdr()
	p.finish(s, stStart)
	return i + 1
}

// startTunnel stops HTTP parsing after a protocol switch. A request body still
// streaming on the other side ends here.
func (p *Parser) startTunnel() {
	p.tunnel = true
	for i := range p.sides {
		s := &p.sides[i]
		if s.x != nil {
			p.finish(s, stStart)
		}
		s.releaseHdr()
		s.st = stStart
	}
	p.flush()
}

// Close ends the connection: a body delimited by the connection ends normally, other
// messages in progress are cut ("truncated"), and every pending exchange is emitted,
// requests without a response included.
func (p *Parser) Close(time.Time) {
	if p.closed {
		return
	}
	p.closed = true
	for i := range p.sides {
		s := &p.sides[i]
		switch s.st {
		case stUntilClose:
			p.finish(s, stStart)
		case stHeaders, stBody, stChunkSize, stChunkData, stChunkEnd, stTrailers:
			p.cut(s, errTruncated, "cut by the end of the stream")
		}
	}
	for ; p.qhead < len(p.queue); p.qhead++ {
		x := p.queue[p.qhead]
		p.queue[p.qhead] = nil
		p.deliver(x)
	}
	p.queue, p.qhead = nil, 0
	for i := range p.sides {
		p.sides[i].hdr, p.sides[i].line = nil, nil
	}
}
