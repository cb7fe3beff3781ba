package dns

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Wire-format limits (RFC 1035 §2.3.4, §4.1.4).
const (
	headerLen     = 12
	maxNameWire   = 255 // a name's wire length, length octets included
	maxPointers   = 127 // compression pointers followed while decoding one name
	maxQuestions  = 16  // questions kept per message
	maxAnswers    = 64  // answer strings kept per message
	maxAnswerText = 1024
	maxGenericHex = 64 // RDATA bytes shown in the RFC 3597 rendering of unknown types
)

// Parse errors. A message that fails part-way keeps what was decoded before the
// failure.
var (
	errTruncated = errors.New("message truncated")
	errMalformed = errors.New("message malformed")
)

// Header flag bits.
const (
	flagQR = 1 << 15
	flagTC = 1 << 9
)

// Record types the dissector looks inside.
const (
	typeA     = 1
	typeNS    = 2
	typeMD    = 3
	typeMF    = 4
	typeCNAME = 5
	typeSOA   = 6
	typeMB    = 7
	typeMG    = 8
	typeMR    = 9
	typePTR   = 12
	typeMX    = 15
	typeTXT   = 16
	typeAAAA  = 28
	typeSRV   = 33
	typeDNAME = 39
	typeOPT   = 41
	typeSVCB  = 64
	typeHTTPS = 65
)

// question is one entry of a question section.
type question struct {
	name   string
	qtype  uint16
	qclass uint16
}

// message is what the dissector keeps of a DNS message. Strings do not alias the
// input buffer.
type message struct {
	id      uint16
	flags   uint16
	qdcount uint16
	ancount uint16
	nscount uint16
	arcount uint16
	// rcode is the full response code: the header's 4 bits extended by an OPT
	// record's upper 8 bits (RFC 6891 §6.1.3).
	rcode     int
	questions []question
	answers   []string
	length    int
	// consumed is the offset after the last record decoded; equal to length for a
	// well-formed message without trailing bytes.
	consumed int
	// err is nil, errTruncated or errMalformed (wrapped with detail).
	err error
}

func (m *message) isResponse() bool { return m.flags&flagQR != 0 }

// parseMessage decodes b, which must hold exactly one DNS message (no TCP length
// prefix). It never fails outright: sections after a decoding error are left out and
// the error is recorded in m.err. b is not retained.
func parseMessage(b []byte) message {
	var m message
	m.length = len(b)
	if len(b) < headerLen {
		m.err = errTruncated
		return m
	}
	m.id = be16(b, 0)
	m.flags = be16(b, 2)
	m.qdcount = be16(b, 4)
	m.ancount = be16(b, 6)
	m.nscount = be16(b, 8)
	m.arcount = be16(b, 10)
	m.rcode = int(m.flags & 0xf)
	m.consumed = headerLen

	var scratch [2 * maxNameWire]byte
	off := headerLen
	for i := 0; i < int(m.qdcount); i++ {
		name, next, err := readName(b, off, scratch[:0], true)
		if err != nil {
			m.err = err
			return m
		}
		if next+4 > len(b) {
			m.err = errTruncated
			return m
		}
		if len(m.questions) < maxQuestions {
			m.questions = append(m.questions, question{
				name: string(name), qtype: be16(b, next), qclass: be16(b, next+2),
			})
		}
		off = next + 4
		m.consumed = off
	}
	total := int(m.ancount) + int(m.nscount) + int(m.arcount)
	for i := 0; i < total; i++ {
		section := 0 // answer
		if i >= int(m.ancount)+int(m.nscount) {
			section = 2 // additional
		} else if i >= int(m.ancount) {
			section = 1 // authority
		}
		_, next, err := readName(b, off, nil, false)
		if err != nil {
			m.err = err
			return m
		}
		if next+10 > len(b) {
			m.err = errTruncated
			return m
		}
		rtype := be16(b, next)
		ttl := be32(b, next+4)
		rdlen := int(be16(b, next+8))
		rdata := next + 10
		end := rdata + rdlen
		if end > len(b) {
			m.err = errTruncated
			return m
		}
		switch {
		case section == 0:
			if len(m.answers) < maxAnswers {
				m.answers = append(m.answers, renderRData(b, rtype, rdata, end, scratch[:0]))
			}
		case section == 2 && rtype == typeOPT && m.isResponse():
			m.rcode = int(ttl>>24)<<4 | int(m.flags&0xf)
		}
		off = end
		m.consumed = off
	}
	return m
}

