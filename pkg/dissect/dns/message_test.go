package dns

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Captured by testdata/gen.sh's setup (dnsmasq on 127.0.0.2, dig), shown by
// `tcpdump -nn -X`.
const (
	// 13:53:01.676274 IP 127.0.0.1.33309 > 127.0.0.2.53: 56647+ [1au] A? alias.svc.test. (55)
	udpQueryAlias = `
	0x0000:  4500 0053 7643 0000 4011 0654 7f00 0001  E..SvC..@..T....
	0x0010:  7f00 0002 821d 0035 003f fe53 dd47 0120  .......5.?.S.G..
	0x0020:  0001 0000 0000 0001 0561 6c69 6173 0373  .........alias.s
	0x0030:  7663 0474 6573 7400 0001 0001 0000 2904  vc.test.......).
	0x0040:  d000 0000 0000 0c00 0a00 08a2 55db 1fc3  ............U...
	0x0050:  11da 1e                                  ...`

	// 13:53:01.676297 IP 127.0.0.2.53 > 127.0.0.1.33309: 56647* 2/0/1 CNAME host.svc.test., A 198.18.0.11 (86)
	udpResponseAlias = `
	0x0000:  4500 0072 cb9e 4000 4011 70d9 7f00 0002  E..r..@.@.p.....
	0x0010:  7f00 0001 0035 821d 005e fe72 dd47 8580  .....5...^.r.G..
	0x0020:  0001 0002 0000 0001 0561 6c69 6173 0373  .........alias.s
	0x0030:  7663 0474 6573 7400 0001 0001 c00c 0005  vc.test.........
	0x0040:  0001 0000 0000 000f 0468 6f73 7403 7376  .........host.sv
	0x0050:  6304 7465 7374 00c0 2c00 0100 0100 0000  c.test..,.......
	0x0060:  0000 04c6 1200 0b00 0029 04d0 0000 0000  .........)......
	0x0070:  0000                                     ..`

	// 13:53:01.753178 IP 127.0.0.2.53 > 127.0.0.1.43821: Flags [P.], seq 61:145, ack 108, win 64, options [nop,nop,TS val 2353119719 ecr 713372471], length 84 35525* 1/0/2 MX mail.svc.test. 10 (82)
	tcpResponseMX = `
	0x0000:  4500 0088 373f 4000 4006 052e 7f00 0002  E...7?@.@.......
	0x0010:  7f00 0001 0035 ab2d 1d50 fea2 47e8 d7b2  .....5.-.P..G...
	0x0020:  8018 0040 fe7d 0000 0101 080a 8c41 c1e7  ...@.}.......A..
	0x0030:  2a85 3337 0052 8ac5 8580 0001 0001 0000  *.37.R..........
	0x0040:  0002 0373 7663 0474 6573 7400 000f 0001  ...svc.test.....
	0x0050:  c00c 000f 0001 0000 0000 0011 000a 046d  ...............m
	0x0060:  6169 6c03 7376 6304 7465 7374 00c0 2800  ail.svc.test..(.
	0x0070:  0100 0100 0000 0000 04c6 1200 1900 0029  ...............)
	0x0080:  04d0 0000 0000 0000                      ........`

	// 13:53:01.753368 IP 127.0.0.2.53 > 127.0.0.1.43821: Flags [P.], seq 192:320, ack 230, win 64, options [nop,nop,TS val 2353119719 ecr 713372471], length 128 8976* 1/0/3 SRV host.svc.test.:6379 0 5 (126)
	tcpResponseSRV = `
	0x0000:  4500 00b4 3741 4000 4006 0500 7f00 0002  E...7A@.@.......
	0x0010:  7f00 0001 0035 ab2d 1d50 ff25 47e8 d82c  .....5.-.P.%G..,
	0x0020:  8018 0040 fea9 0000 0101 080a 8c41 c1e7  ...@.........A..
	0x0030:  2a85 3337 007e 2310 8580 0001 0001 0000  *.37.~#.........
	0x0040:  0003 065f 7265 6469 7304 5f74 6370 0373  ..._redis._tcp.s
	0x0050:  7663 0474 6573 7400 0021 0001 c00c 0021  vc.test..!.....!
	0x0060:  0001 0000 0000 0015 0000 0005 18eb 0468  ...............h
	0x0070:  6f73 7403 7376 6304 7465 7374 00c0 3800  ost.svc.test..8.
	0x0080:  1c00 0100 0000 0000 1020 010d b800 0000  ................
	0x0090:  0000 0000 0000 0000 11c0 3800 0100 0100  ..........8.....
	0x00a0:  0000 0000 04c6 1200 0b00 0029 04d0 0000  ...........)....
	0x00b0:  0000 0000                                ....`
)

