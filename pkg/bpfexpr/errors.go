package bpfexpr

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrUnsupported is wrapped by the *SyntaxError of a valid libpcap
// expression that this package does not compile yet (for example
// "protochain", "mpls", "geneve", 802.11 and ATM primitives). A caller that
// has libpcap at hand can fall back to it:
//
//	if errors.Is(err, bpfexpr.ErrUnsupported) { ... }
var ErrUnsupported = errors.New("not supported yet")

// filterHint is appended to every syntax error.
const filterHint = "(tcpdump filter syntax: see `man 7 pcap-filter`)"

// SyntaxError is the error of Compile: what is wrong, and where.
type SyntaxError struct {
	Expr string // the expression as given to Compile
	Pos  int    // byte offset in Expr of the offending token
	Msg  string // what is wrong, without the position

	unsupported bool
}

// Error shows the expression, a caret under the offending token, the
// message and a pointer to the filter syntax:
//
//	tcp prot 80
//	    ^ unexpected name "prot", expected 'and', 'or' or end of expression (tcpdump filter syntax: see `man 7 pcap-filter`)
func (e *SyntaxError) Error() string {
	var b strings.Builder
	line := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		return r
	}, e.Expr)
	pos := min(max(e.Pos, 0), len(e.Expr))
	b.WriteString(line)
	b.WriteByte('\n')
	b.WriteString(strings.Repeat(" ", utf8.RuneCountInString(e.Expr[:pos])))
	b.WriteString("^ ")
	b.WriteString(e.Msg)
	b.WriteByte(' ')
	b.WriteString(filterHint)
	return b.String()
}

// Unwrap returns ErrUnsupported for valid libpcap syntax that is not
// supported yet.
func (e *SyntaxError) Unwrap() error {
	if e.unsupported {
		return ErrUnsupported
	}
	return nil
}
