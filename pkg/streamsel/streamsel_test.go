package streamsel

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func TestSet(t *testing.T) {
	var all *Set
	if !all.Has(0) || !all.Has(7) {
		t.Error("a nil set must hold every stream")
	}
	s := NewSet()
	s.Add(0)
	s.Add(3)
	if s.Has(0) || !s.Has(3) || s.Has(4) {
		t.Errorf("set holds 0: %v, 3: %v, 4: %v; want false, true, false", s.Has(0), s.Has(3), s.Has(4))
	}
}

func TestBPF(t *testing.T) {
	if err := CheckBPF(""); err != nil {
		t.Fatal(err)
	}
	if err := CheckBPF("tcp port"); err == nil {
		t.Error("CheckBPF accepted a bad expression")
	}
	none := NewBPF("")
	if ok, err := none.Match(layers.LinkTypeEthernet, nil, 0); !ok || err != nil {
		t.Errorf("no expression: Match = %v, %v; want true, nil", ok, err)
	}
	b := NewBPF("udp")
	// Ethernet / IPv4 / UDP, then Ethernet / IPv4 / TCP.
	udp := make([]byte, 42)
	udp[12], udp[13], udp[14], udp[23] = 0x08, 0x00, 0x45, 17
	tcp := append([]byte(nil), udp...)
	tcp[23] = 6
	tcp = append(tcp, make([]byte, 20)...)
	for _, c := range []struct {
		name string
		pkt  []byte
		want bool
	}{{"udp", udp, true}, {"tcp", tcp, false}} {
		ok, err := b.Match(layers.LinkTypeEthernet, c.pkt, len(c.pkt))
		if err != nil || ok != c.want {
			t.Errorf("%s: Match = %v, %v; want %v, nil", c.name, ok, err, c.want)
		}
	}
}
