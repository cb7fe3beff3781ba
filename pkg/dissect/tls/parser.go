package tls

import (
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// maxHello bounds the bytes of a hello the parser keeps.
const maxHello = 64 << 10

// sideParser reads the records of one side and, inside handshake records, its
// handshake messages.
type sideParser struct {
	// Record layer.
	hdr      [recordHeaderLen]byte
	hdrN     int
	ctype    byte
	recLen   int // length of the current record's body
	left     int // bytes of the current record's body still to come
	recBytes int // bytes of every record whose header was read, headers included
	recT     time.Time
	recIface int

	// Handshake layer (plaintext handshake records).
	mhdr    [4]byte
	mhdrN   int
	mtype   byte
	mlen    int // body length announced by the message header
	mleft   int // body bytes still to come
	keep    bool
	msg     []byte // kept body of a hello, at most maxHello bytes
	mT      time.Time
	mIface  int
	alert   [2]byte
	alertN  int
	stopped bool // record framing lost (a gap or bytes that are not records)
}

// inHello reports whether a kept hello has started (its header is complete) and is
// not finished.
func (s *sideParser) inHello() bool { return s.keep && s.mhdrN == 4 }

// parser pairs the ClientHello and the ServerHello of one connection.
type parser struct {
	emit  dissect.Emit
	sides [2]sideParser

	roleKnown bool
	client    dissect.Side
	done      bool // the entry was emitted: the rest of the stream is ignored

	haveCH, haveSH bool
	ch             clientHello
	sh             serverHello
	chT, shT       time.Time
	chIface        int
	shIface        int
	retry          bool
	alert          string
	errType        string
	errMsg         []string
}

func newParser(emit dissect.Emit) *parser { return &parser{emit: emit} }

// Feed implements dissect.StreamParser.
func (p *parser) Feed(c dissect.Chunk) {
	if p.done || int(c.Side) > 1 {
		return
	}
	s := &p.sides[c.Side]
	if s.stopped {
		return
	}
	if c.Skipped != 0 && !p.skip(c.Side, c.Skipped) {
		p.lose(c.Side, whyGap)
		return
	}
	data := c.Data
	for off := 0; off < len(data) && !p.done && !s.stopped; {
		if s.hdrN < recordHeaderLen {
			if s.hdrN == 0 {
				s.recT, s.recIface = chunkTime(&c, off), c.Interface
			}
			n := copy(s.hdr[s.hdrN:], data[off:])
			s.hdrN += n
			off += n
			if s.hdrN == recordHeaderLen {
				p.recordHeader(c.Side)
			}
			continue
		}
		n := min(s.left, len(data)-off)
		p.recordBody(c.Side, data[off:off+n])
		off += n
		s.left -= n
		if s.left == 0 && !p.done && !s.stopped {
			s.hdrN = 0
		}
	}
}

func chunkTime(c *dissect.Chunk, off int) time.Time {
	if c.Time == nil {
		return time.Time{}
	}
	return c.Time(off)
}

// skip accounts for n lost bytes (n < 0: an unknown amount) on side. It reports
// whether the framing survives: the bytes fell inside a record whose body the parser
// ignores anyway.
func (p *parser) skip(side dissect.Side, n int) bool {
	s := &p.sides[side]
	if n < 0 || s.hdrN < recordHeaderLen || n > s.left {
		return false
	}
	if s.ctype == ctAlert || s.ctype == ctHandshake {
		return false
	}
	s.left -= n
	if s.left == 0 {
		s.hdrN = 0
	}
	return true
}

// recordHeader checks a complete record header and starts its body.
func (p *parser) recordHeader(side dissect.Side) {
	s := &p.sides[side]
	h := &s.hdr
	s.ctype, s.recLen = h[0], be16(h[3:])
	if s.ctype < ctChangeCipherSpec || s.ctype > ctHeartbeat || h[1] != 3 || h[2] > 4 || s.recLen > maxRecord {
		p.lose(side, whyNotTLS)
		return
	}
	s.left = s.recLen
	s.recBytes += recordHeaderLen + s.recLen
	s.alertN = 0
	if s.left == 0 {
		s.hdrN = 0
	}
}

// recordBody consumes body bytes of the current record.
func (p *parser) recordBody(side dissect.Side, b []byte) {
	s := &p.sides[side]
	switch s.ctype {
	case ctHandshake:
		// TLS 1.2 encrypts the Finished message in handshake records after the
		// ChangeCipherSpec; by then the entry is out and nothing is read.
		p.handshake(side, b)
	case ctAlert:
		if s.recLen != 2 { // an encrypted alert
			return
		}
		n := copy(s.alert[s.alertN:], b)
		s.alertN += n
		if s.alertN == 2 {
			p.alertRecord(side)
		}
	}
}

// handshake consumes the bytes of plaintext handshake records: messages may span
// records, and a record may hold several messages.
func (p *parser) handshake(side dissect.Side, b []byte) {
	s := &p.sides[side]
	for len(b) > 0 && !p.done && !s.stopped {
		if s.mhdrN < 4 {
			if s.mhdrN == 0 {
				s.mT, s.mIface = s.recT, s.recIface
			}
			n := copy(s.mhdr[s.mhdrN:], b)
			s.mhdrN += n
			b = b[n:]
			if s.mhdrN < 4 {
				return
			}
			s.mtype = s.mhdr[0]
			s.mlen = be24(s.mhdr[1:])
			s.mleft = s.mlen
			s.keep = p.wants(side, s.mtype)
			s.msg = s.msg[:0]
			if want := min(s.mlen, maxHello); s.keep && cap(s.msg) < want {
				s.msg = make([]byte, 0, want)
			}
			if s.mleft == 0 {
				p.messageEnd(side)
			}
			continue
		}
		n := min(s.mleft, len(b))
		if s.keep && len(s.msg) < maxHello {
			s.msg = append(s.msg, b[:min(n, maxHello-len(s.msg))]...)
		}
		s.mleft -= n
		b = b[n:]
		if s.mleft == 0 {
			p.messageEnd(side)
		}
	}
}

// wants reports whether a message of type t from side is a hello to keep, deciding
// the roles on the first one: the sender of a ClientHello is the client, the sender
// of a ServerHello the server.
func (p *parser) wants(side dissect.Side, t byte) bool {
	if t != hsClientHello && t != hsServerHello {
		return false
	}
	if !p.roleKnown {
		p.roleKnown = true
		p.client = side
		if t == hsServerHello {
			p.client = side.Other()
		}
	}
	if t == hsClientHello {
		return side == p.client
	}
	return side != p.client
}

// messageEnd handles a complete handshake message of side.
func (p *parser) messageEnd(side dissect.Side) {
	s := &p.sides[side]
	s.mhdrN = 0
	if !s.keep {
		return
	}
	s.keep = false
	partial := s.mlen > maxHello
	if partial {
		p.addErr(dissect.ErrorMalformed, "hello longer than 64 KiB")
	}
	p.hello(side, partial, "")
}

// hello parses the kept message of side. partial means the body is a prefix of the
// message; cut, when not empty, is why (the error message of a truncated hello).
func (p *parser) hello(side dissect.Side, partial bool, cut string) {
	s := &p.sides[side]
	body := s.msg
	if s.mtype == hsClientHello {
		if p.haveCH {
			return // the second ClientHello after a HelloRetryRequest repeats the first
		}
		ch, err := parseClientHello(body, partial)
		p.ch, p.haveCH, p.chT, p.chIface = ch, true, s.mT, s.mIface
		if err != nil {
			p.addErr(dissect.ErrorMalformed, "ClientHello: "+err.Error())
		}
		if cut != "" {
			p.addErr(dissect.ErrorTruncated, "ClientHello cut by "+cut)
		}
		s.msg = nil
		return
	}
	sh, err := parseServerHello(body, partial)
	if sh.retry {
		p.retry = true
		if cut == "" && err == nil {
			return // wait for the real ServerHello
		}
	}
	if c := &p.sides[p.client]; !p.haveCH && c.inHello() {
		// The rest of the ClientHello is missing from the capture, or reassembly has
		// not given up waiting for it yet: the server answered, so it was sent.
		c.keep = false
		p.hello(p.client, true, whyGap)
	}
	p.sh, p.haveSH, p.shT, p.shIface = sh, true, s.mT, s.mIface
	if err != nil {
		p.addErr(dissect.ErrorMalformed, "ServerHello: "+err.Error())
	}
	if cut != "" {
		p.addErr(dissect.ErrorTruncated, "ServerHello cut by "+cut)
	}
	p.finish()
}

// alertRecord handles a plaintext alert of side: a fatal one from the server before
// its ServerHello ends the handshake.
func (p *parser) alertRecord(side dissect.Side) {
	if !p.haveCH || side == p.client {
		return
	}
	s := &p.sides[side]
	level, desc := s.alert[0], s.alert[1]
	p.alert = alertName(desc)
	if level == 2 {
		p.addErr(ErrorAlert, "fatal alert "+p.alert+" ("+strconv.Itoa(int(desc))+")")
		p.finish()
	}
}

// Why a side stops being read.
const (
	whyGap    = "a capture gap"
	whyNotTLS = "bytes that are not TLS records"
)

// lose stops reading side after a capture gap or bytes that are not records (why). A
// hello in progress is cut there; a server that can no longer deliver its ServerHello
// ends the entry at once.
func (p *parser) lose(side dissect.Side, why string) {
	s := &p.sides[side]
	s.stopped = true
	if s.inHello() {
		s.keep = false
		if why == whyNotTLS {
			p.addErr(dissect.ErrorMalformed, helloName(s.mtype)+" followed by "+why)
			p.hello(side, true, "")
		} else {
			p.hello(side, true, why)
		}
	}
	if !p.done && p.roleKnown && side != p.client && p.haveCH {
		if why == whyGap {
			p.addErr(dissect.ErrorNoResponse, "ServerHello lost in a capture gap")
		} else {
			p.addErr(dissect.ErrorNoResponse, "the server sent "+why)
		}
		p.finish()
	}
	if p.sides[0].stopped && p.sides[1].stopped && !p.done {
		p.Close(time.Time{})
	}
	s.msg = nil
}

func helloName(t byte) string {
	if t == hsClientHello {
		return "ClientHello"
	}
	return "ServerHello"
}

func (p *parser) addErr(typ, msg string) {
	if p.errType == "" {
		p.errType = typ
	}
	p.errMsg = append(p.errMsg, msg)
}

// Close implements dissect.StreamParser: a hello in progress is cut, and what was
// seen of the handshake is emitted.
func (p *parser) Close(time.Time) {
	if p.done {
		return
	}
	// The ClientHello first: a cut ServerHello emits the entry.
	for _, side := range [2]dissect.Side{p.client, p.client.Other()} {
		if s := &p.sides[side]; s.inHello() && !p.done {
			s.keep = false
			p.hello(side, true, "the end of the stream")
		}
	}
	if p.done {
		return
	}
	if p.haveCH {
		if p.retry {
			p.addErr(dissect.ErrorNoResponse, "no ServerHello after the HelloRetryRequest")
		} else {
			p.addErr(dissect.ErrorNoResponse, "no ServerHello")
		}
		p.finish()
	}
	p.done = true
	p.release()
}

// finish emits the entry.
func (p *parser) finish() {
	if p.done {
		return
	}
	p.done = true
	t := &dissect.TLS{HasRequest: p.haveCH, HasResponse: p.haveSH, HelloRetry: p.retry, Alert: p.alert}
	e := &dissect.Entry{Protocol: dissect.ProtoTLS, TLS: t}
	if p.haveCH {
		ch := &p.ch
		t.Summary = "ClientHello"
		t.SNI, t.ClientALPN, t.CipherSuites = ch.sni, ch.alpn, ch.suites
		if ch.maxVersion != 0 { // 0: a ClientHello cut before its version
			t.ClientVersion = versionName(ch.maxVersion)
		}
		t.Version = t.ClientVersion
		t.RequestSize = p.sides[p.client].recBytes
		e.Timestamp, e.Interface = p.chT, p.chIface
	}
	if p.haveSH {
		sh := &p.sh
		if !p.haveCH {
			t.Summary = "ServerHello"
			e.Timestamp, e.Interface = p.shT, p.shIface
			p.addErr(dissect.ErrorNoRequest, "ServerHello without ClientHello")
		}
		t.Version = ""
		if sh.version != 0 {
			t.Version = versionName(sh.version)
		}
		if sh.hasSuite {
			t.CipherSuite, t.Cipher = sh.suite, cipherSuiteName(sh.suite)
		}
		t.ALPN = sh.alpn
		t.ResponseSize = p.sides[p.client.Other()].recBytes
		if p.haveCH && !p.shT.IsZero() && !p.chT.IsZero() && p.shT.After(p.chT) {
			e.Elapsed = p.shT.Sub(p.chT)
		}
	} else if p.alert != "" {
		t.ResponseSize = p.sides[p.client.Other()].recBytes
	}
	e.ErrorType, e.ErrorMessage = p.errType, strings.Join(p.errMsg, "; ")
	p.release()
	p.emit(e, p.client)
}

// release drops the buffers once the entry is out.
func (p *parser) release() {
	p.sides[0].msg, p.sides[1].msg = nil, nil
	p.ch, p.sh = clientHello{}, serverHello{}
}
