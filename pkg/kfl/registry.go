package kfl

import (
	"math"
	"net/netip"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// The field registry: every KFL variable, in the order of the KFL reference. It is the
// single source of the CEL declarations (env.go), the JSON encoding (json.go), the
// `kubectl shark fields` listing (Fields) and the docs (Markdown).
var registry = buildRegistry()

// byName indexes registry by variable name.
var byName = func() map[string]*Field {
	m := make(map[string]*Field, len(registry))
	for i := range registry {
		f := &registry[i]
		if _, dup := m[f.Name]; dup {
			panic("kfl: duplicate field " + f.Name)
		}
		m[f.Name] = f
	}
	return m
}()

// Fields returns every KFL variable in the order of the KFL reference.
func Fields() []Field {
	return append([]Field(nil), registry...)
}

// Lookup returns the variable called name.
func Lookup(name string) (Field, bool) {
	f, ok := byName[name]
	if !ok {
		return Field{}, false
	}
	return *f, true
}

// Constructors of registry entries, one per type. A nil extractor declares a variable
// this build does not fill: it always has its type's zero value.

func fString(name, doc string, fn func(*view) string) Field {
	return mk(name, TypeString, doc, &extract{str: fn}, fn == nil)
}

func fInt(name, doc string, fn func(*view) int64) Field {
	return mk(name, TypeInt, doc, &extract{num: fn}, fn == nil)
}

func fBool(name, doc string, fn func(*view) bool) Field {
	return mk(name, TypeBool, doc, &extract{flag: fn}, fn == nil)
}

func fList(name, doc string, fn func(*view) []string) Field {
	return mk(name, TypeStringList, doc, &extract{list: fn}, fn == nil)
}

func fMap(name, doc string, fn func(*view) map[string]string) Field {
	return mk(name, TypeStringMap, doc, &extract{smap: fn}, fn == nil)
}

func fNested(name, doc string, fn func(*view) map[string]string) Field {
	return mk(name, TypeMap, doc, &extract{smap: fn}, fn == nil)
}

func fTime(name, doc string, fn func(*view) time.Time) Field {
	return mk(name, TypeTimestamp, doc, &extract{ts: fn}, fn == nil)
}

func fBytes(name, doc string, fn func(*view) []byte) Field {
	return mk(name, TypeBytes, doc, &extract{raw: fn}, fn == nil)
}

func mk(name string, t Type, doc string, x *extract, unfilled bool) Field {
	if unfilled {
		x.konst = zeroOf(t)
	}
	x.jsonKey = appendString(nil, name)
	x.jsonKey = append(x.jsonKey, ':')
	return Field{Name: name, Type: t, Doc: doc, Filled: !unfilled, x: x}
}

func group(g string, fs ...Field) []Field {
	for i := range fs {
		fs[i].Group = g
	}
	return fs
}

func buildRegistry() []Field {
	var r []Field
	add := func(fs []Field) { r = append(r, fs...) }

	add(group("network",
		fString("src.ip", "Source IP address: the client (src/dst follow the request's direction; for L4 records the SYN sender or the first sender seen)", func(v *view) string { return ipString(v.e.Src.IP) }),
		fString("dst.ip", "Destination IP address: the server", func(v *view) string { return ipString(v.e.Dst.IP) }),
		fInt("src.port", "Source port number", func(v *view) int64 { return int64(v.e.Src.Port) }),
		fInt("dst.port", "Destination port number", func(v *view) int64 { return int64(v.e.Dst.Port) }),
		fString("protocol", `Detected protocol: "HTTP", "DNS", "REDIS", "TLS", or "TCP"/"UDP" for L4 connection/flow records`, func(v *view) string { return v.e.Protocol }),
	))

	add(group("identity",
		fInt("id", "Entry identifier, unique within one sniffer (or one offline file), in emission order", func(v *view) int64 { return clampU(v.e.ID) }),
		fString("node_id", "Node identifier assigned by the hub; empty unless the caller sets it", func(v *view) string { return v.rec.NodeID }),
		fInt("index", "Index of the entry within its stream, from 0", func(v *view) int64 { return int64(v.e.Index) }),
		fString("stream", `Stream identifier as 16 hex digits ("000000000000000c"); "" when the entry has no stream`, func(v *view) string {
			if v.e.Stream == 0 {
				return ""
			}
			return v.e.Stream.Hex()
		}),
		fTime("timestamp", "Time (UTC) of the first packet of the request (of the response when no request was seen); compare with timestamp(\"...\") or now() - duration(\"5m\"); 1970-01-01T00:00:00Z when unknown", entryTime),
		fInt("elapsed_time", "Request→response latency in microseconds: first packet of the request to first packet of the response; 0 when either is missing", func(v *view) int64 { return v.e.Elapsed.Microseconds() }),
		fString("worker", "Worker identifier; empty unless the caller sets it", func(v *view) string { return v.rec.Worker }),
	))

	add(group("crossref",
		fInt("conn_id", "L7 to L4 connection cross-reference: the stream ID, shared by a stream's L4 record and its L7 entries (conn && conn_id == N); 0 when there is no stream", streamID),
		fInt("flow_id", "L7 to L4 flow cross-reference: the same stream ID as conn_id", streamID),
		fBool("has_pcap", "Whether PCAP data is available: always true, every entry references the packets of its stream in the capture", func(*view) bool { return true }),
	))

	add(group("capture",
		fString("capture_source", `Canonical capture source: "af_packet", "ebpf", "ebpf_tls", or "unspecified" (an offline file)`, captureSource),
		fString("capture_backend", `Backend family: "af_packet", "ebpf" (for ebpf and ebpf_tls), "" when unspecified`, func(v *view) string { return captureBackend(captureSource(v)) }),
		fInt("capture_source_code", "Numeric capture source: 0=unspecified, 1=af_packet, 2=ebpf, 3=ebpf_tls", func(v *view) int64 { return captureCode(captureSource(v)) }),
		fNested("capture", `Nested capture source: capture["source"], capture["backend"] (both keys always present)`, func(v *view) map[string]string { return captureMap(captureSource(v)) }),
	))

	// Protocol detection flags, in the reference's reading order.
	add(group("flags",
		fBool("http", "HTTP/1.x request/response pair", func(v *view) bool { return v.e.Protocol == dissect.ProtoHTTP }),
		fBool("redis", "Redis command and reply", func(v *view) bool { return v.e.Protocol == dissect.ProtoRedis }),
		fBool("dns", "DNS exchange (over UDP or TCP)", func(v *view) bool { return v.e.Protocol == dissect.ProtoDNS }),
		fBool("kafka", "Kafka (not dissected by this build)", nil),
		fBool("tls", `TLS: a TLS handshake entry (protocol "TLS"), or an entry dissected from TLS plaintext recovered by the eBPF uprobes (capture_source "ebpf_tls")`, isTLS),
		fBool("amqp", "AMQP messaging (not dissected by this build)", nil),
		fBool("tcp", "Carried by TCP: every entry of a TCP stream, L7 entries and the L4 record alike", isTCP),
		fBool("ldap", "LDAP directory (not dissected by this build)", nil),
		fBool("udp", "Carried by UDP: every entry of a UDP flow, L7 entries and the L4 record alike", isUDP),
		fBool("ws", "WebSocket (not dissected by this build)", nil),
		fBool("sctp", "SCTP (not dissected by this build)", nil),
		fBool("gql", "GraphQL v1 or v2 (not dissected by this build)", nil),
		fBool("icmp", "ICMP (not dissected by this build)", nil),
		fBool("gqlv1", "GraphQL v1 (not dissected by this build)", nil),
		fBool("radius", "RADIUS authentication (not dissected by this build)", nil),
		fBool("gqlv2", "GraphQL v2 (not dissected by this build)", nil),
		fBool("diameter", "Diameter (not dissected by this build)", nil),
		fBool("conn", "L4 connection record: a TCP connection or UDP flow record (protocol \"TCP\" or \"UDP\")", isL4),
		fBool("flow", "L4 flow record: the same records as conn, with rate variables (flow_*_pps/bps)", isL4),
		fBool("tcp_conn", "L4 record of a TCP connection", isTCPConn),
		fBool("tcp_flow", "L4 record of a TCP connection (as tcp_conn)", isTCPConn),
		fBool("udp_conn", "L4 record of a UDP flow", isUDPConn),
		fBool("udp_flow", "L4 record of a UDP flow (as udp_conn)", isUDPConn),
	))

	add(group("http",
		fString("method", `HTTP method: "GET", "POST", ...`, func(v *view) string { return httpOf(v).Method }),
		fString("url", `Request target as sent: path and query string, "/api/users?id=123"`, func(v *view) string { return httpOf(v).URL }),
		fString("path", `URL path without the query, "/api/users"`, func(v *view) string { return httpOf(v).Path }),
		fInt("status_code", "HTTP response status code; for DNS the response RCODE (0 NOERROR, 3 NXDOMAIN, ...); 0 when there is no response", statusCode),
		fString("http_version", `HTTP protocol version: "HTTP/1.1", "HTTP/1.0"`, func(v *view) string { return httpOf(v).Version }),
		fMap("query_string", `Parsed URL query parameters (first value of each): query_string["id"]`, func(v *view) map[string]string { return httpOf(v).Query }),
		fMap("request.headers", `Request headers, names lower-case, repeated headers joined by ", ": request.headers["content-type"]`, func(v *view) map[string]string { return httpOf(v).Request.Headers }),
		fMap("response.headers", `Response headers, names lower-case: response.headers["server"]`, func(v *view) map[string]string { return httpOf(v).Response.Headers }),
		fMap("request.cookies", `Request cookies: request.cookies["session"]`, func(v *view) map[string]string { return httpOf(v).Request.Cookies }),
		fMap("response.cookies", `Response cookies (Set-Cookie): response.cookies["token"]`, func(v *view) map[string]string { return httpOf(v).Response.Cookies }),
		fInt("request_headers_size", "Request start line and headers in bytes, including the blank line", func(v *view) int64 { return int64(httpOf(v).Request.HeadersSize) }),
		fInt("request_body_size", "Request body in bytes (after de-chunking)", func(v *view) int64 { return int64(httpOf(v).Request.BodySize) }),
		fInt("response_headers_size", "Response status line and headers in bytes, including the blank line", func(v *view) int64 { return int64(httpOf(v).Response.HeadersSize) }),
		fInt("response_body_size", "Response body in bytes (after de-chunking)", func(v *view) int64 { return int64(httpOf(v).Response.BodySize) }),
	))

	add(group("dns",
		fList("dns_questions", "Question names without the trailing dot", func(v *view) []string { return dnsOf(v).Questions }),
		fList("dns_answers", "Answer data: addresses for A/AAAA, names for CNAME/PTR/NS/MX, ...", func(v *view) []string { return dnsOf(v).Answers }),
		fList("dns_question_types", `Question record types: "A", "AAAA", "CNAME", ... ("TYPE65" for unnamed types)`, func(v *view) []string { return dnsOf(v).QuestionTypes }),
		fBool("dns_request", "The exchange includes the query (an entry is a query/response pair)", func(v *view) bool { return dnsOf(v).HasRequest }),
		fBool("dns_response", "The exchange includes the response", func(v *view) bool { return dnsOf(v).HasResponse }),
		fInt("dns_request_length", "Query size in bytes, without the TCP length prefix (0 if absent)", func(v *view) int64 { return int64(dnsOf(v).RequestLength) }),
		fInt("dns_response_length", "Response size in bytes, without the TCP length prefix (0 if absent)", func(v *view) int64 { return int64(dnsOf(v).ResponseLength) }),
		fInt("dns_total_size", "dns_request_length + dns_response_length", func(v *view) int64 {
			d := dnsOf(v)
			return int64(d.RequestLength) + int64(d.ResponseLength)
		}),
	))

	add(group("tls",
		fString("tls_summary", `TLS handshake summary: "ClientHello" (a handshake entry), "ServerHello" when the ClientHello was not captured; "" for ebpf_tls plaintext entries`, func(v *view) string { return tlsOf(v).Summary }),
		fString("tls_info", `TLS connection details: version, cipher suite (IANA name), SNI, ALPN (the server's choice, else "ALPN offered=" the client's list), alert, each when known: "TLS 1.3, TLS_AES_256_GCM_SHA384, SNI=shop.example.com, ALPN offered=h2,http/1.1"; without a ServerHello the version is the highest the client offered`, func(v *view) string { return tlsOf(v).Info() }),
		fInt("tls_request_size", "Bytes of the TLS records the client sent until the ServerHello (its ClientHello records), headers included (0 if absent)", func(v *view) int64 { return int64(tlsOf(v).RequestSize) }),
		fInt("tls_response_size", "Bytes of the TLS records the server sent up to the one completing its ServerHello (0 if absent)", func(v *view) int64 { return int64(tlsOf(v).ResponseSize) }),
		fInt("tls_total_size", "tls_request_size + tls_response_size", func(v *view) int64 {
			t := tlsOf(v)
			return int64(t.RequestSize) + int64(t.ResponseSize)
		}),
	))

	add(group("tcp",
		fString("tcp_method", "TCP method information", nil),
		fBytes("tcp_payload", "Raw TCP payload data", nil),
		fString("tcp_error_type", "Dissector error type for an entry carried by TCP (e.g. a truncated message or a response without request); empty if none", func(v *view) string {
			if !isTCP(v) {
				return ""
			}
			return v.e.ErrorType
		}),
		fString("tcp_error_message", "Dissector error message for an entry carried by TCP; empty if none", func(v *view) string {
			if !isTCP(v) {
				return ""
			}
			return v.e.ErrorMessage
		}),
	))

	add(group("udp",
		fInt("udp_length", "UDP packet length", nil),
		fInt("udp_checksum", "UDP checksum value", nil),
		fBytes("udp_payload", "Raw UDP payload data", nil),
	))

	add(group("sctp",
		fInt("sctp_checksum", "SCTP checksum value", nil),
		fString("sctp_chunk_type", "SCTP chunk type", nil),
		fInt("sctp_length", "SCTP chunk length", nil),
	))

	add(group("icmp",
		fString("icmp_type", "ICMP type code", nil),
		fInt("icmp_version", "ICMP version (4 or 6)", nil),
		fInt("icmp_length", "ICMP message length", nil),
	))

	add(group("ws",
		fString("ws_opcode", `WebSocket operation: "text", "binary", "close", "ping", "pong"`, nil),
		fBool("ws_request", "Is WebSocket request", nil),
		fBool("ws_response", "Is WebSocket response", nil),
		fString("ws_request_payload_data", "Request payload (safely truncated)", nil),
		fInt("ws_request_payload_length", "Request payload length in bytes", nil),
		fInt("ws_response_payload_length", "Response payload length in bytes", nil),
	))

	add(group("redis",
		fString("redis_type", `Command verb, upper case: "GET", "SET", "DEL", "HGET"`, func(v *view) string { return redisOf(v).Type }),
		fString("redis_command", `Command line, arguments separated by spaces (truncated to 1024 bytes): "GET session:1234"`, func(v *view) string { return redisOf(v).Command }),
		fString("redis_key", `Key: the first argument of commands that take one (truncated to 64 bytes), "session:1234"`, func(v *view) string { return redisOf(v).Key }),
		fInt("redis_request_size", "Request size in bytes (0 if absent)", func(v *view) int64 { return int64(redisOf(v).RequestSize) }),
		fInt("redis_response_size", "Response size in bytes (0 if absent)", func(v *view) int64 { return int64(redisOf(v).ResponseSize) }),
		fInt("redis_total_size", "redis_request_size + redis_response_size", func(v *view) int64 {
			r := redisOf(v)
			return int64(r.RequestSize) + int64(r.ResponseSize)
		}),
	))

	add(group("kafka",
		fInt("kafka_api_key", "Kafka API key number: 0=PRODUCE, 1=FETCH, ...", nil),
		fString("kafka_api_key_name", `Kafka API operation, "PRODUCE", "FETCH"`, nil),
		fString("kafka_client_id", `Kafka client identifier, "payment-processor"`, nil),
		fInt("kafka_size", "Message size (request preferred, else response)", nil),
		fBool("kafka_request", "Is Kafka request", nil),
		fBool("kafka_response", "Is Kafka response", nil),
		fString("kafka_request_summary", `Request summary or topic, "orders-topic"`, nil),
		fInt("kafka_request_size", "Request size (0 if absent)", nil),
		fInt("kafka_response_size", "Response size (0 if absent)", nil),
	))

	add(group("amqp",
		fString("amqp_method", `AMQP method name, "basic.publish"`, nil),
		fString("amqp_summary", "Operation summary", nil),
		fBool("amqp_request", "Is AMQP request", nil),
		fBool("amqp_response", "Is AMQP response", nil),
		fInt("amqp_request_length", "Request length (0 if absent)", nil),
		fInt("amqp_response_length", "Response length (0 if absent)", nil),
		fInt("amqp_total_size", "amqp_request_length + amqp_response_length", nil),
	))

	add(group("ldap",
		fString("ldap_type", "LDAP operation type (request preferred)", nil),
		fString("ldap_summary", "Operation summary", nil),
		fBool("ldap_request", "Is LDAP request", nil),
		fBool("ldap_response", "Is LDAP response", nil),
		fInt("ldap_request_length", "Request length (0 if absent)", nil),
		fInt("ldap_response_length", "Response length (0 if absent)", nil),
		fInt("ldap_total_size", "ldap_request_length + ldap_response_length", nil),
	))

	add(group("radius",
		fInt("radius_code", "RADIUS code (request preferred)", nil),
		fString("radius_code_name", `Code name, "Access-Request"`, nil),
		fBool("radius_request", "Is RADIUS request", nil),
		fBool("radius_response", "Is RADIUS response", nil),
		fString("radius_request_authenticator", "Request authenticator (hex)", nil),
		fInt("radius_request_length", "Request size (0 if absent)", nil),
		fInt("radius_response_length", "Response size (0 if absent)", nil),
		fInt("radius_total_size", "radius_request_length + radius_response_length", nil),
	))

	add(group("diameter",
		fString("diameter_method", "Method name (request preferred)", nil),
		fString("diameter_summary", "Operation summary", nil),
		fBool("diameter_request", "Is Diameter request", nil),
		fBool("diameter_response", "Is Diameter response", nil),
		fInt("diameter_request_length", "Request size (0 if absent)", nil),
		fInt("diameter_response_length", "Response size (0 if absent)", nil),
		fInt("diameter_total_size", "diameter_request_length + diameter_response_length", nil),
	))

	add(group("conn",
		fString("conn_state", `Connection state when the record was emitted: "open", "in_progress" (handshake not completed), "closed" (FIN/RST seen, or UDP idle timeout)`, func(v *view) string { return string(connOf(v).State) }),
		fInt("conn_local_pkts", "Packets sent by the local (captured) peer", func(v *view) int64 { p, _ := connCounts(v, true); return p }),
		fInt("conn_local_bytes", "L4 payload bytes sent by the local peer", func(v *view) int64 { _, b := connCounts(v, true); return b }),
		fInt("conn_remote_pkts", "Packets sent by the remote peer", func(v *view) int64 { p, _ := connCounts(v, false); return p }),
		fInt("conn_remote_bytes", "L4 payload bytes sent by the remote peer", func(v *view) int64 { _, b := connCounts(v, false); return b }),
		fList("conn_l7_detected", `L7 protocols dissected on the connection, ["HTTP"]`, func(v *view) []string { return connOf(v).L7Detected }),
		fInt("conn_group_id", "Connection group identifier", nil),
	))

	add(group("flow",
		fString("flow_state", `Flow state: "open", "in_progress", "closed" (as conn_state)`, func(v *view) string { return string(connOf(v).State) }),
		fInt("flow_local_pkts", "Packets sent by the local (captured) peer", func(v *view) int64 { p, _ := connCounts(v, true); return p }),
		fInt("flow_local_bytes", "L4 payload bytes sent by the local peer", func(v *view) int64 { _, b := connCounts(v, true); return b }),
		fInt("flow_remote_pkts", "Packets sent by the remote peer", func(v *view) int64 { p, _ := connCounts(v, false); return p }),
		fInt("flow_remote_bytes", "L4 payload bytes sent by the remote peer", func(v *view) int64 { _, b := connCounts(v, false); return b }),
		fInt("flow_local_pps", "Local packets per second over the flow's lifetime (first to last packet); 0 when it lasted no measurable time", func(v *view) int64 { p, _ := connCounts(v, true); return rate(v, p) }),
		fInt("flow_local_bps", "Local payload bytes per second over the flow's lifetime", func(v *view) int64 { _, b := connCounts(v, true); return rate(v, b) }),
		fInt("flow_remote_pps", "Remote packets per second over the flow's lifetime", func(v *view) int64 { p, _ := connCounts(v, false); return rate(v, p) }),
		fInt("flow_remote_bps", "Remote payload bytes per second over the flow's lifetime", func(v *view) int64 { _, b := connCounts(v, false); return rate(v, b) }),
		fList("flow_l7_detected", "L7 protocols dissected on the flow", func(v *view) []string { return connOf(v).L7Detected }),
		fInt("flow_group_id", "Flow group identifier", nil),
	))

	add(group("kubernetes",
		fString("src.pod.name", "Source pod name; the source service name when the IP is not a pod's", func(v *view) string { return podName(v, srcSide) }),
		fString("src.pod.namespace", "Source pod namespace; the service namespace when the IP is not a pod's", func(v *view) string { return podNamespace(v, srcSide) }),
		fString("dst.pod.name", "Destination pod name; the destination service name when the IP is not a pod's", func(v *view) string { return podName(v, dstSide) }),
		fString("dst.pod.namespace", "Destination pod namespace; the service namespace when the IP is not a pod's", func(v *view) string { return podNamespace(v, dstSide) }),
		fString("src.service.name", "Source service name", func(v *view) string { id, _ := v.ident(srcSide); return id.Service }),
		fString("src.service.namespace", "Source service namespace", func(v *view) string { return serviceNamespace(v, srcSide) }),
		fString("dst.service.name", "Destination service name", func(v *view) string { id, _ := v.ident(dstSide); return id.Service }),
		fString("dst.service.namespace", "Destination service namespace", func(v *view) string { return serviceNamespace(v, dstSide) }),
		fList("namespaces", "All namespaces (src + dst, pod + service), deduplicated", namespaces),
		fList("pods", "All pod names (src + dst), deduplicated", func(v *view) []string {
			a, _ := v.ident(srcSide)
			b, _ := v.ident(dstSide)
			return uniq(a.Pod, b.Pod)
		}),
		fList("services", "All service names (src + dst), deduplicated", func(v *view) []string {
			a, _ := v.ident(srcSide)
			b, _ := v.ident(dstSide)
			return uniq(a.Service, b.Service)
		}),
		fMap("local_labels", "Kubernetes labels of the local (captured) peer", func(v *view) map[string]string { id, _ := v.ident(v.local()); return id.Labels }),
		fMap("local_annotations", "Kubernetes annotations of the local peer", func(v *view) map[string]string { id, _ := v.ident(v.local()); return id.Annotations }),
		fMap("remote_labels", "Kubernetes labels of the remote peer", func(v *view) map[string]string { id, _ := v.ident(v.remote()); return id.Labels }),
		fMap("remote_annotations", "Kubernetes annotations of the remote peer", func(v *view) map[string]string { id, _ := v.ident(v.remote()); return id.Annotations }),
		fNested("node", `The captured node: node["name"], node["ip"] (both keys always present)`, func(v *view) map[string]string {
			return map[string]string{"name": nodeName(v), "ip": nodeIP(v)}
		}),
		fString("node_name", "Name of the captured node (flat alias of node[\"name\"])", nodeName),
		fString("node_ip", "IP of the captured node (flat alias of node[\"ip\"])", nodeIP),
		fString("local_node_name", "Node of the local peer: its identity's node, else the captured node", func(v *view) string {
			if id, _ := v.ident(v.local()); id.Node != "" {
				return id.Node
			}
			return v.rec.Node
		}),
		fString("remote_node_name", "Node of the remote peer (empty when it is not a pod)", func(v *view) string { id, _ := v.ident(v.remote()); return id.Node }),
		fString("local_process_name", "Process name on the local peer, when the capture backend knows it", func(v *view) string { id, _ := v.ident(v.local()); return id.Process }),
		fString("remote_process_name", "Process name on the remote peer, when known", func(v *view) string { id, _ := v.ident(v.remote()); return id.Process }),
		fString("src.dns", "DNS name of the source IP, when the resolver knows one", func(v *view) string { id, _ := v.ident(srcSide); return id.DNS }),
		fString("dst.dns", "DNS name of the destination IP, when the resolver knows one", func(v *view) string { id, _ := v.ident(dstSide); return id.DNS }),
		fList("dns_resolutions", "All DNS resolutions (src.dns + dst.dns), deduplicated", func(v *view) []string {
			a, _ := v.ident(srcSide)
			b, _ := v.ident(dstSide)
			return uniq(a.DNS, b.DNS)
		}),
		fString("local_resolution_status", `Resolution of the local peer's IP: "" resolved (or no Kubernetes context at all, e.g. an offline file), "cache_miss" when the IP has no known identity`, func(v *view) string { return resolution(v, v.local()) }),
		fString("remote_resolution_status", "Resolution of the remote peer's IP, as local_resolution_status", func(v *view) string { return resolution(v, v.remote()) }),
	))

	// Defaults are the values on an empty record, so they cannot drift from the
	// extractors.
	var empty view
	empty.reset(nil)
	for i := range r {
		r[i].Default = r[i].native(&empty)
	}
	return r
}

// Extractor helpers. Each returns a zero value when the entry is not of its kind.

var (
	noHTTP  dissect.HTTP
	noDNS   dissect.DNS
	noRedis dissect.Redis
	noTLS   dissect.TLS
	noConn  dissect.Conn
	epoch   = time.Unix(0, 0).UTC()
)

func httpOf(v *view) *dissect.HTTP {
	if v.e.HTTP != nil {
		return v.e.HTTP
	}
	return &noHTTP
}

func dnsOf(v *view) *dissect.DNS {
	if v.e.DNS != nil {
		return v.e.DNS
	}
	return &noDNS
}

func redisOf(v *view) *dissect.Redis {
	if v.e.Redis != nil {
		return v.e.Redis
	}
	return &noRedis
}

func tlsOf(v *view) *dissect.TLS {
	if v.e.TLS != nil {
		return v.e.TLS
	}
	return &noTLS
}

// isTLS: a handshake entry, or any entry dissected from eBPF-recovered TLS plaintext.
func isTLS(v *view) bool {
	return v.e.Protocol == dissect.ProtoTLS || v.e.CaptureSource == "ebpf_tls"
}

// connOf returns the L4 record of an L4 entry.
func connOf(v *view) *dissect.Conn {
	if isL4(v) {
		return v.e.Conn
	}
	return &noConn
}

func isTCP(v *view) bool {
	return v.e.Transport == dissect.TransportTCP || v.e.Protocol == dissect.ProtoTCP
}

func isUDP(v *view) bool {
	return v.e.Transport == dissect.TransportUDP || v.e.Protocol == dissect.ProtoUDP
}

func isTCPConn(v *view) bool { return v.e.Conn != nil && v.e.Protocol == dissect.ProtoTCP }
func isUDPConn(v *view) bool { return v.e.Conn != nil && v.e.Protocol == dissect.ProtoUDP }
func isL4(v *view) bool      { return isTCPConn(v) || isUDPConn(v) }

func entryTime(v *view) time.Time {
	if v.e.Timestamp.IsZero() {
		return epoch
	}
	return v.e.Timestamp.UTC()
}

func streamID(v *view) int64 { return clampU(uint64(v.e.Stream)) }

func statusCode(v *view) int64 {
	switch {
	case v.e.HTTP != nil:
		return int64(v.e.HTTP.StatusCode)
	case v.e.DNS != nil && v.e.DNS.HasResponse:
		return int64(v.e.DNS.RCode)
	}
	return 0
}

// connCounts returns the packets and bytes sent by the local (or remote) peer of an
// L4 record. dissect.Conn counts per request direction; LocalIsSrc maps them.
func connCounts(v *view, local bool) (pkts, bytes int64) {
	c := connOf(v)
	if local == v.e.LocalIsSrc {
		return clampU(c.SrcPackets), clampU(c.SrcBytes)
	}
	return clampU(c.DstPackets), clampU(c.DstBytes)
}

func rate(v *view, n int64) int64 {
	c := connOf(v)
	d := c.Last.Sub(c.First)
	if d <= 0 || n == 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}

func clampU(u uint64) int64 {
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func captureSource(v *view) string {
	if v.e.CaptureSource == "" {
		return "unspecified"
	}
	return v.e.CaptureSource
}

func captureBackend(src string) string {
	switch src {
	case "af_packet":
		return "af_packet"
	case "ebpf", "ebpf_tls":
		return "ebpf"
	}
	return ""
}

func captureCode(src string) int64 {
	switch src {
	case "af_packet":
		return 1
	case "ebpf":
		return 2
	case "ebpf_tls":
		return 3
	}
	return 0
}

// captureMaps holds the `capture` map of each known source; they are shared and
// never modified.
var captureMaps = func() map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, s := range []string{"unspecified", "af_packet", "ebpf", "ebpf_tls"} {
		m[s] = map[string]string{"source": s, "backend": captureBackend(s)}
	}
	return m
}()

func captureMap(src string) map[string]string {
	if m, ok := captureMaps[src]; ok {
		return m
	}
	return map[string]string{"source": src, "backend": captureBackend(src)}
}

func podName(v *view, s side) string {
	id, _ := v.ident(s)
	if id.Pod != "" {
		return id.Pod
	}
	return id.Service
}

func podNamespace(v *view, s side) string {
	id, _ := v.ident(s)
	if id.Pod != "" && id.Namespace != "" {
		return id.Namespace
	}
	if ns := serviceNamespace(v, s); ns != "" {
		return ns
	}
	return id.Namespace
}

func serviceNamespace(v *view, s side) string {
	id, _ := v.ident(s)
	if id.ServiceNamespace != "" {
		return id.ServiceNamespace
	}
	if id.Service != "" {
		return id.Namespace
	}
	return ""
}

func namespaces(v *view) []string {
	return uniq(podNamespace(v, srcSide), serviceNamespace(v, srcSide),
		podNamespace(v, dstSide), serviceNamespace(v, dstSide))
}

func nodeName(v *view) string {
	if v.rec.Node != "" {
		return v.rec.Node
	}
	id, _ := v.ident(v.local())
	return id.Node
}

func nodeIP(v *view) string {
	if v.rec.NodeIP != "" {
		return v.rec.NodeIP
	}
	id, _ := v.ident(v.local())
	return id.NodeIP
}

func resolution(v *view, s side) string {
	if _, st := v.ident(s); st == idMissing {
		return "cache_miss"
	}
	return ""
}

// uniq returns the non-empty strings of ss without duplicates, in order.
func uniq(ss ...string) []string {
	var out []string
	for i, s := range ss {
		if s == "" {
			continue
		}
		dup := false
		for _, p := range ss[:i] {
			if p == s {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}
