package tls

import (
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// ErrorAlert is the Entry.ErrorType of a handshake the server refused with a fatal
// plaintext alert.
const ErrorAlert = "alert"

// Record content types (RFC 8446 section 5.1, RFC 6520).
const (
	ctChangeCipherSpec = 20
	ctAlert            = 21
	ctHandshake        = 22
	ctApplicationData  = 23
	ctHeartbeat        = 24
)

// Handshake message types.
const (
	hsClientHello = 1
	hsServerHello = 2
)

const (
	recordHeaderLen = 5
	// maxPlaintext is the largest plaintext record (2^14); a hello travels in those.
	maxPlaintext = 1 << 14
	// maxRecord is the largest record of any kind: TLSCiphertext may add 2048 bytes
	// (RFC 5246 section 6.2.3); larger lengths mean the bytes are not TLS records.
	maxRecord = maxPlaintext + 2048
	// minHello is the smallest hello body: version, random, session ID length, cipher
	// suite (ServerHello) and compression method.
	minHello = 2 + 32 + 1 + 2 + 1
)

// Dissector is the TLS handshake dissector.
var Dissector dissect.TCPDissector = TCPDissector{}

// TCPDissector dissects TLS handshakes over TCP. The zero value is ready to use.
type TCPDissector struct{}

// Protocol returns dissect.ProtoTLS.
func (TCPDissector) Protocol() string { return dissect.ProtoTLS }

// NewParser returns a parser for one connection.
func (TCPDissector) NewParser(emit dissect.Emit) dissect.StreamParser { return newParser(emit) }

// Probe matches data that starts with a handshake record (content type 22, version
// 0x0301-0x0304, length 4 to 2^14) whose first message is a ClientHello or a
// ServerHello of plausible length and legacy version (0x0300-0x0304): 11 bytes decide.
// Ports are not considered.
func (TCPDissector) Probe(_ dissect.Side, data []byte, _ [2]uint16) dissect.Verdict {
	// Each byte is checked as soon as it is there, so other protocols are rejected
	// after one byte.
	n := len(data)
	switch {
	case n >= 1 && data[0] != ctHandshake,
		n >= 2 && data[1] != 3,
		n >= 3 && (data[2] < 1 || data[2] > 4),
		n >= 5 && (be16(data[3:]) < 4 || be16(data[3:]) > maxPlaintext),
		n >= 6 && data[5] != hsClientHello && data[5] != hsServerHello,
		n >= 9 && be24(data[6:]) < minHello,
		n >= 10 && data[9] != 3,
		n >= 11 && data[10] > 4:
		return dissect.NoMatch
	case n < 11:
		return dissect.NeedMore
	}
	return dissect.Match
}

// be16 and be24 read big-endian integers; callers check the length.
func be16(b []byte) int { return int(b[0])<<8 | int(b[1]) }
func be24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }
