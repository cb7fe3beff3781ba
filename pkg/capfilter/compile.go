package capfilter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/bpfexpr"
)

// hint follows compile errors.
const hint = "(tcpdump filter syntax: see 'man pcap-filter')"

// linkName names a link type in messages: "Ethernet", or "link type 4242".
func linkName(lt layers.LinkType) string {
	if s := lt.String(); !strings.HasPrefix(s, "Unknown") {
		return s
	}
	return "link type " + strconv.Itoa(int(lt))
}

// Compile compiles a tcpdump filter expression for packets of the given link type
// captured with the given snapshot length (0 means 262144). An empty expression
// matches every packet.
//
// The pure-Go compiler (package bpfexpr) is used first, so every build (the plugin
// with CGO_ENABLED=0 on any OS, the static sniffer) compiles filters with tcpdump's
// meaning; the rare expressions it does not support fall back to libpcap where the
// build links it. Syntax errors show the expression with a caret.
func Compile(expr string, linkType layers.LinkType, snaplen int) (*Filter, error) {
	if snaplen <= 0 || snaplen > 1<<30 {
		snaplen = 262144
	}
	if strings.IndexByte(expr, 0) >= 0 {
		return nil, fmt.Errorf("compiling filter %q: it contains a NUL byte %s", expr, hint)
	}
	if strings.TrimSpace(expr) == "" {
		return FromInstructions([]Instruction{{Code: 0x06, K: uint32(snaplen)}}, linkType) // ret #snaplen
	}
	p, err := bpfexpr.Compile(expr, bpfexpr.LinkType(linkType), snaplen)
	if errors.Is(err, bpfexpr.ErrUnsupported) && haveLibpcap {
		return compileLibpcap(expr, linkType, snaplen)
	}
	if err != nil {
		var se *bpfexpr.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("compiling filter for %s:\n%w", linkName(linkType), err)
		}
		return nil, fmt.Errorf("compiling filter %q for %s: %w %s", expr, linkName(linkType), err, hint)
	}
	raw := p.Instructions()
	prog := make([]Instruction, len(raw))
	for i, in := range raw {
		prog[i] = Instruction{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	f, err := FromInstructions(prog, linkType)
	if err != nil {
		return nil, fmt.Errorf("compiling filter %q for %s: invalid program: %w", expr, linkName(linkType), err)
	}
	f.expr = expr
	return f, nil
}
