package dissect

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"
)

// Protocol names as they appear in the KFL variable `protocol` and in tables.
const (
	ProtoHTTP  = "HTTP"
	ProtoDNS   = "DNS"
	ProtoRedis = "REDIS"
	ProtoTLS   = "TLS"
	ProtoTCP   = "TCP" // L4 connection record of a TCP stream
	ProtoUDP   = "UDP" // L4 flow record of a UDP stream
)

// Entry.ErrorType values shared by the dissectors.
const (
	ErrorNoResponse = "no_response" // a request whose response was not seen
	ErrorNoRequest  = "no_request"  // a response whose request was not seen
	ErrorTruncated  = "truncated"   // a message cut short (end of stream or capture)
	ErrorMalformed  = "malformed"   // a message that does not decode
)

// Transport is the L4 protocol carrying a stream.
type Transport uint8

const (
	TransportTCP Transport = 6
	TransportUDP Transport = 17
)

func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportUDP:
		return "udp"
	}
	return "ip-proto-" + strconv.Itoa(int(t))
}

// StreamID identifies one TCP connection or UDP flow inside a Pipeline. IDs are
// assigned in order of each stream's first packet, starting at 1; 0 means "no stream".
// A new TCP connection on a reused 5-tuple (SYN after FIN/RST) gets a new ID, as in
// Wireshark's tcp.stream (which counts from 0: tcp.stream == StreamID-1 when every
// stream of the file is TCP).
type StreamID uint64

// Hex is the KFL `stream` variable: the ID as a fixed-width hex string.
func (s StreamID) Hex() string {
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(s)
		s >>= 8
	}
	return hex.EncodeToString(b[:])
}

// Endpoint is one side of a conversation.
type Endpoint struct {
	IP   netip.Addr
	Port uint16
}

func (e Endpoint) String() string { return netip.AddrPortFrom(e.IP, e.Port).String() }

// Side names a peer of a stream relative to its first packet: SideA sent the SYN (TCP)
// or the first datagram (UDP) seen; SideB is the other peer. For a TCP connection seen
// mid-stream, SideA is the sender of the first packet seen, and parsers decide from the
// payload which side is the client.
type Side uint8

const (
	SideA Side = iota
	SideB
)

// Other returns the opposite side.
func (s Side) Other() Side { return s ^ 1 }

// Entry is one dissected record: an L7 request/response pair (HTTP, Redis), a DNS
// exchange, a TLS handshake, or an L4 connection/flow record. Entries are immutable once emitted.
//
// Src/Dst follow the request's direction (the client is Src). Timestamp is the time of
// the first packet of the request (or of the response when no request was seen).
// Elapsed is the time from the first packet of the request to the first packet of the
// response; zero when either is missing.
type Entry struct {
	ID        uint64 // unique within one pipeline (or sniffer), assigned in emission order
	Index     int    // index of this entry within its stream, from 0
	Stream    StreamID
	Protocol  string
	Transport Transport
	Src, Dst  Endpoint
	Timestamp time.Time
	Elapsed   time.Duration

	// Interface is the capture interface index (pcapng IDB index) of the request's
	// first packet.
	Interface int
	// CaptureSource is "af_packet", "ebpf", "ebpf_tls" or "" (a file).
	CaptureSource string

	// LocalIsSrc tells which endpoint is the captured (local) peer; see
	// Config.IsLocal. It decides local_*/remote_* variables.
	LocalIsSrc bool

	// Protocol payloads: exactly one is non-nil for an L7 entry, Conn for L4 records.
	HTTP  *HTTP
	DNS   *DNS
	Redis *Redis
	TLS   *TLS
	Conn  *Conn

	// Error, if the dissector found a problem with this exchange (e.g. truncated
	// message, response without request); empty otherwise.
	ErrorType    string
	ErrorMessage string
}

// HTTPMessage is one side of an HTTP/1.x exchange.
type HTTPMessage struct {
	Headers     map[string]string // lower-case names; repeated headers joined by ", "
	Cookies     map[string]string
	HeadersSize int // bytes of the start line plus header block, including the blank line
	BodySize    int // decoded body bytes (after de-chunking), as Wireshark's http.content_length or de-chunked size
}

// HTTP is an HTTP/1.x request/response pair. Request or Response may be absent
// (HasRequest/HasResponse false) when the capture holds only one of them.
type HTTP struct {
	Method      string
	URL         string // request target as sent: path and query
	Path        string // URL without the query
	Query       map[string]string
	Version     string // "HTTP/1.1", "HTTP/1.0"
	StatusCode  int
	StatusText  string
	HasRequest  bool
	HasResponse bool
	Request     HTTPMessage
	Response    HTTPMessage
}

// DNS is one DNS exchange: a query and its response, matched by transaction ID.
type DNS struct {
	TransactionID  uint16
	Questions      []string // question names, without the trailing dot
	QuestionTypes  []string // "A", "AAAA", ... (or "TYPE65" for unnamed types)
	Answers        []string // answer data: addresses for A/AAAA, names for CNAME/PTR/NS/MX...
	RCode          int      // response code; 0 when there is no response
	RCodeName      string   // "NOERROR", "NXDOMAIN", ...
	HasRequest     bool
	HasResponse    bool
	RequestLength  int // DNS message bytes (without the TCP length prefix)
	ResponseLength int
}

