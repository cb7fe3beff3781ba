package http

import (
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// methods are the request methods recognised when a stream is probed and when the
// parser resynchronises after a gap: RFC 9110, PATCH, WebDAV (RFC 4918, 3253, 3648,
// 3744, 4791, 5323, 5842), UPnP/GENA, and the common extensions that Wireshark and
// http_parser know (PURGE, SOURCE, QUERY). Between two well-framed messages the parser
// accepts any token as a method.
var methods = map[string]struct{}{
	"GET": {}, "HEAD": {}, "POST": {}, "PUT": {}, "DELETE": {}, "CONNECT": {},
	"OPTIONS": {}, "TRACE": {}, "PATCH": {},
	// WebDAV and friends.
	"PROPFIND": {}, "PROPPATCH": {}, "MKCOL": {}, "COPY": {}, "MOVE": {}, "LOCK": {},
	"UNLOCK": {}, "SEARCH": {}, "BIND": {}, "UNBIND": {}, "REBIND": {}, "ACL": {},
	"ORDERPATCH": {}, "MKREDIRECTREF": {}, "UPDATEREDIRECTREF": {},
	// DeltaV (versioning, used by Subversion).
	"REPORT": {}, "MKACTIVITY": {}, "CHECKOUT": {}, "CHECKIN": {}, "UNCHECKOUT": {},
	"MERGE": {}, "VERSION-CONTROL": {}, "MKWORKSPACE": {}, "UPDATE": {}, "LABEL": {},
	"BASELINE-CONTROL": {},
	// CalDAV.
	"MKCALENDAR": {},
	// UPnP / GENA.
	"M-SEARCH": {}, "NOTIFY": {}, "SUBSCRIBE": {}, "UNSUBSCRIBE": {},
	// Others.
	"PURGE": {}, "LINK": {}, "UNLINK": {}, "SOURCE": {}, "QUERY": {},
}

// methodList is methods as a slice, for prefix checks.
var methodList = func() []string {
	l := make([]string, 0, len(methods))
	for m := range methods {
		l = append(l, m)
	}
	return l
}()

// maxMethodLen bounds a method token (the longest known one is 17 bytes).
const maxMethodLen = 32

func knownMethod(b []byte) bool {
	_, ok := methods[string(b)]
	return ok
}

// methodPrefix reports whether b is a prefix of a known method (or one).
func methodPrefix(b []byte) bool {
	for _, m := range methodList {
		if len(b) <= len(m) && m[:len(b)] == string(b) {
			return true
		}
	}
	return false
}

// isTchar reports whether c may appear in a token (RFC 9110 section 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// probeStart classifies b, the bytes at the start of a line, as the beginning of a
// request line or status line (Match), a prefix that could still become one
// (NeedMore), or neither (NoMatch). A request line matches once "METHOD target
// HTTP/1." is seen, a status line once "HTTP/1.x NNN" is followed by a space or the
// end of the line. With anyMethod false the method must be a known one.
func probeStart(b []byte, anyMethod bool) dissect.Verdict {
	// Verdicts are ordered NoMatch < NeedMore < Match.
	return max(probeStatus(b), probeRequest(b, anyMethod))
}

func probeStatus(b []byte) dissect.Verdict {
	const pfx = "HTTP/1."
	i := 0
	for ; i < len(pfx); i++ {
		if i >= len(b) {
			return dissect.NeedMore
		}
		if b[i] != pfx[i] {
			return dissect.NoMatch
		}
	}
	// minor version digit, space, three digits
	for _, want := range [...]byte{'d', ' ', 'd', 'd', 'd'} {
		if i >= len(b) {
			return dissect.NeedMore
		}
		if want == 'd' && !isDigit(b[i]) || want == ' ' && b[i] != ' ' {
			return dissect.NoMatch
		}
		i++
	}
	if i >= len(b) {
		return dissect.NeedMore
	}
	switch b[i] {
	case ' ', '\r', '\n':
		return dissect.Match
	}
	return dissect.NoMatch
}

func probeRequest(b []byte, anyMethod bool) dissect.Verdict {
	i := 0
	for i < len(b) && b[i] != ' ' {
		if !isTchar(b[i]) || i >= maxMethodLen {
			return dissect.NoMatch
		}
		i++
	}
	if i == len(b) {
		if anyMethod || methodPrefix(b) {
			return dissect.NeedMore
		}
		return dissect.NoMatch
	}
	if i == 0 || !anyMethod && !knownMethod(b[:i]) {
		return dissect.NoMatch
	}
	i++ // the space
	start := i
	for i < len(b) && b[i] != ' ' {
		if b[i] < ' ' || b[i] == 0x7f {
			return dissect.NoMatch
		}
		i++
	}
	if i == len(b) {
		return dissect.NeedMore
	}
	if i == start {
		return dissect.NoMatch
	}
	i++
	const ver = "HTTP/1."
	for k := 0; k < len(ver); k++ {
		if i+k >= len(b) {
			return dissect.NeedMore
		}
		if b[i+k] != ver[k] {
			return dissect.NoMatch
		}
	}
	return dissect.Match
}

// span is a half-open byte range [0]..[1] of a start line.
type span [2]int

// startLine is a parsed request or status line; spans index the line.
type startLine struct {
	response bool
	method   span // request
	target   span // request
	version  span
	code     int  // response
	reason   span // response
}

// trimLine removes the line terminator (LF, optionally preceded by CR) and returns the
// line's length without it.
func trimLine(b []byte) int {
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		n--
	}
	if n > 0 && b[n-1] == '\r' {
		n--
	}
	return n
}

