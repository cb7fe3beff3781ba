// Package dns owns the DNS dissector of kubectl-shark: DNS over UDP and over TCP
// (RFC 1035 §4.2.2 length-prefixed framing, RFC 7766), including mDNS (5353) and LLMNR
// (5355) messages.
//
// Every query is paired with its response within one UDP flow or TCP connection by
// transaction ID and first question (name compared case-insensitively, type), and one
// dissect.Entry is emitted per exchange:
//   - a query and its response: HasRequest and HasResponse, Elapsed = response − query;
//   - a query without a response: emitted when a query with the same ID and question is
//     sent again from the same side (a retransmission starts a new exchange), when it
//     has been pending for longer than 10 seconds of packet time, when more than 256
//     queries are pending on the stream, or when the stream closes; ErrorType
//     "no_response";
//   - a response without a query: emitted at once with HasRequest false and ErrorType
//     "no_request".
//
// mDNS and LLMNR answers usually travel on a different flow (multicast) than their
// queries, so they show up as unanswered queries and unpaired responses.
//
// The message decoder is written for hostile input: every read is bounds-checked,
// compression pointers must point strictly backwards (so no pointer loop can exist)
// and names are capped at 255 wire bytes; a message that fails part-way keeps what was
// decoded before the failure and the entry carries ErrorType "truncated" or
// "malformed". Answers are rendered as addresses (A, AAAA), target names (CNAME, NS,
// PTR, DNAME, MX, SRV, SVCB, HTTPS, SOA's primary server), text (TXT, strings
// concatenated) or the RFC 3597 generic form for other types.
//
// The dissectors are stateless values, safe for concurrent use; the parsers they
// create are not, as the pipeline requires.
package dns

