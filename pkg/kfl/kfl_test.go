package kfl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestExamples(t *testing.T) {
	recs := fixtures()
	recent := kube(httpEntry())
	recent.Entry.Timestamp = time.Now().Add(-time.Minute)
	recs["recent"] = recent
	missing := kube(redisEntry()) // redis at 10.0.2.3 is not in the identities
	recs["missing"] = missing

	tests := []struct {
		expr string
		want map[string]bool // by fixture; fixtures not listed must not match
	}{
		// The reference's examples.
		{`http && status_code >= 500`, set("http", "offline", "recent")},
		{`dns && dns_response && status_code != 0`, set("dns")},
		{`redis && redis_key.startsWith("session:")`, set("redis", "missing")},
		{`"production" in namespaces`, set("tls", "http", "dns", "redis", "udp_flow", "recent", "missing", "tcp_conn")},
		{`http && "authorization" in request.headers`, set("http", "offline", "recent")},
		{`src.service.namespace != dst.service.namespace`, set("tls", "http", "dns", "redis", "udp_flow", "recent", "missing", "tcp_conn")},
		{`conn && conn_state == "open" && conn_local_bytes > 1000000`, set("tcp_conn")},
		{`map_get(local_labels, "app", "") == "web"`, set("tls", "http", "dns", "redis", "udp_flow", "recent", "missing", "tcp_conn")},

		// Network and identity.
		{`src.ip == "10.0.0.5" && dst.port == 8080`, set("http", "offline", "recent")},
		{`src.ip.startsWith("203.")`, set("tcp_conn")},
		{`protocol == "REDIS"`, set("redis", "missing")},
		{`id == 7 && index == 0 && stream == "0000000000000003"`, set("http", "offline", "recent")},
		{`conn_id == 3 && flow_id == 3`, set("http", "offline", "recent", "tcp_conn")},
		{`elapsed_time > 1000 && elapsed_time < 2000`, set("http", "offline", "recent")},
		{`has_pcap && protocol == ""`, set("empty")},
		{`stream == "" && id == 0`, set("empty")},

		// Time.
		{`timestamp > timestamp("2026-03-14T22:00:01Z")`, set("tls", "dns", "udp_flow", "redis", "missing", "recent")},
		{`timestamp == timestamp("2026-03-14T22:00:00.123456789Z")`, set("http", "offline", "tcp_conn")},
		{`timestamp > now() - duration("5m")`, set("recent")},
		{`timestamp < now() - duration("5m") && timestamp > timestamp(0)`, set("tls", "http", "offline", "dns", "redis", "missing", "tcp_conn", "udp_flow")},
		{`timestamp == timestamp(0)`, set("empty")},
		{`timestamp.getFullYear() == 2026 && timestamp.getHours() == 22 && !udp`, set("tls", "http", "offline", "redis", "missing", "tcp_conn")},

		// Operators, ternary, lists, strings.
		{`(http ? status_code : 0) == 503`, set("http", "offline", "recent")},
		{`(dns ? "d" : redis ? "r" : "x") == "r"`, set("redis", "missing")},
		{`method in ["GET", "HEAD"]`, set("http", "offline", "recent")},
		{`!(method in ["GET", "HEAD"]) && !conn && protocol != ""`, set("tls", "dns", "redis", "missing")},
		{`url.matches("^/api/[a-z]+\\?id=[0-9]+$")`, set("http", "offline", "recent")},
		{`path.endsWith("/users") && query_string["id"] == "123" && size(path) == 10`, set("http", "offline", "recent")},
		{`http && request.headers["user-agent"].lowerAscii().contains("curl")`, set("http", "offline", "recent")},
		{`response.headers["server"] == "nginx" && request.cookies["session"] == "abc" && "token" in response.cookies`, set("http", "offline", "recent")},
		{`request_headers_size + response_headers_size == 218 && response_body_size == 19 && request_body_size == 0`, set("http", "offline", "recent")},
		{`http_version == "HTTP/1.1"`, set("http", "offline", "recent")},
		{`size(request.headers) == 3`, set("http", "offline", "recent")},
		{`request.headers.exists(k, k.startsWith("auth"))`, set("http", "offline", "recent")},
		{`status_code % 100 == 3 && status_code / 100 == 5`, set("http", "offline", "recent")},

		// DNS.
		{`dns_questions == ["example.com"] && "A" in dns_question_types && size(dns_answers) == 0`, set("dns")},
		{`dns_questions.exists(q, q.endsWith(".com"))`, set("dns")},
		{`dns_request && dns_total_size == 133 && dns_request_length == 29 && dns_response_length == 104`, set("dns")},

		// Redis and TCP errors.
		{`redis_type == "GET" && redis_command == "GET session:1234" && redis_total_size == 36`, set("redis", "missing")},
		{`tcp_error_type == "truncated" && tcp_error_message.contains("5 bytes")`, set("redis", "missing")},

		// Protocol flags.
		{`tcp && !udp && !conn`, set("tls", "http", "offline", "recent", "redis", "missing")},
		{`udp`, set("dns", "udp_flow")},
		{`tcp_conn && tcp_flow && conn && flow && !udp_conn`, set("tcp_conn")},
		{`udp_conn && udp_flow && flow`, set("udp_flow")},
		{`kafka || amqp || ldap || ws || sctp || icmp || gql || gqlv1 || gqlv2 || radius || diameter`, nil},
		{`tls`, set("tls", "udp_flow")}, // udp_flow comes from eBPF-recovered TLS plaintext

		// TLS.
		{`tls && tls_summary == "ClientHello"`, set("tls")},
		{`tls_info == "TLS 1.3, TLS_AES_256_GCM_SHA384, SNI=shop.example.com, ALPN offered=h2,http/1.1"`, set("tls")},
		{`tls_info.startsWith("TLS 1.3") && tls_info.contains("SNI=shop.example.com")`, set("tls")},
		{`tls_request_size == 522 && tls_response_size == 127 && tls_total_size == 649`, set("tls")},
		{`protocol == "TLS" && dst.port == 443 && tcp && !conn`, set("tls")},

		// L4 records.
		{`conn_local_pkts == 1200 && conn_remote_pkts == 800 && conn_remote_bytes == 40000`, set("tcp_conn")},
		{`flow_local_pps == 120 && flow_local_bps == 200000 && flow_remote_pps == 80 && flow_remote_bps == 4000`, set("tcp_conn")},
		{`flow_state == "closed" && flow_local_bytes == 58 && flow_remote_pkts == 2 && flow_local_pps == 4`, set("udp_flow")},
		{`conn_l7_detected == ["HTTP"] || "DNS" in flow_l7_detected`, set("tcp_conn", "udp_flow")},

		// Capture source.
		{`capture_source == "af_packet" && capture_backend == "af_packet" && capture_source_code == 1 && capture["source"] == "af_packet"`, set("tls", "http", "offline", "recent", "redis", "missing", "tcp_conn")},
		{`capture_backend == "ebpf" && capture["backend"] == "ebpf"`, set("dns", "udp_flow")},
		{`capture_source_code == 3`, set("udp_flow")},
		{`capture_source == "unspecified" && capture_source_code == 0 && capture["source"] == "unspecified"`, set("empty")},

		// Kubernetes.
		{`src.pod.name == "web-1" && src.pod.namespace == "production" && dst.pod.name == "api-7"`, set("http", "recent")},
		{`dst.pod.namespace == "kube-system" && dst.pod.name == "kube-dns"`, set("dns", "udp_flow")}, // service fallback
		{`dst.service.name == "kube-dns" && dst.service.namespace == "kube-system"`, set("dns", "udp_flow")},
		{`src.service.name == "web" && src.service.namespace == "production"`, set("tls", "http", "dns", "redis", "missing", "udp_flow", "recent")},
		{`"web" in services && "api-7" in pods && "backend" in namespaces`, set("http", "recent")},
		{`namespaces == ["production", "kube-system"]`, set("dns", "udp_flow")},
		{`"app" in remote_labels && remote_labels["app"] == "api" && local_annotations["owner"] == "team-a"`, set("http", "recent")},
		{`map_get(remote_labels, "app", "none") == "none" && size(remote_annotations) == 0 && protocol != ""`, set("tls", "dns", "redis", "missing", "udp_flow", "offline", "tcp_conn")},
		{`node["name"] == "node-a" && node_name == "node-a" && node_ip == "192.168.0.10" && node["ip"] == "192.168.0.10"`, set("tls", "http", "dns", "redis", "missing", "tcp_conn", "udp_flow", "recent")},
		{`local_node_name == "node-a" && remote_node_name == "node-b"`, set("http", "recent")},
		{`local_process_name == "nginx" && remote_process_name == ""`, set("tls", "http", "dns", "redis", "missing", "tcp_conn", "udp_flow", "recent")},
		{`src.dns == "web.production.svc.cluster.local" && dst.dns.endsWith(".svc.cluster.local")`, set("dns", "udp_flow")},
		{`dns_resolutions == ["web.production.svc.cluster.local", "kube-dns.kube-system.svc.cluster.local"]`, set("dns", "udp_flow")},
		{`remote_resolution_status == "cache_miss" && local_resolution_status == ""`, set("tls", "redis", "missing", "tcp_conn")},
		{`local_resolution_status == "" && remote_resolution_status == "" && src.pod.name == ""`, set("offline", "empty")},
		{`has(src.pod.name) && has(src.dns) && !has(dst.dns)`, set("tls", "http", "recent", "redis", "missing")},
		{`src.pod == dst.pod`, set("offline", "empty")},

		// Generic map access.
		{`map_get(capture, "nope", "dflt") == "dflt"`, all()},
		{`map_get({"a": 1}, "a", 0) == 1 && map_get({"a": 1}, "b", 7) == 7`, all()},
	}
	for _, tt := range tests {
		f, err := Compile(tt.expr)
		if err != nil {
			t.Errorf("Compile(%s): %v", tt.expr, err)
			continue
		}
		for name, rec := range recs {
			got, err := f.Match(rec)
			if err != nil {
				t.Errorf("%s on %s: %v", tt.expr, name, err)
			}
			if want := tt.want[name] || tt.want["*"]; got != want {
				t.Errorf("%s on %s = %v, want %v", tt.expr, name, got, want)
			}
		}
	}
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func all() map[string]bool { return set("*") }

// TestDefaults checks that every variable exists with its documented default on an
// empty record, and on records of other protocols for protocol-specific variables.
func TestDefaults(t *testing.T) {
	recs := fixtures()
	// Groups each fixture fills; variables of every other protocol group must have
	// their defaults.
	filled := map[string][]string{
		"http": {"http", "tcp"}, "offline": {"http", "tcp"}, "dns": {"dns"}, "redis": {"redis", "tcp"},
		"tcp_conn": {"conn", "flow"}, "udp_flow": {"conn", "flow"}, "tls": {"tls", "tcp"}, "empty": nil,
	}
	protocolGroups := set("http", "dns", "tls", "tcp", "udp", "sctp", "icmp", "ws", "redis",
		"kafka", "amqp", "ldap", "radius", "diameter", "conn", "flow")
	for _, f := range Fields() {
		expr := f.Name + " == " + f.DefaultText()
		flt, err := Compile(expr)
		if err != nil {
			t.Errorf("Compile(%s): %v", expr, err)
			continue
		}
		for name, rec := range recs {
			if name != "empty" && (!protocolGroups[f.Group] || contains(filled[name], f.Group)) {
				continue
			}
			if f.Name == "status_code" && name == "dns" {
				continue // the RCODE
			}
			ok, err := flt.Match(rec)
			if err != nil || !ok {
				t.Errorf("%s on %s = %v, %v; want true", expr, name, ok, err)
			}
			if got := f.Value(rec); fmt.Sprint(got) != fmt.Sprint(f.Default) {
				t.Errorf("%s.Value(%s) = %#v, want default %#v", f.Name, name, got, f.Default)
			}
		}
		if !f.Filled {
			for name, rec := range recs {
				if got := f.Value(rec); fmt.Sprint(got) != fmt.Sprint(f.Default) {
					t.Errorf("unfilled %s.Value(%s) = %#v, want default %#v", f.Name, name, got, f.Default)
				}
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestRegistryMatchesReference checks that the registry declares every variable of the
// KFL reference, in its order, with its type, and nothing else.
func TestRegistryMatchesReference(t *testing.T) {
	fs := Fields()
	if len(fs) != len(referenceFields) {
		t.Errorf("registry has %d fields, reference %d", len(fs), len(referenceFields))
	}
	for i := 0; i < len(fs) && i < len(referenceFields); i++ {
		want := referenceFields[i]
		if fs[i].Name != want.name || fs[i].Type.String() != want.typ {
			t.Errorf("field %d = %s (%s), want %s (%s)", i, fs[i].Name, fs[i].Type, want.name, want.typ)
		}
	}
	for _, f := range fs {
		if f.Doc == "" || f.Group == "" || GroupTitle(f.Group) == "" {
			t.Errorf("%s: doc %q, group %q", f.Name, f.Doc, f.Group)
		}
		if g, ok := Lookup(f.Name); !ok || g.Name != f.Name {
			t.Errorf("Lookup(%s) = %v, %v", f.Name, g.Name, ok)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup(nope) found a field")
	}
	// What this build fills, per the design: L7 protocols HTTP, DNS, Redis, TLS and L4 records.
	for _, name := range []string{"kafka_api_key", "tcp_payload", "udp_length", "conn_group_id", "gql"} {
		if f, _ := Lookup(name); f.Filled {
			t.Errorf("%s is Filled", name)
		}
	}
	for _, name := range []string{"http", "tls", "tls_info", "status_code", "dns_questions", "redis_key", "flow_local_pps", "src.pod.name", "dns_resolutions", "tcp_error_type"} {
		if f, _ := Lookup(name); !f.Filled {
			t.Errorf("%s is not Filled", name)
		}
	}
}

func TestEmptyFilter(t *testing.T) {
	for _, expr := range []string{"", "  ", "\n\t "} {
		f, err := Compile(expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		if !f.MatchesAll() {
			t.Errorf("Compile(%q).MatchesAll() = false", expr)
		}
		for name, rec := range fixtures() {
			if ok, err := f.Match(rec); !ok || err != nil {
				t.Errorf("Compile(%q).Match(%s) = %v, %v", expr, name, ok, err)
			}
		}
	}
	var nilFilter *Filter
	if ok, err := nilFilter.Match(nil); !ok || err != nil {
		t.Errorf("nil filter: %v, %v", ok, err)
	}
	if ok, err := nilFilter.MatchContext(context.Background(), nil); !ok || err != nil {
		t.Errorf("nil filter: %v, %v", ok, err)
	}
}

// TestCompileErrors golden-tests the text users see for compile errors.
func TestCompileErrors(t *testing.T) {
	exprs := []string{
		`http && status_code == "200"`,
		`src.port == "80"`,
		`http && (`,
		`status_code`,
		`src.pod.name + "x"`,
		`foo == 1 || http`,
		`src.foo == ""`,
		`request.headers["a"] == 1`,
		`redis_key.startsWith(1)`,
		`http &&
  dns_questions.exists(q, q.size() > "3")`,
		`method == 'GET' && ünïcode`,
		`timestamp > "2026-03-14"`,
		`elapsed_time > duration("1s")`,
		`map_get(local_labels, "app", 0) == 0`,
		`[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, [0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, [0,1,2,3,4,5,6,7,8,9].map(f, a + b + c + d + e + f)))))).size() > 0`,
	}
	var b strings.Builder
	for _, expr := range exprs {
		_, err := Compile(expr)
		var kerr *Error
		if !errors.As(err, &kerr) {
			t.Errorf("Compile(%s) = %v, want *Error", expr, err)
			continue
		}
		if kerr.Expr != expr || len(kerr.Issues) == 0 || kerr.Issues[0].Line < 1 || kerr.Issues[0].Column < 1 {
			t.Errorf("Compile(%s): bad *Error %+v", expr, kerr)
		}
		fmt.Fprintf(&b, "=== %s\n%s\n\n", expr, err)
	}
	golden(t, "compile_errors.golden", b.String())
}

func TestExpressionTooLong(t *testing.T) {
	expr := "size(" + strings.Repeat("url + ", 3000) + "url) > 0"
	_, err := Compile(expr)
	const want = "ERROR: <input>:1:1: expression code point size exceeds limit: size: 18013, limit 16384"
	if err == nil || err.Error() != want {
		t.Errorf("Compile(long) = %v, want %s", err, want)
	}
}

func TestCostLimit(t *testing.T) {
	// Cheap to compile, ruinous to run: 20^5 iterations the estimator cannot bound
	// because all() may stop early.
	r := "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]"
	expr := fmt.Sprintf("%s.all(a, %s.all(b, %s.all(c, %s.all(d, %s.all(e, a+b+c+d+e > 0)))))", r, r, r, r, r)
	f, err := Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := f.Match(kube(httpEntry()))
	if ok || !errors.Is(err, ErrCostLimit) {
		t.Fatalf("Match = %v, %v; want ErrCostLimit", ok, err)
	}
	var eerr *EvalError
	if !errors.As(err, &eerr) {
		t.Errorf("error %T is not an *EvalError", err)
	}
	const want = "evaluating filter: filter exceeded its cost limit of 1000000 operations"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if f.Errors() != 1 {
		t.Errorf("Errors() = %d, want 1", f.Errors())
	}
}

func TestCostTrackingSelection(t *testing.T) {
	env, err := defaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]bool{
		`http && status_code >= 500`:                                         false,
		`url.matches("^/api") && "authorization" in request.headers`:         false,
		`map_get(local_labels, "app", "") == "web" && src.port + 1 == 43211`: false,
		`timestamp > now() - duration("5m") && timestamp.getHours() == 22`:   false,
		`request.headers["user-agent"].lowerAscii().contains("curl")`:        false,
		`dns_questions.exists(q, q.endsWith(".com"))`:                        true,
		`url + path == "x"`:                 true,
		`dns_questions + dns_answers == []`: true,
		`url.replace("/", url).size() > 0`:  true,
		`"a,b".split(",").size() == 2`:      true,
	} {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		if got := needsCostTracking(ast.NativeRep()); got != want {
			t.Errorf("needsCostTracking(%s) = %v, want %v", expr, got, want)
		}
	}
	// An exponentially growing string is stopped by the cost limit.
	expr := "url" + strings.Repeat(`.replace("/", url)`, 25) + ` != ""`
	f, err := Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Match(kube(httpEntry())); ok || !errors.Is(err, ErrCostLimit) {
		t.Errorf("replace chain: %v, %v; want ErrCostLimit", ok, err)
	}
}

func TestRuntimeErrorIsNoMatch(t *testing.T) {
	f, err := Compile(`request.headers["x-debug"] == "1"`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ok, err := f.Match(kube(httpEntry()))
		var eerr *EvalError
		if ok || !errors.As(err, &eerr) {
			t.Fatalf("Match = %v, %v; want false, *EvalError", ok, err)
		}
		if got, want := err.Error(), "evaluating filter: no such key: x-debug"; got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
		if f.Errors() != uint64(i+1) {
			t.Errorf("Errors() = %d, want %d", f.Errors(), i+1)
		}
	}
	// The safe spellings do not fail.
	for _, expr := range []string{`"x-debug" in request.headers && request.headers["x-debug"] == "1"`, `map_get(request.headers, "x-debug", "") == "1"`} {
		f := mustCompile(t, expr)
		if ok, err := f.Match(kube(httpEntry())); ok || err != nil {
			t.Errorf("%s: %v, %v", expr, ok, err)
		}
	}
}

func TestMatchContext(t *testing.T) {
	f := mustCompile(t, `http && status_code == 503`)
	if ok, err := f.MatchContext(context.Background(), kube(httpEntry())); !ok || err != nil {
		t.Errorf("MatchContext = %v, %v", ok, err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("client went away")
	cancel(cause)
	if ok, err := f.MatchContext(ctx, kube(httpEntry())); ok || !errors.Is(err, cause) {
		t.Errorf("MatchContext(cancelled) = %v, %v; want %v", ok, err, cause)
	}
}

// lateCancelCtx is done from the start but reports no error on its first Err call, so
// MatchContext starts evaluating and the interpreter's own interrupt check stops it.
type lateCancelCtx struct {
	context.Context
	calls atomic.Int32
}

func (c *lateCancelCtx) Err() error {
	if c.calls.Add(1) == 1 {
		return nil
	}
	return c.Context.Err()
}

func TestMatchContextInterruptsComprehension(t *testing.T) {
	f := mustCompile(t, `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].all(a, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].all(b, a + b > 0))`)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err := f.MatchContext(&lateCancelCtx{Context: done}, kube(httpEntry()))
	if ok || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("MatchContext = %v, %v; want an interruption", ok, err)
	}
	if f.Errors() != 0 {
		t.Errorf("cancellation counted as a filter error")
	}
	if ok, err := f.Match(kube(httpEntry())); !ok || err != nil {
		t.Errorf("Match = %v, %v", ok, err)
	}
}

func TestNowIsFixedAtCompileTime(t *testing.T) {
	before := time.Now()
	f := mustCompile(t, `timestamp == now()`)
	now := f.now("now").(types.Timestamp).Time
	if now.Before(before) || now.After(time.Now()) {
		t.Fatalf("now() = %v, not the compile time", now)
	}
	rec := kube(httpEntry())
	rec.Entry.Timestamp = now
	for range 2 {
		if ok, err := f.Match(rec); !ok || err != nil {
			t.Fatalf("Match = %v, %v", ok, err)
		}
		time.Sleep(time.Millisecond) // now() must not move
	}
}

func TestConcurrentMatch(t *testing.T) {
	exprs := []string{
		`http && status_code >= 500 && src.pod.name == "web-1"`,
		`dns && dns_questions.exists(q, q.matches("^ex[a-z]+\\.com$"))`,
		`conn && flow_local_pps > 100`,
		`request.headers["authorization"].startsWith("Bearer")`, // errors on non-HTTP
	}
	recs := fixtures()
	type result struct {
		ok  bool
		err bool
	}
	want := map[string]result{}
	var filters []*Filter
	for _, e := range exprs {
		f := mustCompile(t, e)
		filters = append(filters, f)
		for name, rec := range recs {
			ok, err := f.Match(rec)
			want[e+"/"+name] = result{ok, err != nil}
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				for j, f := range filters {
					for name, rec := range recs {
						if (i+g+j)%2 == 0 {
							continue
						}
						ok, err := f.Match(rec)
						if got := (result{ok, err != nil}); got != want[exprs[j]+"/"+name] {
							t.Errorf("%s on %s = %v, want %v", exprs[j], name, got, want[exprs[j]+"/"+name])
							return
						}
						_ = AppendJSON(nil, rec)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestRegexIsPrecompiled checks that a constant `matches` pattern is compiled once per
// filter, not per evaluation: compiling a regexp allocates dozens of objects.
func TestRegexIsPrecompiled(t *testing.T) {
	f := mustCompile(t, `url.matches("^/api/(users|orders)/?\\?id=[0-9]+$")`)
	rec := kube(httpEntry())
	allocs := testing.AllocsPerRun(100, func() {
		if ok, err := f.Match(rec); !ok || err != nil {
			t.Fatal(ok, err)
		}
	})
	if allocs > 15 {
		t.Errorf("Match allocates %.0f objects per run: the regexp is not precompiled", allocs)
	}
}

func TestLibVersion(t *testing.T) {
	if _, err := cel.NewEnv(cel.Lib(Lib{Version: LibVersion + 1})); err == nil {
		t.Error("unknown library version accepted")
	}
	env, err := cel.NewEnv(cel.Lib(Lib{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, iss := env.Compile(`src.pod.name == "x" && http`); iss.Err() != nil {
		t.Error(iss.Err())
	}
}

func TestValues(t *testing.T) {
	rec := kube(httpEntry())
	var fs []Field
	for _, n := range []string{"src.ip", "status_code", "http", "timestamp", "request.headers", "namespaces", "node"} {
		f, _ := Lookup(n)
		fs = append(fs, f)
	}
	got := Values(rec, fs)
	want := map[string]any{
		"src.ip": "10.0.0.5", "status_code": int64(503), "http": true, "timestamp": t0,
		"request.headers": httpEntry().HTTP.Request.Headers, "namespaces": []string{"production", "backend"},
		"node": map[string]string{"name": "node-a", "ip": "192.168.0.10"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Values = %v\nwant %v", got, want)
	}
}

// TestObjectValues covers the object variables' ref.Val behaviour outside field access.
func TestObjectValues(t *testing.T) {
	for expr, want := range map[string]bool{
		`dyn(src)["ip"] == "10.0.0.5"`:          true,
		`type(src) == kfl.Endpoint`:             true,
		`type(src.pod) == type(dst.pod)`:        true,
		`src == src && src != dst`:              true,
		`request == request`:                    true,
		`has(request.headers) && has(src.pod)`:  true,
		`has(response.cookies) && has(dst.dns)`: false,
	} {
		ok, err := mustCompile(t, expr).Match(kube(httpEntry()))
		if ok != want || err != nil {
			t.Errorf("%s = %v, %v; want %v", expr, ok, err, want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	golden(t, "kfl.md", Markdown())
}

func mustCompile(t testing.TB, expr string) *Filter {
	t.Helper()
	f, err := Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// golden compares got with testdata/name; -update rewrites the file.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