// readName decodes the (possibly compressed) domain name at off. When want is true it
// appends the presentation form to dst (labels joined by '.', no trailing dot, "." for
// the root; '.', '\\' and bytes outside 0x21..0x7e escaped as in zone files) and
// returns it; next is the offset just after the name where it started.
//
// Compression is loop-safe: every pointer must point strictly before the start of the
// label run that contains it, so each jump moves to a lower offset, and the wire length
// of the name is capped at 255 bytes.
func readName(b []byte, off int, dst []byte, want bool) (name []byte, next int, err error) {
	next = -1
	runStart := off
	wire := 0
	pointers := 0
	labels := 0
	for {
		if off >= len(b) {
			return dst, 0, errTruncated
		}
		c := int(b[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if want && labels == 0 {
					dst = append(dst, '.')
				}
				return dst, next, nil
			}
			wire += c + 1
			if wire+1 > maxNameWire {
				return dst, 0, malformed("name longer than 255 bytes")
			}
			if off+1+c > len(b) {
				return dst, 0, errTruncated
			}
			if want {
				if labels > 0 {
					dst = append(dst, '.')
				}
				dst = appendLabel(dst, b[off+1:off+1+c])
			}
			labels++
			off += 1 + c
		case 0xc0:
			if off+2 > len(b) {
				return dst, 0, errTruncated
			}
			target := int(be16(b, off) & 0x3fff)
			if target >= runStart {
				return dst, 0, malformed("compression pointer does not point backwards")
			}
			pointers++
			if pointers > maxPointers {
				return dst, 0, malformed("too many compression pointers")
			}
			if next < 0 {
				next = off + 2
			}
			off = target
			runStart = target
		default:
			return dst, 0, malformed("unsupported label type 0x" + strconv.FormatInt(int64(c&0xc0), 16))
		}
	}
}

func malformed(detail string) error { return &parseError{kind: errMalformed, detail: detail} }

type parseError struct {
	kind   error
	detail string
}

func (e *parseError) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *parseError) Unwrap() error { return e.kind }

// appendLabel appends one label in presentation form.
func appendLabel(dst, label []byte) []byte {
	for _, c := range label {
		switch {
		case c == '.' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x21 || c > 0x7e:
			dst = append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// renderRData renders the RDATA of an answer record b[start:end] of type rtype as the
// dissector reports it: the address for A/AAAA, the target name for name-valued
// types (CNAME, NS, PTR, DNAME, MX exchange, SRV target, SVCB/HTTPS target, SOA
// primary server), the text for TXT (character-strings concatenated), and the RFC 3597
// generic form ("\# 4 0a000001") for anything else or for RDATA that does not decode.
func renderRData(b []byte, rtype uint16, start, end int, scratch []byte) string {
	rd := b[start:end]
	switch rtype {
	case typeA:
		if len(rd) == 4 {
			return netip.AddrFrom4([4]byte(rd)).String()
		}
	case typeAAAA:
		if len(rd) == 16 {
			return netip.AddrFrom16([16]byte(rd)).String()
		}
	case typeCNAME, typeNS, typePTR, typeDNAME, typeMD, typeMF, typeMB, typeMG, typeMR, typeSOA:
		if s, ok := rdataName(b, start, end, scratch); ok {
			return s
		}
	case typeMX:
		if s, ok := rdataName(b, start+2, end, scratch); ok && len(rd) >= 3 {
			return s
		}
	case typeSRV:
		if s, ok := rdataName(b, start+6, end, scratch); ok && len(rd) >= 7 {
			return s
		}
	case typeSVCB, typeHTTPS:
		if s, ok := rdataName(b, start+2, end, scratch); ok && len(rd) >= 3 {
			return s
		}
	case typeTXT:
		if s, ok := txtText(rd); ok {
			return s
		}
	}
	return genericRData(rd)
}

// rdataName decodes a name that starts at off inside RDATA ending at end. Compression
// pointers may point anywhere earlier in the message; the name's own bytes must stay
// inside the RDATA.
func rdataName(b []byte, off, end int, scratch []byte) (string, bool) {
	if off >= end {
		return "", false
	}
	name, next, err := readName(b[:end], off, scratch, true)
	if err != nil || next > end {
		return "", false
	}
	return truncate(string(name)), true
}

// txtText concatenates the character-strings of TXT RDATA, escaping '\\' and bytes
// outside printable ASCII.
func txtText(rd []byte) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(rd); {
		n := int(rd[i])
		if i+1+n > len(rd) {
			return "", false
		}
		for _, c := range rd[i+1 : i+1+n] {
			if sb.Len() >= maxAnswerText {
				break
			}
			switch {
			case c == '\\':
				sb.WriteString(`\\`)
			case c < 0x20 || c > 0x7e:
				sb.WriteByte('\\')
				sb.WriteByte('0' + c/100)
				sb.WriteByte('0' + c/10%10)
				sb.WriteByte('0' + c%10)
			default:
				sb.WriteByte(c)
			}
		}
		i += 1 + n
	}
	return truncate(sb.String()), true
}

// genericRData is the RFC 3597 §5 presentation of opaque RDATA, cut after
// maxGenericHex bytes ("..." marks the cut).
func genericRData(rd []byte) string {
	show := rd
	if len(show) > maxGenericHex {
		show = show[:maxGenericHex]
	}
	s := `\# ` + strconv.Itoa(len(rd))
	if len(rd) > 0 {
		s += " " + hex.EncodeToString(show)
	}
	if len(show) < len(rd) {
		s += "..."
	}
	return s
}

func truncate(s string) string {
	if len(s) > maxAnswerText {
		return s[:maxAnswerText]
	}
	return s
}

func be16(b []byte, off int) uint16 { return uint16(b[off])<<8 | uint16(b[off+1]) }

func be32(b []byte, off int) uint32 {
	return uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3])
}