import (
	"errors"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// Entry.ErrorType values set by this package.
const (
	ErrorTypeNoResponse = "no_response" // a query whose response was not seen
	ErrorTypeNoRequest  = "no_request"  // a response whose query was not seen
	ErrorTypeTruncated  = "truncated"   // a message that ends before its records do
	ErrorTypeMalformed  = "malformed"   // a message that does not decode
)

const (
	queryTimeout = 10 * time.Second
	maxPending   = 256
)

// UDP is the DNS-over-UDP dissector.
var UDP dissect.UDPDissector = UDPDissector{}

// TCP is the DNS-over-TCP dissector.
var TCP dissect.TCPDissector = TCPDissector{}

// UDPDissector dissects DNS over UDP. The zero value is ready to use.
type UDPDissector struct{}

// Protocol returns dissect.ProtoDNS.
func (UDPDissector) Protocol() string { return dissect.ProtoDNS }

// Probe accepts a flow when either port is 53, 5353 (mDNS) or 5355 (LLMNR) and the
// payload has a plausible DNS header, or, on other ports, when the payload decodes
// completely as a DNS message with one question.
func (UDPDissector) Probe(_ dissect.Side, payload []byte, ports [2]uint16) bool {
	if isDNSPort(ports[0]) || isDNSPort(ports[1]) {
		return plausibleHeader(payload)
	}
	return plausibleMessage(payload)
}

// NewParser returns a parser for one UDP flow.
func (UDPDissector) NewParser(emit dissect.Emit) dissect.DatagramParser {
	return &udpParser{m: matcher{emit: emit}}
}

// TCPDissector dissects DNS over TCP. The zero value is ready to use.
type TCPDissector struct{}

// Protocol returns dissect.ProtoDNS.
func (TCPDissector) Protocol() string { return dissect.ProtoDNS }

// maxProbeMessage is the largest first message Probe waits for on a port that is not
// a DNS port (the pipeline buffers a few KiB per side while probing).
const maxProbeMessage = 4000

// Probe accepts a connection on a DNS port whose first bytes are a length prefix and a
// plausible DNS header, or, on other ports, whose first length-prefixed message decodes
// completely as a DNS message with one question.
func (TCPDissector) Probe(_ dissect.Side, data []byte, ports [2]uint16) dissect.Verdict {
	if len(data) < 2 {
		return dissect.NeedMore
	}
	n := int(be16(data, 0))
	if n < headerLen {
		return dissect.NoMatch
	}
	if len(data) < 2+headerLen {
		return dissect.NeedMore
	}
	if !plausibleHeader(data[2:]) {
		return dissect.NoMatch
	}
	if isDNSPort(ports[0]) || isDNSPort(ports[1]) {
		return dissect.Match
	}
	if n > maxProbeMessage {
		return dissect.NoMatch
	}
	if len(data) < 2+n {
		return dissect.NeedMore
	}
	if plausibleMessage(data[2 : 2+n]) {
		return dissect.Match
	}
	return dissect.NoMatch
}

// NewParser returns a parser for one TCP connection.
func (TCPDissector) NewParser(emit dissect.Emit) dissect.StreamParser {
	return &tcpParser{m: matcher{emit: emit}}
}

func isDNSPort(p uint16) bool { return p == 53 || p == 5353 || p == 5355 }

// plausibleHeader reports whether b starts with a DNS header whose opcode is assigned
// (QUERY, IQUERY, STATUS, NOTIFY, UPDATE, DSO).
func plausibleHeader(b []byte) bool {
	if len(b) < headerLen {
		return false
	}
	switch be16(b, 2) >> 11 & 0xf {
	case 0, 1, 2, 4, 5, 6:
		return true
	}
	return false
}

// plausibleMessage is the strict test used away from DNS ports: exactly one question
// of a usual class, record counts that fit, a query without answers, and the whole
// message decoding without error or trailing bytes.
func plausibleMessage(b []byte) bool {
	if !plausibleHeader(b) {
		return false
	}
	qd, an, ns, ar := be16(b, 4), be16(b, 6), be16(b, 8), be16(b, 10)
	if qd != 1 || (int(an)+int(ns)+int(ar))*11 > len(b) {
		return false
	}
	op := be16(b, 2) >> 11 & 0xf
	if be16(b, 2)&flagQR == 0 && op == 0 && (an != 0 || ns != 0 || ar > 2) {
		return false
	}
	m := parseMessage(b)
	if m.err != nil || m.consumed != len(b) || len(m.questions) != 1 {
		return false
	}
	switch m.questions[0].qclass &^ 0x8000 { // mDNS uses the top bit for unicast-response
	case 1, 3, 4, 254, 255:
		return true
	}
	return false
}

// udpParser parses the datagrams of one UDP flow.
type udpParser struct{ m matcher }

func (p *udpParser) Datagram(side dissect.Side, payload []byte, t time.Time, iface int) {
	p.m.message(side, payload, t, iface, false)
}

func (p *udpParser) Close(time.Time) { p.m.close() }

// pending is a query waiting for its response.
type pending struct {
	side  dissect.Side
	msg   message
	t     time.Time
	iface int
}

// matcher pairs the queries and responses of one stream.
type matcher struct {
	emit    dissect.Emit
	pending []pending // arrival order
}

// message handles one complete DNS message (or, when cut, the start of one that was
// cut short by the end of the stream).
func (m *matcher) message(side dissect.Side, b []byte, t time.Time, iface int, cut bool) {
	if len(b) < headerLen {
		return // not enough to tell a query from a response or to pair it
	}
	msg := parseMessage(b)
	if cut && msg.err == nil {
		msg.err = errTruncated
	}
	m.expire(t)
	if !msg.isResponse() {
		for i := range m.pending {
			p := &m.pending[i]
			if p.side == side && p.msg.id == msg.id && sameQuestion(&p.msg, &msg) {
				m.emitExchange(p, nil, time.Time{})
				m.remove(i)
				break
			}
		}
		if len(m.pending) >= maxPending {
			m.emitExchange(&m.pending[0], nil, time.Time{})
			m.remove(0)
		}
		m.pending = append(m.pending, pending{side: side, msg: msg, t: t, iface: iface})
		return
	}
	for i := range m.pending {
		p := &m.pending[i]
		if p.side == side || p.msg.id != msg.id {
			continue
		}
		if len(msg.questions) > 0 && len(p.msg.questions) > 0 && !sameQuestion(&p.msg, &msg) {
			continue
		}
		m.emitExchange(p, &msg, t)
		m.remove(i)
		return
	}
	// A response without its query: the client is the other side.
	m.emitExchange(&pending{side: side.Other(), t: t, iface: iface}, &msg, t)
}

// expire emits the queries that have waited longer than queryTimeout at time now.
func (m *matcher) expire(now time.Time) {
	n := 0
	for n < len(m.pending) && now.Sub(m.pending[n].t) > queryTimeout {
		m.emitExchange(&m.pending[n], nil, time.Time{})
		n++
	}
	if n > 0 {
		m.pending = append(m.pending[:0], m.pending[n:]...)
	}
}

func (m *matcher) remove(i int) {
	copy(m.pending[i:], m.pending[i+1:])
	m.pending[len(m.pending)-1] = pending{}
	m.pending = m.pending[:len(m.pending)-1]
}

func (m *matcher) close() {
	for i := range m.pending {
		m.emitExchange(&m.pending[i], nil, time.Time{})
	}
	m.pending = nil
}

// sameQuestion compares the first questions of two messages: names without regard to
// ASCII case (resolvers may randomise it, RFC draft "0x20"), and types.
func sameQuestion(a, b *message) bool {
	if len(a.questions) == 0 || len(b.questions) == 0 {
		return len(a.questions) == len(b.questions)
	}
	qa, qb := &a.questions[0], &b.questions[0]
	return qa.qtype == qb.qtype && equalFoldASCII(qa.name, qb.name)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// emitExchange emits one entry. q is the query (q.msg.length == 0 when there was no
// query: then q carries the client side, time and interface of the response); resp is
// the response or nil.
func (m *matcher) emitExchange(q *pending, resp *message, rt time.Time) {
	d := &dissect.DNS{}
	e := &dissect.Entry{
		Protocol:  dissect.ProtoDNS,
		Timestamp: q.t,
		Interface: q.iface,
		DNS:       d,
	}
	hasReq := q.msg.length > 0
	var errSrc *message
	if hasReq {
		d.HasRequest = true
		d.TransactionID = q.msg.id
		d.RequestLength = q.msg.length
		d.Questions, d.QuestionTypes = questionFields(&q.msg)
		if q.msg.err != nil {
			errSrc = &q.msg
		}
	}
	if resp != nil {
		d.HasResponse = true
		d.TransactionID = resp.id
		d.ResponseLength = resp.length
		d.RCode = resp.rcode
		d.RCodeName = RCodeName(resp.rcode)
		d.Answers = resp.answers
		if !hasReq {
			d.Questions, d.QuestionTypes = questionFields(resp)
		} else {
			e.Elapsed = rt.Sub(q.t)
			if e.Elapsed < 0 {
				e.Elapsed = 0
			}
		}
		if errSrc == nil && resp.err != nil {
			errSrc = resp
		}
	}
	switch {
	case errSrc != nil:
		e.ErrorType = ErrorTypeMalformed
		if errors.Is(errSrc.err, errTruncated) {
			e.ErrorType = ErrorTypeTruncated
		}
		which := "query"
		if errSrc == resp {
			which = "response"
		}
		e.ErrorMessage = which + ": " + errSrc.err.Error()
	case resp == nil:
		e.ErrorType = ErrorTypeNoResponse
		e.ErrorMessage = "query without response"
	case !hasReq:
		e.ErrorType = ErrorTypeNoRequest
		e.ErrorMessage = "response without query"
	}
	m.emit(e, q.side)
}

func questionFields(m *message) (names, types []string) {
	if len(m.questions) == 0 {
		return nil, nil
	}
	names = make([]string, len(m.questions))
	types = make([]string, len(m.questions))
	for i, q := range m.questions {
		names[i] = q.name
		types[i] = TypeName(q.qtype)
	}
	return names, types
}
