package kfl

import (
	"net/netip"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

var (
	t0       = time.Date(2026, 3, 14, 22, 0, 0, 123456789, time.UTC)
	webIP    = netip.MustParseAddr("10.0.0.5")
	apiIP    = netip.MustParseAddr("10.0.1.9")
	dnsIP    = netip.MustParseAddr("10.96.0.10")
	redisIP  = netip.MustParseAddr("10.0.2.3")
	outsider = netip.MustParseAddr("203.0.113.7")
)

// identities is the Kubernetes context of the fixtures: web-1 (the captured pod) talks
// to api-7, to the kube-dns service and to redis; 10.0.2.3 and 203.0.113.7 are unknown.
var identities = Identities{
	webIP: {
		Pod: "web-1", Namespace: "production", Service: "web",
		Node: "node-a", NodeIP: "192.168.0.10",
		Labels:      map[string]string{"app": "web", "tier": "frontend"},
		Annotations: map[string]string{"owner": "team-a"},
		Process:     "nginx",
		DNS:         "web.production.svc.cluster.local",
	},
	apiIP: {
		Pod: "api-7", Namespace: "backend", Service: "api", ServiceNamespace: "backend",
		Node: "node-b", NodeIP: "192.168.0.11",
		Labels: map[string]string{"app": "api"},
	},
	dnsIP: {
		Service: "kube-dns", ServiceNamespace: "kube-system",
		DNS: "kube-dns.kube-system.svc.cluster.local",
	},
}

func httpEntry() *dissect.Entry {
	return &dissect.Entry{
		ID: 7, Index: 0, Stream: 3, Protocol: dissect.ProtoHTTP, Transport: dissect.TransportTCP,
		Src:       dissect.Endpoint{IP: webIP, Port: 43210},
		Dst:       dissect.Endpoint{IP: apiIP, Port: 8080},
		Timestamp: t0, Elapsed: 1500 * time.Microsecond,
		CaptureSource: "af_packet", LocalIsSrc: true,
		HTTP: &dissect.HTTP{
			Method: "GET", URL: "/api/users?id=123", Path: "/api/users",
			Query: map[string]string{"id": "123"}, Version: "HTTP/1.1",
			StatusCode: 503, StatusText: "Service Unavailable",
			HasRequest: true, HasResponse: true,
			Request: dissect.HTTPMessage{
				Headers: map[string]string{"host": "api:8080", "authorization": "Bearer xyz", "user-agent": "Curl/8.5.0"},
				Cookies: map[string]string{"session": "abc"}, HeadersSize: 120,
			},
			Response: dissect.HTTPMessage{
				Headers:     map[string]string{"server": "nginx", "content-type": "text/plain"},
				Cookies:     map[string]string{"token": "t\"1"},
				HeadersSize: 98, BodySize: 19,
			},
		},
	}
}

func dnsEntry() *dissect.Entry {
	return &dissect.Entry{
		ID: 8, Index: 0, Stream: 4, Protocol: dissect.ProtoDNS, Transport: dissect.TransportUDP,
		Src:       dissect.Endpoint{IP: webIP, Port: 5353},
		Dst:       dissect.Endpoint{IP: dnsIP, Port: 53},
		Timestamp: t0.Add(time.Second), Elapsed: 300 * time.Microsecond,
		CaptureSource: "ebpf", LocalIsSrc: true,
		DNS: &dissect.DNS{
			TransactionID: 0x1234, Questions: []string{"example.com"}, QuestionTypes: []string{"A"},
			RCode: 3, RCodeName: "NXDOMAIN", HasRequest: true, HasResponse: true,
			RequestLength: 29, ResponseLength: 104,
		},
	}
}

func redisEntry() *dissect.Entry {
	return &dissect.Entry{
		ID: 9, Index: 2, Stream: 5, Protocol: dissect.ProtoRedis, Transport: dissect.TransportTCP,
		Src:       dissect.Endpoint{IP: webIP, Port: 40000},
		Dst:       dissect.Endpoint{IP: redisIP, Port: 6379},
		Timestamp: t0.Add(2 * time.Second), Elapsed: 80 * time.Microsecond,
		CaptureSource: "af_packet", LocalIsSrc: true,
		Redis: &dissect.Redis{
			Type: "GET", Command: "GET session:1234", Key: "session:1234", Reply: "(nil)",
			HasRequest: true, HasResponse: true, RequestSize: 31, ResponseSize: 5,
		},
		ErrorType: "truncated", ErrorMessage: "reply cut at 5 bytes",
	}
}

// tlsEntry is a TLS 1.3 handshake from the captured pod to a host outside the cluster.
func tlsEntry() *dissect.Entry {
	return &dissect.Entry{
		ID: 12, Index: 0, Stream: 6, Protocol: dissect.ProtoTLS, Transport: dissect.TransportTCP,
		Src:       dissect.Endpoint{IP: webIP, Port: 41000},
		Dst:       dissect.Endpoint{IP: outsider, Port: 443},
		Timestamp: t0.Add(3 * time.Second), Elapsed: 2 * time.Millisecond,
		CaptureSource: "af_packet", LocalIsSrc: true,
		TLS: &dissect.TLS{
			Summary: "ClientHello", Version: "TLS 1.3", Cipher: "TLS_AES_256_GCM_SHA384", CipherSuite: 0x1302,
			SNI: "shop.example.com", ClientALPN: []string{"h2", "http/1.1"}, ClientVersion: "TLS 1.3",
			CipherSuites: 31, HasRequest: true, HasResponse: true, RequestSize: 522, ResponseSize: 127,
		},
	}
}

// tcpConnEntry is the L4 record of a connection to the captured pod: the local peer is
// the server (dst), so local counters are the Dst ones.
func tcpConnEntry() *dissect.Entry {
	return &dissect.Entry{
		ID: 10, Index: 1, Stream: 3, Protocol: dissect.ProtoTCP, Transport: dissect.TransportTCP,
		Src:       dissect.Endpoint{IP: outsider, Port: 51000},
		Dst:       dissect.Endpoint{IP: webIP, Port: 80},
		Timestamp: t0, CaptureSource: "af_packet", LocalIsSrc: false,
		Conn: &dissect.Conn{
			State: dissect.ConnOpen, SrcPackets: 800, SrcBytes: 40_000,
			DstPackets: 1200, DstBytes: 2_000_000,
			First: t0, Last: t0.Add(10 * time.Second), L7Detected: []string{"HTTP"},
			SeenHandshake: true,
		},
	}
}

func udpFlowEntry() *dissect.Entry {
	return &dissect.Entry{
		ID: 11, Index: 1, Stream: 4, Protocol: dissect.ProtoUDP, Transport: dissect.TransportUDP,
		Src:       dissect.Endpoint{IP: webIP, Port: 5353},
		Dst:       dissect.Endpoint{IP: dnsIP, Port: 53},
		Timestamp: t0.Add(time.Second), CaptureSource: "ebpf_tls", LocalIsSrc: true,
		Conn: &dissect.Conn{
			State: dissect.ConnClosed, SrcPackets: 2, SrcBytes: 58, DstPackets: 2, DstBytes: 208,
			First: t0.Add(time.Second), Last: t0.Add(1500 * time.Millisecond), L7Detected: []string{"DNS"},
		},
	}
}

func kube(e *dissect.Entry) *Record {
	return &Record{Entry: e, Resolver: identities, Node: "node-a", NodeIP: "192.168.0.10"}
}

// fixtures are the records the tests evaluate, by name.
func fixtures() map[string]*Record {
	return map[string]*Record{
		"http":     kube(httpEntry()),
		"dns":      kube(dnsEntry()),
		"redis":    kube(redisEntry()),
		"tcp_conn": kube(tcpConnEntry()),
		"udp_flow": kube(udpFlowEntry()),
		"tls":      kube(tlsEntry()),
		"offline":  {Entry: httpEntry()}, // no Kubernetes context
		"empty":    {},
	}
}