func TestParseMessageFixtures(t *testing.T) {
	tcpMsg := func(dump string) []byte {
		b := l4Payload(t, fromTcpdumpX(t, dump))
		if n := int(be16(b, 0)); n != len(b)-2 {
			t.Fatalf("length prefix %d, payload %d", n, len(b)-2)
		}
		return b[2:]
	}
	tests := []struct {
		name string
		msg  []byte
		want message
	}{{
		name: "udp query A alias.svc.test with EDNS cookie",
		msg:  l4Payload(t, fromTcpdumpX(t, udpQueryAlias)),
		want: message{
			id: 56647, flags: 0x0120, qdcount: 1, arcount: 1,
			questions: []question{{name: "alias.svc.test", qtype: typeA, qclass: 1}},
			length:    55, consumed: 55,
		},
	}, {
		name: "udp response CNAME then A",
		msg:  l4Payload(t, fromTcpdumpX(t, udpResponseAlias)),
		want: message{
			id: 56647, flags: 0x8580, qdcount: 1, ancount: 2, arcount: 1,
			questions: []question{{name: "alias.svc.test", qtype: typeA, qclass: 1}},
			answers:   []string{"host.svc.test", "198.18.0.11"},
			length:    86, consumed: 86,
		},
	}, {
		name: "tcp response MX with glue",
		msg:  tcpMsg(tcpResponseMX),
		want: message{
			id: 35525, flags: 0x8580, qdcount: 1, ancount: 1, arcount: 2,
			questions: []question{{name: "svc.test", qtype: typeMX, qclass: 1}},
			answers:   []string{"mail.svc.test"},
			length:    82, consumed: 82,
		},
	}, {
		name: "tcp response SRV with A and AAAA glue",
		msg:  tcpMsg(tcpResponseSRV),
		want: message{
			id: 8976, flags: 0x8580, qdcount: 1, ancount: 1, arcount: 3,
			questions: []question{{name: "_redis._tcp.svc.test", qtype: typeSRV, qclass: 1}},
			answers:   []string{"host.svc.test"},
			length:    126, consumed: 126,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseMessage(tt.msg)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseMessage:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// builder assembles DNS messages for hand-made fixtures.
type builder struct{ b []byte }

func newMsg(id, flags, qd, an, ns, ar uint16) *builder {
	m := &builder{}
	for _, v := range []uint16{id, flags, qd, an, ns, ar} {
		m.u16(v)
	}
	return m
}

func (m *builder) u16(v uint16) *builder  { m.b = append(m.b, byte(v>>8), byte(v)); return m }
func (m *builder) u32(v uint32) *builder  { return m.u16(uint16(v >> 16)).u16(uint16(v)) }
func (m *builder) raw(b ...byte) *builder { m.b = append(m.b, b...); return m }

// name appends an uncompressed name ("" is the root).
func (m *builder) name(s string) *builder {
	if s != "" {
		for _, l := range strings.Split(s, ".") {
			m.b = append(m.b, byte(len(l)))
			m.b = append(m.b, l...)
		}
	}
	m.b = append(m.b, 0)
	return m
}

func (m *builder) ptr(off int) *builder { return m.u16(0xc000 | uint16(off)) }

func (m *builder) question(name string, qtype uint16) *builder {
	return m.name(name).u16(qtype).u16(1)
}

// rr appends a record header for an uncompressed owner name and the given RDATA.
func (m *builder) rr(owner string, rtype uint16, ttl uint32, rdata []byte) *builder {
	m.name(owner).u16(rtype).u16(1).u32(ttl).u16(uint16(len(rdata)))
	m.b = append(m.b, rdata...)
	return m
}

func wireName(s string) []byte { return (&builder{}).name(s).b }

func TestParseMessageEdgeCases(t *testing.T) {
	type want struct {
		questions []string
		answers   []string
		rcode     int
		err       error // errTruncated, errMalformed or nil
	}
	q := func() *builder { return newMsg(7, 0x8180, 1, 1, 0, 0).question("a.test", typeA) }
	tests := []struct {
		name string
		msg  []byte
		want want
	}{{
		name: "root question",
		msg:  newMsg(1, 0, 1, 0, 0, 0).question("", typeNS).b,
		want: want{questions: []string{"."}},
	}, {
		name: "escaped label bytes",
		msg:  newMsg(1, 0, 1, 0, 0, 0).raw(4, 'a', '.', ' ', 0xff, 1, '\\', 0).u16(typeA).u16(1).b,
		want: want{questions: []string{`a\.\032\255.\\`}},
	}, {
		name: "pointer to itself",
		msg:  newMsg(1, 0, 1, 0, 0, 0).ptr(12).u16(typeA).u16(1).b,
		want: want{err: errMalformed},
	}, {
		name: "two pointers in a cycle",
		// name at 12: label "a" then pointer to 17, which points back to 12
		msg:  newMsg(1, 0, 1, 0, 0, 0).raw(1, 'a').ptr(17).ptr(12).u16(typeA).u16(1).b,
		want: want{err: errMalformed},
	}, {
		name: "pointer into the run that contains it",
		// label "a" at 12..13, label "b" at 14..15, pointer at 16 to 14: backwards but
		// inside its own run, which would loop.
		msg:  newMsg(1, 0, 1, 0, 0, 0).raw(1, 'a', 1, 'b').ptr(14).u16(typeA).u16(1).b,
		want: want{err: errMalformed},
	}, {
		name: "forward pointer",
		msg:  newMsg(1, 0, 1, 0, 0, 0).ptr(30).u16(typeA).u16(1).b,
		want: want{err: errMalformed},
	}, {
		name: "pointer past the end",
		msg:  newMsg(1, 0, 1, 0, 0, 0).ptr(0x3fff).b,
		want: want{err: errMalformed},
	}, {
		name: "extended label type",
		msg:  newMsg(1, 0, 1, 0, 0, 0).raw(0x41, 1, 0).u16(1).u16(1).b,
		want: want{err: errMalformed},
	}, {
		name: "name longer than 255 bytes",
		msg: newMsg(1, 0, 1, 0, 0, 0).name(strings.Repeat(strings.Repeat("x", 63)+".", 4)[:4*64-1]).
			u16(typeA).u16(1).b,
		want: want{err: errMalformed},
	}, {
		name: "name of exactly 255 bytes",
		msg: newMsg(1, 0, 1, 0, 0, 0).name(strings.Repeat(strings.Repeat("x", 63)+".", 3) + strings.Repeat("y", 61)).
			u16(typeA).u16(1).b,
		want: want{questions: []string{strings.Repeat(strings.Repeat("x", 63)+".", 3) + strings.Repeat("y", 61)}},
	}, {
		name: "label runs past the end",
		msg:  newMsg(1, 0, 1, 0, 0, 0).raw(5, 'a', 'b').b,
		want: want{err: errTruncated},
	}, {
		name: "question without type and class",
		msg:  newMsg(1, 0, 1, 0, 0, 0).name("a.test").b,
		want: want{err: errTruncated},
	}, {
		name: "answer RDATA longer than the message",
		msg:  q().name("a.test").u16(typeA).u16(1).u32(60).u16(40).raw(1, 2, 3, 4).b,
		want: want{questions: []string{"a.test"}, err: errTruncated},
	}, {
		name: "A with wrong length falls back to generic",
		msg:  q().rr("a.test", typeA, 60, []byte{1, 2, 3}).b,
		want: want{questions: []string{"a.test"}, answers: []string{`\# 3 010203`}},
	}, {
		name: "AAAA",
		msg: newMsg(7, 0x8180, 1, 1, 0, 0).question("a.test", typeAAAA).
			rr("a.test", typeAAAA, 60, []byte{0x20, 1, 0xd, 0xb8, 15: 1}).b,
		want: want{questions: []string{"a.test"}, answers: []string{"2001:db8::1"}},
	}, {
		name: "CNAME with compression pointer to the question",
		msg:  q().ptr(12).u16(typeCNAME).u16(1).u32(60).u16(2).ptr(14).b,
		want: want{questions: []string{"a.test"}, answers: []string{"test"}},
	}, {
		name: "CNAME whose name leaves its RDATA",
		msg:  q().rr("a.test", typeCNAME, 60, []byte{3, 'a', 'b', 'c'}).raw(0).b,
		want: want{questions: []string{"a.test"}, answers: []string{`\# 4 03616263`}},
	}, {
		name: "TXT strings concatenated and escaped",
		msg:  q().rr("a.test", typeTXT, 60, []byte{3, 'a', 'b', 'c', 0, 4, 'd', '\\', 0x01, '"'}).b,
		want: want{questions: []string{"a.test"}, answers: []string{`abcd\\\001"`}},
	}, {
		name: "TXT string past its RDATA",
		msg:  q().rr("a.test", typeTXT, 60, []byte{9, 'a'}).b,
		want: want{questions: []string{"a.test"}, answers: []string{`\# 2 0961`}},
	}, {
		name: "MX, SRV, HTTPS, PTR, NS targets",
		msg: newMsg(7, 0x8180, 1, 5, 0, 0).question("a.test", 255).
			rr("a.test", typeMX, 60, append([]byte{0, 10}, wireName("mx.a.test")...)).
			rr("a.test", typeSRV, 60, append([]byte{0, 1, 0, 2, 0x18, 0xeb}, wireName("srv.a.test")...)).
			rr("a.test", typeHTTPS, 60, append([]byte{0, 1}, wireName("")...)).
			rr("a.test", typePTR, 60, wireName("ptr.a.test")).
			rr("a.test", typeNS, 60, wireName("ns.a.test")).b,
		want: want{questions: []string{"a.test"}, answers: []string{"mx.a.test", "srv.a.test", ".", "ptr.a.test", "ns.a.test"}},
	}, {
		name: "unknown type rendered generically and cut",
		msg:  q().rr("a.test", 257, 60, []byte(strings.Repeat("z", 100))).b,
		want: want{questions: []string{"a.test"}, answers: []string{`\# 100 ` + strings.Repeat("7a", 64) + "..."}},
	}, {
		name: "EDNS extended rcode BADVERS",
		msg:  newMsg(7, 0x8180, 1, 0, 0, 1).question("a.test", typeA).name("").u16(typeOPT).u16(1232).u32(1 << 24).u16(0).b,
		want: want{questions: []string{"a.test"}, rcode: 16},
	}, {
		name: "too many answers kept",
		msg: func() []byte {
			m := newMsg(7, 0x8180, 1, 100, 0, 0).question("a.test", typeA)
			for i := 0; i < 100; i++ {
				m.ptr(12).u16(typeA).u16(1).u32(1).u16(4).raw(10, 0, 0, byte(i))
			}
			return m.b
		}(),
		want: want{questions: []string{"a.test"}, answers: func() []string {
			var s []string
			for i := 0; i < maxAnswers; i++ {
				s = append(s, "10.0.0."+itoa(i))
			}
			return s
		}()},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseMessage(tt.msg)
			var names []string
			for _, q := range m.questions {
				names = append(names, q.name)
			}
			if !reflect.DeepEqual(names, tt.want.questions) {
				t.Errorf("questions = %q, want %q", names, tt.want.questions)
			}
			if !reflect.DeepEqual(m.answers, tt.want.answers) {
				t.Errorf("answers = %q, want %q", m.answers, tt.want.answers)
			}
			if m.rcode != tt.want.rcode {
				t.Errorf("rcode = %d, want %d", m.rcode, tt.want.rcode)
			}
			switch {
			case tt.want.err == nil && m.err != nil:
				t.Errorf("err = %v, want none", m.err)
			case tt.want.err != nil && !errors.Is(m.err, tt.want.err):
				t.Errorf("err = %v, want %v", m.err, tt.want.err)
			}
		})
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{TypeName(1), "A"}, {TypeName(28), "AAAA"}, {TypeName(65), "HTTPS"}, {TypeName(64), "SVCB"},
		{TypeName(255), "ANY"}, {TypeName(41), "OPT"}, {TypeName(65280), "TYPE65280"},
		{RCodeName(0), "NOERROR"}, {RCodeName(3), "NXDOMAIN"}, {RCodeName(5), "REFUSED"},
		{RCodeName(16), "BADVERS"}, {RCodeName(12), "RCODE12"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