// Redis is one RESP command and its reply.
type Redis struct {
	Type         string // command verb, upper case, first word only: "GET", "SET", "CLIENT"
	Command      string // the command line, arguments separated by spaces, truncated to 1024 bytes
	Key          string // the first argument when the command takes a key, truncated to 64 bytes
	Reply        string // short rendering of the reply ("OK", "(nil)", "(integer) 3", "ERR ...")
	ReplyIsError bool
	HasRequest   bool
	HasResponse  bool
	RequestSize  int
	ResponseSize int
}

// TLS is one TLS handshake as it travels in clear: the client's ClientHello (the
// request) and the server's ServerHello (the response). Nothing after the ServerHello
// is decoded: without keys the rest of the connection is opaque. Request or Response
// may be absent (HasRequest/HasResponse false) when the capture holds only one of
// them; fields of the missing side are empty.
type TLS struct {
	// Summary names the entry's first message: "ClientHello", or "ServerHello" when
	// the client's hello was not seen.
	Summary string
	// Version is the negotiated version ("TLS 1.3", from the ServerHello's
	// supported_versions extension, else its legacy version); without a ServerHello,
	// the highest version the client offered.
	Version string
	// Cipher is the IANA name of the cipher suite the server selected
	// ("TLS_AES_128_GCM_SHA256"), its code in hex ("0x1306") when unnamed; CipherSuite
	// is the code. Empty and 0 without a ServerHello.
	Cipher      string
	CipherSuite uint16
	// SNI is the host name of the ClientHello's server_name extension, "" if none.
	SNI string
	// ALPN is the protocol the server selected in its ServerHello ("h2"). TLS 1.3
	// servers send it encrypted, so it is "" for TLS 1.3.
	ALPN string
	// ClientALPN lists the protocols the client offered (at most 16), nil if none.
	ClientALPN []string
	// ClientVersion is the highest version the client offered (supported_versions,
	// else the legacy version of the ClientHello).
	ClientVersion string
	// CipherSuites is how many cipher suites the client offered (signalling and
	// GREASE values included).
	CipherSuites int
	// HelloRetry reports a TLS 1.3 HelloRetryRequest: the client sent a second
	// ClientHello; the other fields come from the first ClientHello and the final
	// ServerHello.
	HelloRetry bool
	// Alert is the description of a plaintext alert the server sent before its
	// ServerHello ("protocol_version", "handshake_failure"), "" if none.
	Alert       string
	HasRequest  bool
	HasResponse bool
	// RequestSize is the bytes of the TLS records (5-byte headers included) the
	// client sent until the entry was emitted: in practice its ClientHello records
	// (both ClientHellos after a HelloRetryRequest). ResponseSize is the bytes of the
	// server's records up to the one that completed the ServerHello (or carried the
	// alert); for TLS 1.2 that record often also holds the Certificate. 0 when absent.
	RequestSize  int
	ResponseSize int
}

// Info is the KFL `tls_info` text: the version, the cipher suite, the SNI, the ALPN
// protocol the server selected or else those the client offered, and the alert, each
// when known, separated by ", ":
// "TLS 1.3, TLS_AES_256_GCM_SHA384, SNI=shop.example.com, ALPN offered=h2,http/1.1".
func (t *TLS) Info() string {
	if t == nil {
		return ""
	}
	var b []byte
	add := func(parts ...string) {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		for _, p := range parts {
			b = append(b, p...)
		}
	}
	if t.Version != "" {
		add(t.Version)
	}
	if t.Cipher != "" {
		add(t.Cipher)
	}
	if t.SNI != "" {
		add("SNI=", t.SNI)
	}
	switch {
	case t.ALPN != "":
		add("ALPN=", t.ALPN)
	case len(t.ClientALPN) > 0:
		add("ALPN offered=")
		for i, p := range t.ClientALPN {
			if i == 4 {
				b = append(b, ",..."...)
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p...)
		}
	}
	if t.Alert != "" {
		add("alert=", t.Alert)
	}
	return string(b)
}

// ConnState is the state of a connection when its record was emitted.
type ConnState string

const (
	ConnOpen       ConnState = "open"        // established and still open at emission time
	ConnInProgress ConnState = "in_progress" // handshake seen but not completed
	ConnClosed     ConnState = "closed"      // FIN or RST seen (TCP), or idle timeout (UDP)
)

// Conn is the L4 record of one TCP connection or UDP flow. Counters are per side of
// the stream (A/B, see Side); Src/Dst of the Entry are the client and server when known
// (SYN sender, or the L7 parser's verdict), else A and B.
type Conn struct {
	State         ConnState
	SrcPackets    uint64
	SrcBytes      uint64 // L4 payload bytes
	DstPackets    uint64
	DstBytes      uint64
	First, Last   time.Time
	L7Detected    []string // protocols dissected on this stream, e.g. ["HTTP"]
	MissingBytes  uint64   // bytes the reassembler had to skip (lost segments)
	SeenHandshake bool     // the SYN was captured
}