// isVersion reports whether b is "HTTP/1.x" with x a digit.
func isVersion(b []byte) bool {
	return len(b) == 8 && string(b[:7]) == "HTTP/1." && isDigit(b[7])
}

// parseStartLine parses a complete start line (without its terminator):
//
//	request-line = method SP request-target SP "HTTP/1." DIGIT [ spaces or tabs ]
//	status-line  = "HTTP/1." DIGIT SP 3DIGIT [ SP reason-phrase ]
//
// The method is a token (a known one unless anyMethod) and the target has no spaces or
// control bytes. This is the grammar probeStart checks on prefixes: probeStart never
// rejects a prefix of a line parseStartLine accepts, so a message is recognised
// however its bytes are split into chunks.
func parseStartLine(line []byte, anyMethod bool) (startLine, bool) {
	var sl startLine
	if len(line) >= 12 && string(line[:7]) == "HTTP/1." {
		if !isVersion(line[:8]) || line[8] != ' ' ||
			!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) {
			return sl, false
		}
		sl.response = true
		sl.version = span{0, 8}
		sl.code = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
		sl.reason = span{12, 12}
		if len(line) > 12 {
			if line[12] != ' ' {
				return sl, false
			}
			end := len(line)
			for end > 13 && (line[end-1] == ' ' || line[end-1] == '\t') {
				end--
			}
			sl.reason = span{13, end}
		}
		return sl, true
	}
	i := 0
	for ; i < len(line) && line[i] != ' '; i++ {
		if !isTchar(line[i]) || i >= maxMethodLen {
			return sl, false
		}
	}
	if i == 0 || i == len(line) || !anyMethod && !knownMethod(line[:i]) {
		return sl, false
	}
	sl.method = span{0, i}
	i++
	t0 := i
	for ; i < len(line) && line[i] != ' '; i++ {
		if c := line[i]; c < ' ' || c == 0x7f {
			return sl, false
		}
	}
	if i == t0 || i == len(line) {
		return sl, false
	}
	sl.target = span{t0, i}
	i++
	if len(line)-i < 8 || !isVersion(line[i:i+8]) {
		return sl, false
	}
	sl.version = span{i, i + 8}
	for _, c := range line[i+8:] {
		if c != ' ' && c != '\t' {
			return sl, false
		}
	}
	return sl, true
}
