//go:build !cgo || !unix

package capfilter

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// Without cgo, filters still compile (pure Go) and match.
func TestCompileWithoutCgo(t *testing.T) {
	f, err := Compile("tcp port 80", layers.LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	syn := make([]byte, 54)
	syn[12], syn[13] = 0x08, 0x00 // IPv4
	syn[14] = 0x45
	syn[23] = 6 // TCP
	syn[36], syn[37] = 0, 80
	if !f.Match(syn, len(syn)) {
		t.Errorf("tcp port 80 does not match a TCP packet to port 80")
	}
	syn[37] = 81
	if f.Match(syn, len(syn)) {
		t.Errorf("tcp port 80 matches port 81")
	}
	if _, err := Compile("tcp prot 80", layers.LinkTypeEthernet, 0); err == nil {
		t.Errorf("a syntax error compiled")
	}
}
