// Package redis owns the Redis dissector of kubectl-shark: RESP2 and RESP3 over TCP
// (every type: + - : $ * and _ , # ! = ( % ~ > | including streamed strings and
// aggregates), and inline commands.
//
// Commands (client side) are paired first in, first out with replies (server side),
// so pipelined commands pair correctly. One dissect.Entry is emitted per command and
// its reply. Special cases:
//   - RESP3 push messages (>), and in RESP2 pub/sub mode the message arrays, answer no
//     command: they are emitted as entries with HasRequest false and no error, except
//     the (un)subscribe confirmations, which answer the (UN)SUBSCRIBE at the head of the
//     queue (one confirmation per channel; the entry sums their sizes).
//   - CLIENT REPLY OFF/SKIP: commands the server will not answer are emitted at once
//     without a response.
//   - A reply with no command waiting is emitted with HasRequest false and ErrorType
//     "no_request"; a command whose reply never came with ErrorType "no_response" when
//     the stream closes; a command or reply cut by the end of the stream with ErrorType
//     "truncated".
//
// Memory per connection is bounded: bulk strings are streamed and at most 1 KiB of any
// is kept (less for server replies), lines are capped, nesting is capped at 32 levels,
// and at most 512 commands wait for replies (older ones are emitted without a
// response, and their replies skipped when they come, keeping the pairing aligned).
//
// Gaps and garbage: after bytes lost on the client side the parser looks for the next
// plausible command ("*<n>\r\n$" at a line start) and queues a marker: replies that
// arrive before any newer command are attributed to the lost commands. After bytes
// lost on the server side it gives up pairing what was sent so far (those commands are
// emitted without response) and looks for the next plausible reply at a line start.
//
// Dissector is stateless and safe for concurrent use; its parsers are not.
package redis

import (
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// Entry.ErrorType values set by this package.
const (
	ErrorTypeNoResponse = "no_response"
	ErrorTypeNoRequest  = "no_request"
	ErrorTypeTruncated  = "truncated"
)

// Dissector is the Redis dissector.
var Dissector dissect.TCPDissector = TCPDissector{}

// TCPDissector dissects Redis over TCP. The zero value is ready to use.
type TCPDissector struct{}

// Protocol returns dissect.ProtoRedis.
func (TCPDissector) Protocol() string { return dissect.ProtoRedis }

// NewParser returns a parser for one connection.
func (TCPDissector) NewParser(emit dissect.Emit) dissect.StreamParser { return newParser(emit) }

// redisPort is Redis' registered port.
const redisPort = 6379

// Probe accepts, on any port, a multibulk command whose first element is a known
// command name ("*3\r\n$3\r\nSET\r\n..."); on port 6379 also any multibulk with a
// command-like first element, an inline command starting with a known command name
// ("PING\r\n") and the first line of a typical reply ("+OK", "-ERR ...", ":1",
// "$5", "*2", "%7", "_").
func (TCPDissector) Probe(_ dissect.Side, data []byte, ports [2]uint16) dissect.Verdict {
	if len(data) == 0 {
		return dissect.NeedMore
	}
	onPort := ports[0] == redisPort || ports[1] == redisPort
	if data[0] == '*' {
		if v := probeMultibulk(data, true); v != dissect.NoMatch || !onPort {
			return v
		}
		if probeMultibulk(data, false) == dissect.Match {
			return dissect.Match
		}
		return probeReply(data)
	}
	if !onPort {
		return dissect.NoMatch
	}
	if isLetter(data[0]) {
		return probeInline(data)
	}
	return probeReply(data)
}

// probeMultibulk checks data against "*<n>\r\n$<len>\r\n<name>\r\n". known requires
// name to be a known command, otherwise a command-like word is enough.
func probeMultibulk(data []byte, known bool) dissect.Verdict {
	i := 1
	n, i, v := probeNumber(data, i, 7)
	if v != dissect.Match {
		return v
	}
	if n < 1 {
		return dissect.NoMatch
	}
	if i >= len(data) {
		return dissect.NeedMore
	}
	if data[i] != '$' {
		return dissect.NoMatch
	}
	l, i, v := probeNumber(data, i+1, 3)
	if v != dissect.Match {
		return v
	}
	if l < 1 || l > 64 {
		return dissect.NoMatch
	}
	end := i + int(l)
	for j := i; j < end && j < len(data); j++ {
		if !isCommandByte(data[j]) {
			return dissect.NoMatch
		}
	}
	if end+2 > len(data) {
		return dissect.NeedMore
	}
	if data[end] != '\r' || data[end+1] != '\n' {
		return dissect.NoMatch
	}
	if known {
		if !knownCommand(data[i:end]) {
			return dissect.NoMatch
		}
	}
	return dissect.Match
}

// probeNumber reads 1..maxDigits decimal digits from data[i] and the CRLF after them;
// it returns the number and the offset after the CRLF.
func probeNumber(data []byte, i, maxDigits int) (int64, int, dissect.Verdict) {
	var n int64
	digits := 0
	for ; i < len(data); i++ {
		c := data[i]
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
		if digits++; digits > maxDigits {
			return 0, 0, dissect.NoMatch
		}
	}
	if i >= len(data) {
		return 0, 0, dissect.NeedMore
	}
	if digits == 0 || data[i] != '\r' {
		return 0, 0, dissect.NoMatch
	}
	if i+1 >= len(data) {
		return 0, 0, dissect.NeedMore
	}
	if data[i+1] != '\n' {
		return 0, 0, dissect.NoMatch
	}
	return n, i + 2, dissect.Match
}

// probeInline accepts a line starting with a known command name.
func probeInline(data []byte) dissect.Verdict {
	for i, c := range data {
		if c == ' ' || c == '\r' || c == '\n' {
			if knownCommand(data[:i]) {
				return dissect.Match
			}
			return dissect.NoMatch
		}
		if !isCommandByte(c) || i >= 32 {
			return dissect.NoMatch
		}
	}
	return dissect.NeedMore
}

// probeReply accepts a first line that is a well-formed reply header.
func probeReply(data []byte) dissect.Verdict {
	switch data[0] {
	case '+', '-', ':', '$', '*', '_', ',', '#', '!', '=', '(', '%', '~', '>', '|':
	default:
		return dissect.NoMatch
	}
	end := -1
	for i, c := range data {
		if c == '\n' {
			end = i
			break
		}
		if i >= 512 {
			return dissect.NoMatch
		}
	}
	if end < 0 {
		return dissect.NeedMore
	}
	if end < 1 || data[end-1] != '\r' {
		return dissect.NoMatch
	}
	d := decoder{}
	if d.startOK(data[0], data[1:end-1]) {
		return dissect.Match
	}
	return dissect.NoMatch
}

// knownCommand reports whether name is a known command, in any letter case.
func knownCommand(name []byte) bool {
	if len(name) > 32 {
		return false
	}
	var up [32]byte
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	_, ok := commands[string(up[:len(name)])]
	return ok
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isCommandByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '|'
}
