package http_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// hsize is the header size of a message text: start line, fields and blank line.
func hsize(msg string) int {
	i := strings.Index(msg, "\r\n\r\n")
	if i < 0 {
		panic("no blank line in " + msg)
	}
	return i + 4
}

func TestDissector(t *testing.T) {
	if got := http.Dissector.Protocol(); got != dissect.ProtoHTTP {
		t.Errorf("Protocol() = %q", got)
	}
	if _, ok := http.Dissector.(http.TCP); !ok {
		t.Errorf("Dissector is a %T, want http.TCP", http.Dissector)
	}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		data string
		want dissect.Verdict
	}{
		{"", dissect.NeedMore},
		{"G", dissect.NeedMore},
		{"GET", dissect.NeedMore},
		{"GET ", dissect.NeedMore},
		{"GET /index.html", dissect.NeedMore},
		{"GET /index.html HTTP/1", dissect.NeedMore},
		{"GET /index.html HTTP/1.", dissect.Match},
		{"GET / HTTP/1.1\r\n", dissect.Match},
		{"GET / HTTP/2.0\r\n", dissect.NoMatch},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", dissect.NoMatch}, // HTTP/2 preface
		{"get / HTTP/1.1\r\n", dissect.NoMatch},
		{"GETX / HTTP/1.1\r\n", dissect.NoMatch},
		{"GET  / HTTP/1.1\r\n", dissect.NoMatch},
		{"GET /a\r\n", dissect.NoMatch}, // HTTP/0.9
		{"GET /\x00 HTTP/1.1", dissect.NoMatch},
		{"FOO / HTTP/1.1\r\n", dissect.NoMatch}, // unknown methods do not start a stream
		{"OPTIONS * HTTP/1.1\r\n", dissect.Match},
		{"CONNECT example.com:443 HTTP/1.1\r\n", dissect.Match},
		{"PROPFIND /dav/ HTTP/1.1\r\n", dissect.Match},
		{"PROPPATCH /dav/x HTTP/1.1\r\n", dissect.Match},
		{"MKCOL /dav/d/ HTTP/1.1\r\n", dissect.Match},
		{"COPY /a HTTP/1.1\r\n", dissect.Match},
		{"MOVE /a HTTP/1.1\r\n", dissect.Match},
		{"LOCK /a HTTP/1.1\r\n", dissect.Match},
		{"UNLOCK /a HTTP/1.1\r\n", dissect.Match},
		{"REPORT /svn HTTP/1.1\r\n", dissect.Match},
		{"MKCALENDAR /cal/ HTTP/1.1\r\n", dissect.Match},
		{"VERSION-CONTROL /a HTTP/1.1\r\n", dissect.Match},
		{"M-SEARCH * HTTP/1.1\r\n", dissect.Match},
		{"PATCH /a HTTP/1.0\r\n", dissect.Match},
		{"PROPF", dissect.NeedMore},
		{"H", dissect.NeedMore},
		{"HTTP/1.1", dissect.NeedMore},
		{"HTTP/1.1 20", dissect.NeedMore},
		{"HTTP/1.1 200", dissect.NeedMore},
		{"HTTP/1.1 200 ", dissect.Match},
		{"HTTP/1.1 200\r\n", dissect.Match},
		{"HTTP/1.0 404 Not Found\r\n", dissect.Match},
		{"HTTP/1.1 2000 OK", dissect.NoMatch},
		{"HTTP/1.1 OK", dissect.NoMatch},
		{"HTTP/2 200\r\n", dissect.NoMatch},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", dissect.NoMatch}, // TLS ClientHello
		{"*3\r\n$3\r\nSET\r\n", dissect.NoMatch},                          // Redis
		{"SSH-2.0-OpenSSH_9.6\r\n", dissect.NoMatch},
		{"\r\nGET / HTTP/1.1\r\n", dissect.NoMatch},
	}
	for _, tt := range tests {
		for _, side := range []dissect.Side{A, B} {
			// Ports are irrelevant: the same answer on 80, 8080 and 5432.
			for _, ports := range [][2]uint16{{40000, 80}, {8080, 40000}, {40000, 5432}} {
				if got := http.Dissector.Probe(side, []byte(tt.data), ports); got != tt.want {
					t.Errorf("Probe(%q, %v) = %v, want %v", tt.data, ports, got, tt.want)
				}
			}
		}
	}
}

// TestFixtures parses real segments of the nginx capture (fixtures_test.go).
func TestFixtures(t *testing.T) {
	headReq, headResp := payload(t, fixtureHEADRequest), payload(t, fixtureHEADResponse)
	postReq, postResp := payload(t, fixturePOSTRequest), payload(t, fixturePOSTResponse)
	pipeReq := payload(t, fixturePipelinedRequests)
	pipe1, pipe2, pipe3 := payload(t, fixturePipelinedResponse1), payload(t, fixturePipelinedResponse2), payload(t, fixturePipelinedResponse3)

	t.Run("HEAD", func(t *testing.T) {
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: headReq}, {Side: B, Data: headResp}})
		expect(t, r, "HEAD /index.html -> 200 OK req=90+0 resp=230+0 client=A")
		h := r.Entries[0].HTTP
		if h.Response.Headers["content-length"] != "118" || h.Request.Headers["user-agent"] != "curl/7.88.1" {
			t.Errorf("headers: %v / %v", h.Request.Headers, h.Response.Headers)
		}
	})
	t.Run("POST", func(t *testing.T) {
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: postReq}, {Side: B, Data: postResp}})
		expect(t, r, "POST /post -> 201 Created req=153+17 resp=159+8 client=A")
		if ct := r.Entries[0].HTTP.Request.Headers["content-type"]; ct != "application/x-www-form-urlencoded" {
			t.Errorf("content-type %q", ct)
		}
	})
	t.Run("pipelined", func(t *testing.T) {
		// The server is side A here: the client is whoever sends requests.
		r := run(t, http.Limits{}, []chunk{{Side: B, Data: pipeReq}, {Side: A, Data: pipe1}, {Side: A, Data: pipe2}, {Side: A, Data: pipe3}})
		expect(t, r,
			"GET /index.html -> 200 OK req=45+0 resp=230+118 client=B",
			"GET /missing -> 404 Not Found req=42+0 resp=148+146 client=B",
			"GET /search?pipelined=1 -> 200 OK req=72+0 resp=150+10 client=B",
		)
		if q := r.Entries[2].HTTP.Query; q["pipelined"] != "1" || len(q) != 1 {
			t.Errorf("query %v", q)
		}
	})
}

// TestEntryFields checks every field of one exchange.
func TestEntryFields(t *testing.T) {
	req := "GET /api/users?id=123&tag=a&tag=b&empty=&bad=%zz HTTP/1.1\r\n" +
		"Host: shop.example\r\n" +
		"User-Agent: test\r\n" +
		"Accept: text/html\r\n" +
		"accept: application/json\r\n" +
		"X-Folded: first\r\n\tsecond\r\n" +
		"Cookie: session=s3cr3t; theme=\"dark\"\r\n" +
		"Cookie: session=other; lang=en\r\n" +
		"Content-Length: 4\r\n" +
		"\r\nbody"
	resp := "HTTP/1.1 404 Not Found\r\n" +
		"Content-Type: text/plain\r\n" +
		"Set-Cookie: token=abc; Path=/; HttpOnly\r\n" +
		"Set-Cookie: seen=1\r\n" +
		"X-Custom-Header-With-A-Rather-Long-Name-Beyond-Fourty-Eight-Bytes: yes\r\n" +
		"Content-Length: 9\r\n" +
		"\r\nnot found"
	r := run(t, http.Limits{}, []chunk{{Side: A, Data: req[:30]}, {Side: A, Data: req[30:]}, {Side: B, Data: resp}})
	if len(r.Entries) != 1 {
		t.Fatalf("%d entries", len(r.Entries))
	}
	e, h := r.Entries[0], r.Entries[0].HTTP
	checkEntry(t, e)
	want := dissect.HTTP{
		Method: "GET", URL: "/api/users?id=123&tag=a&tag=b&empty=&bad=%zz", Path: "/api/users",
		Query:   map[string]string{"id": "123", "tag": "a", "empty": ""},
		Version: "HTTP/1.1", StatusCode: 404, StatusText: "Not Found", HasRequest: true, HasResponse: true,
		Request: dissect.HTTPMessage{
			Headers: map[string]string{
				"host": "shop.example", "user-agent": "test", "accept": "text/html, application/json",
				"x-folded": "first second", "cookie": "session=s3cr3t; theme=\"dark\", session=other; lang=en",
				"content-length": "4",
			},
			Cookies:     map[string]string{"session": "s3cr3t", "theme": "\"dark\"", "lang": "en"},
			HeadersSize: hsize(req), BodySize: 4,
		},
		Response: dissect.HTTPMessage{
			Headers: map[string]string{
				"content-type": "text/plain", "set-cookie": "token=abc; Path=/; HttpOnly, seen=1",
				"x-custom-header-with-a-rather-long-name-beyond-fourty-eight-bytes": "yes",
				"content-length": "9",
			},
			Cookies:     map[string]string{"token": "abc", "seen": "1"},
			HeadersSize: hsize(resp), BodySize: 9,
		},
	}
	if got, w := fmt.Sprintf("%+v", *h), fmt.Sprintf("%+v", want); got != w {
		t.Errorf("HTTP:\n got %s\nwant %s", got, w)
	}
	if e.Protocol != dissect.ProtoHTTP || r.Clients[0] != A {
		t.Errorf("protocol %q client %v", e.Protocol, r.Clients[0])
	}
	// Timestamp: first byte of the request (script byte 0); Elapsed: to the first
	// byte of the response (script byte len(req)).
	if !e.Timestamp.Equal(dissecttest.At(0)) || e.Elapsed != time.Duration(len(req))*time.Millisecond {
		t.Errorf("timestamp %v elapsed %v", e.Timestamp, e.Elapsed)
	}
	if e.Interface != dissecttest.Iface(A) {
		t.Errorf("interface %d, want the request's (%d)", e.Interface, dissecttest.Iface(A))
	}
	if e.ErrorType != "" {
		t.Errorf("error %s: %s", e.ErrorType, e.ErrorMessage)
	}
}

func TestTargets(t *testing.T) {
	tests := []struct{ target, path, query string }{
		{"/", "/", "map[]"},
		{"/a/b?x=1", "/a/b", "map[x:1]"},
		{"/a?x=1&x=2&y", "/a", "map[x:1 y:]"},
		{"/a?q=hello%20world+again", "/a", "map[q:hello world again]"},
		{"/a?", "/a", "map[]"},
		{"/a?;;", "/a", "map[]"},
		{"http://example.com/p/q?r=1", "/p/q", "map[r:1]"},
		{"http://example.com", "/", "map[]"},
		{"example.com:443", "example.com:443", "map[]"},
		{"*", "*", "map[]"},
	}
	for _, tt := range tests {
		method := "GET"
		if tt.target == "example.com:443" {
			method = "CONNECT"
		} else if tt.target == "*" {
			method = "OPTIONS"
		}
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: method + " " + tt.target + " HTTP/1.1\r\n\r\n"}})
		if len(r.Entries) != 1 {
			t.Fatalf("%s: %d entries", tt.target, len(r.Entries))
		}
		h := r.Entries[0].HTTP
		if h.URL != tt.target || h.Path != tt.path || fmt.Sprint(h.Query) != tt.query {
			t.Errorf("%s: URL %q path %q query %v, want %q %s", tt.target, h.URL, h.Path, h.Query, tt.path, tt.query)
		}
	}
}

const (
	getA  = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	getB  = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
	getC  = "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"
	ok5   = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	nf0   = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	post7 = "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\na=1&b=2"
)

func TestKeepAlive(t *testing.T) {
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n"
	r := run(t, http.Limits{}, []chunk{
		{Side: A, Data: getA}, {Side: B, Data: ok5},
		{Side: A, Data: post7}, {Side: B, Data: nf0},
		{Side: A, Data: getB}, {Side: B, Data: chunked},
		{Side: A, Data: getC}, {Side: B, Data: ok5},
	})
	expect(t, r,
		fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
		fmt.Sprintf("POST /form -> 404 Not Found req=%d+7 resp=%d+0 client=A", hsize(post7), len(nf0)),
		fmt.Sprintf("GET /b -> 200 OK req=%d+0 resp=%d+9 client=A", len(getB), hsize(chunked)),
		fmt.Sprintf("GET /c -> 200 OK req=%d+0 resp=%d+5 client=A", len(getC), hsize(ok5)),
	)
	// Timestamps and latencies follow the byte positions of each exchange.
	pos := 0
	for i, pair := range [][2]string{{getA, ok5}, {post7, nf0}, {getB, chunked}, {getC, ok5}} {
		e := r.Entries[i]
		if !e.Timestamp.Equal(dissecttest.At(pos)) || e.Elapsed != time.Duration(len(pair[0]))*time.Millisecond {
			t.Errorf("entry %d: timestamp %v elapsed %v, want %v %v", i, e.Timestamp, e.Elapsed, dissecttest.At(pos), time.Duration(len(pair[0]))*time.Millisecond)
		}
		pos += len(pair[0]) + len(pair[1])
	}
}

func TestPipelining(t *testing.T) {
	r := run(t, http.Limits{}, []chunk{
		{Side: A, Data: getA + post7 + getB},
		{Side: B, Data: ok5 + nf0[:10]},
		{Side: B, Data: nf0[10:] + ok5},
		{Side: A, Data: getC},
	})
	expect(t, r,
		fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
		fmt.Sprintf("POST /form -> 404 Not Found req=%d+7 resp=%d+0 client=A", hsize(post7), len(nf0)),
		fmt.Sprintf("GET /b -> 200 OK req=%d+0 resp=%d+5 client=A", len(getB), hsize(ok5)),
		fmt.Sprintf("GET /c -> - req=%d+0 client=A !no_response", len(getC)),
	)
	// All three requests start in the first chunk; each response is timed from its
	// own request.
	if !r.Entries[1].Timestamp.Equal(dissecttest.At(len(getA))) {
		t.Errorf("second request at %v", r.Entries[1].Timestamp)
	}
}

// TestPipelinedHEAD: the response to a pipelined HEAD has no body even though a
// later request on the same connection is a GET. tshark 4.0.17 gets this wrong (it
// reads the HEAD response's Content-Length as a body and swallows the next response;
// seen while recording testdata/nginx.pcap, see gen.sh).
func TestPipelinedHEAD(t *testing.T) {
	head := "HEAD /missing HTTP/1.1\r\nHost: h\r\n\r\n"
	headResp := "HTTP/1.1 404 Not Found\r\nContent-Length: 146\r\n\r\n"
	r := run(t, http.Limits{}, []chunk{{Side: A, Data: getA + head + getB}, {Side: B, Data: ok5 + headResp + ok5}})
	expect(t, r,
		fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
		fmt.Sprintf("HEAD /missing -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(head), len(headResp)),
		fmt.Sprintf("GET /b -> 200 OK req=%d+0 resp=%d+5 client=A", len(getB), hsize(ok5)),
	)
}

func TestChunked(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nTrailer: X-Checksum\r\n\r\n" +
		"1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n" +
		"A \r\n0123456789\r\n" +
		"0\r\nX-Checksum: 42\r\nServer-Timing: db;dur=53\r\n\r\n"
	req := "PUT /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\n\n" // bare LFs
	r := run(t, http.Limits{}, []chunk{{Side: A, Data: req}, {Side: B, Data: resp}, {Side: A, Data: getA}, {Side: B, Data: ok5}})
	expect(t, r,
		fmt.Sprintf("PUT /upload -> 200 OK req=%d+3 resp=%d+36 client=A", hsize(req), hsize(resp)),
		fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
	)
	hd := r.Entries[0].HTTP.Response.Headers
	if hd["x-checksum"] != "42" || hd["server-timing"] != "db;dur=53" || hd["trailer"] != "X-Checksum" {
		t.Errorf("trailers not merged into headers: %v", hd)
	}
}

func TestNoBody(t *testing.T) {
	head := "HEAD /a HTTP/1.1\r\n\r\n"
	withLength := func(status string) string {
		return "HTTP/1.1 " + status + "\r\nContent-Length: 1000\r\nTransfer-Encoding: chunked\r\n\r\n"
	}
	r := run(t, http.Limits{}, []chunk{
		{Side: A, Data: head}, {Side: B, Data: withLength("200 OK")},
		{Side: A, Data: getA}, {Side: B, Data: withLength("204 No Content")},
		{Side: A, Data: getB}, {Side: B, Data: withLength("304 Not Modified")},
		{Side: A, Data: getC}, {Side: B, Data: ok5},
	})
	expect(t, r,
		fmt.Sprintf("HEAD /a -> 200 OK req=%d+0 resp=%d+0 client=A", len(head), len(withLength("200 OK"))),
		fmt.Sprintf("GET /a -> 204 No Content req=%d+0 resp=%d+0 client=A", len(getA), len(withLength("204 No Content"))),
		fmt.Sprintf("GET /b -> 304 Not Modified req=%d+0 resp=%d+0 client=A", len(getB), len(withLength("304 Not Modified"))),
		fmt.Sprintf("GET /c -> 200 OK req=%d+0 resp=%d+5 client=A", len(getC), hsize(ok5)),
	)
}

func TestInterimResponses(t *testing.T) {
	put := "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
	cont := "HTTP/1.1 100 Continue\r\n\r\n"
	hints := "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
	created := "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	r := run(t, http.Limits{}, []chunk{
		{Side: A, Data: put}, {Side: B, Data: cont}, {Side: A, Data: "abc"}, {Side: B, Data: created},
		{Side: A, Data: getA}, {Side: B, Data: hints + ok5},
	})
	expect(t, r,
		fmt.Sprintf("PUT /f -> 201 Created req=%d+3 resp=%d+0 client=A", len(put), len(created)),
		fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
	)
	// Elapsed runs to the final response, not to 100 Continue.
	if want := time.Duration(len(put)+len(cont)+3) * time.Millisecond; r.Entries[0].Elapsed != want {
		t.Errorf("elapsed %v, want %v", r.Entries[0].Elapsed, want)
	}
	if _, ok := r.Entries[1].HTTP.Response.Headers["link"]; ok {
		t.Errorf("103 headers leaked into the final response")
	}
}

func TestUpgrade(t *testing.T) {
	up := "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	switching := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	r := run(t, http.Limits{}, []chunk{
		{Side: A, Data: up}, {Side: B, Data: switching + "\x81\x05hello"},
		// WebSocket frames, even ones that look like HTTP, are not parsed.
		{Side: A, Data: "\x81\x85abcdGET / HTTP/1.1\r\n\r\n"}, {Side: B, Data: "HTTP/1.1 200 OK\r\n\r\n"},
	})
	expect(t, r, fmt.Sprintf("GET /ws -> 101 Switching Protocols req=%d+0 resp=%d+0 client=A", len(up), len(switching)))

	connect := "CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n"
	established := "HTTP/1.1 200 Connection Established\r\n\r\n"
	r = run(t, http.Limits{}, []chunk{{Side: A, Data: connect}, {Side: B, Data: established}, {Side: A, Data: getA}, {Side: B, Data: ok5}})
	expect(t, r, fmt.Sprintf("CONNECT db.internal:5432 -> 200 Connection Established req=%d+0 resp=%d+0 client=A", len(connect), len(established)))

	// A refused CONNECT stays HTTP.
	refused := "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
	r = run(t, http.Limits{}, []chunk{{Side: A, Data: connect}, {Side: B, Data: refused}, {Side: A, Data: getA}, {Side: B, Data: ok5}})
	expect(t, r,
		fmt.Sprintf("CONNECT db.internal:5432 -> 403 Forbidden req=%d+0 resp=%d+0 client=A", len(connect), len(refused)),
		fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
	)
}

func TestUntilClose(t *testing.T) {
	http10 := "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
	r := run(t, http.Limits{}, []chunk{
		{Side: A, Data: "GET / HTTP/1.0\r\n\r\n"}, {Side: B, Data: http10 + "part one, "}, {Side: B, Data: "part two"},
	})
	expect(t, r, fmt.Sprintf("GET / -> 200 OK req=18+0 resp=%d+18 client=A", len(http10)))
	if r.Entries[0].HTTP.Version != "HTTP/1.0" {
		t.Errorf("version %q", r.Entries[0].HTTP.Version)
	}

	closing := "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
	r = run(t, http.Limits{}, []chunk{{Side: A, Data: getA}, {Side: B, Data: closing + "everything until FIN"}})
	expect(t, r, fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+20 client=A", len(getA), len(closing)))
}

func TestMissingHalves(t *testing.T) {
	// Requests without a response are emitted at Close, in order.
	r := run(t, http.Limits{}, []chunk{{Side: A, Data: getA}, {Side: B, Data: ok5}, {Side: A, Data: getB + post7}})
	expect(t, r,
		fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
		fmt.Sprintf("GET /b -> - req=%d+0 client=A !no_response", len(getB)),
		fmt.Sprintf("POST /form -> - req=%d+7 client=A !no_response", hsize(post7)),
	)
	if r.Entries[1].Elapsed != 0 || !r.Entries[1].Timestamp.Equal(dissecttest.At(len(getA)+len(ok5))) {
		t.Errorf("unanswered request: elapsed %v timestamp %v", r.Entries[1].Elapsed, r.Entries[1].Timestamp)
	}
}

func TestMidStream(t *testing.T) {
	// The capture starts inside a response body (B) and inside a request body (A):
	// the parser skips to the next start line; the first response has no request.
	// The client is the side that did not send the response.
	r := run(t, http.Limits{}, []chunk{
		{Side: B, Data: "tail of a body\r\nmore tail\r\n" + ok5},
		{Side: A, Data: "=2&c=3\r\n" + getB},
		{Side: B, Data: nf0},
	})
	expect(t, r,
		fmt.Sprintf("- -> 200 OK resp=%d+5 client=A !no_request", hsize(ok5)),
		fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
	)
	e := r.Entries[0]
	if !e.Timestamp.Equal(dissecttest.At(len("tail of a body\r\nmore tail\r\n"))) || e.Elapsed != 0 || e.Interface != dissecttest.Iface(B) {
		t.Errorf("orphan response: timestamp %v elapsed %v interface %d", e.Timestamp, e.Elapsed, e.Interface)
	}
	if e.HTTP.Version != "HTTP/1.1" {
		t.Errorf("orphan response version %q", e.HTTP.Version)
	}
	// A response seen before any request was sent cannot answer a later request.
	r = run(t, http.Limits{}, []chunk{{Side: B, Data: ok5[:20]}, {Side: A, Data: getA}, {Side: B, Data: ok5[20:]}, {Side: B, Data: nf0}})
	expect(t, r,
		fmt.Sprintf("- -> 200 OK resp=%d+5 client=A !no_request", hsize(ok5)),
		fmt.Sprintf("GET /a -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getA), len(nf0)),
	)
}

func TestGaps(t *testing.T) {
	t.Run("response headers cut", func(t *testing.T) {
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: getA}, {Side: B, Data: "HTTP/1.1 200 OK\r\nContent-Le"},
			{Side: B, Data: "ngth: 5\r\n\r\nhello", Skipped: 40}, // lost: the rest of the response
			{Side: A, Data: getB}, {Side: B, Data: nf0},
		})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=27+0 client=A !truncated", len(getA)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
	})
	t.Run("request headers cut", func(t *testing.T) {
		// The request line survived: its response still pairs with it.
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: "GET /a HTTP/1.1\r\nHo"}, {Side: A, Data: "garbage\r\n\r\n", Skipped: -1},
			{Side: B, Data: ok5}, {Side: A, Data: getB}, {Side: B, Data: nf0},
		})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=19+0 resp=%d+5 client=A !truncated", hsize(ok5)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
		if m := r.Entries[0].ErrorMessage; m != "request headers cut by a capture gap" {
			t.Errorf("message %q", m)
		}
	})
	t.Run("known gap inside a body keeps the framing", func(t *testing.T) {
		big := "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: getA}, {Side: B, Data: big + strings.Repeat("x", 30)},
			{Side: B, Data: strings.Repeat("y", 20), Skipped: 50}, // 50 bytes lost, 20 seen: body complete
			{Side: A, Data: "FOO /custom HTTP/1.1\r\n\r\n"}, {Side: B, Data: nf0},
		})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+100 client=A !gap", len(getA), len(big)),
			// Still in sync: an unknown method is accepted between clean messages.
			fmt.Sprintf("FOO /custom -> 404 Not Found req=24+0 resp=%d+0 client=A", len(nf0)),
		)
		if m := r.Entries[0].ErrorMessage; m != "50 body bytes not captured" {
			t.Errorf("message %q", m)
		}
	})
	t.Run("unknown gap inside a chunked body", func(t *testing.T) {
		ch := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789"
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: getA}, {Side: B, Data: ch},
			{Side: B, Data: "89abcdef\r\n0\r\n\r\n" + nf0, Skipped: -1}, // resync at the status line
			{Side: A, Data: getB},
		})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+10 client=A !truncated", len(getA), hsize(ch)),
			// The 404 began before GET /b was sent: it answers no request we know.
			fmt.Sprintf("- -> 404 Not Found resp=%d+0 client=A !no_request", len(nf0)),
			fmt.Sprintf("GET /b -> - req=%d+0 client=A !no_response", len(getB)),
		)
	})
	t.Run("whole response lost", func(t *testing.T) {
		// Non-pipelined: /a's response fell into a gap; the next response answers
		// /b, the newest request that began before it.
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: getA}, {Side: A, Data: getB}, {Side: B, Data: nf0, Skipped: len(ok5)},
		})
		expect(t, r,
			fmt.Sprintf("GET /a -> - req=%d+0 client=A !no_response", len(getA)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
	})
	t.Run("whole request lost", func(t *testing.T) {
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: ""}, {Side: B, Data: ok5}, {Side: A, Data: getB, Skipped: len(getA)}, {Side: B, Data: nf0},
		})
		expect(t, r,
			fmt.Sprintf("- -> 200 OK resp=%d+5 client=A !no_request", hsize(ok5)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
	})
	t.Run("gap at a message boundary", func(t *testing.T) {
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: getA}, {Side: B, Data: ok5}, {Side: A, Data: getB, Skipped: len(getC)}, {Side: B, Data: nf0, Skipped: len(ok5)},
		})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
	})
	t.Run("resync ignores unknown methods", func(t *testing.T) {
		r := run(t, http.Limits{}, []chunk{
			{Side: A, Data: "xx\r\nFOO /x HTTP/1.1\r\n\r\n" + getA, Skipped: -1}, {Side: B, Data: ok5},
		})
		expect(t, r, fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)))
	})
}

func TestLimits(t *testing.T) {
	t.Run("header block", func(t *testing.T) {
		huge := "GET /big HTTP/1.1\r\nX-Pad: " + strings.Repeat("p", 300) + "\r\n\r\n"
		r := run(t, http.Limits{MaxHeaderBytes: 256}, []chunk{
			{Side: A, Data: huge}, {Side: B, Data: nf0}, {Side: A, Data: getA}, {Side: B, Data: ok5},
		})
		expect(t, r,
			fmt.Sprintf("GET /big -> 404 Not Found req=256+0 resp=%d+0 client=A !too_large", len(nf0)),
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
		)
	})
	t.Run("pending requests", func(t *testing.T) {
		var chunks []chunk
		for i := 0; i < 10; i++ {
			chunks = append(chunks, chunk{Side: A, Data: fmt.Sprintf("GET /%d HTTP/1.1\r\n\r\n", i)})
		}
		var order []string
		p := http.NewParser(func(e *dissect.Entry, _ dissect.Side) {
			order = append(order, e.HTTP.URL)
		}, http.Limits{MaxPending: 4})
		for i, c := range chunks {
			p.Feed(dissect.Chunk{Side: c.Side, Data: []byte(c.Data), Time: func(int) time.Time { return dissecttest.At(i) }})
			if want := max(0, i+1-4); len(order) != want {
				t.Errorf("after %d requests, %d emitted; want %d", i+1, len(order), want)
			}
		}
		p.Close(dissecttest.At(10))
		if got := strings.Join(order, " "); got != "/0 /1 /2 /3 /4 /5 /6 /7 /8 /9" {
			t.Errorf("emission order %s", got)
		}
	})
}

func TestMalformed(t *testing.T) {
	t.Run("bad Content-Length in a response", func(t *testing.T) {
		bad := "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: getA}, {Side: B, Data: bad + "abcdefgh"}})
		expect(t, r, fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+8 client=A !malformed", len(getA), len(bad)))
	})
	t.Run("equal repeated Content-Length", func(t *testing.T) {
		dup := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: getA}, {Side: B, Data: dup}, {Side: A, Data: getB}, {Side: B, Data: nf0}})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(dup)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
	})
	t.Run("bad chunk size", func(t *testing.T) {
		ch := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: getA}, {Side: A, Data: getB}, {Side: B, Data: ch + "zz\r\n" + nf0}})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+0 client=A !malformed", len(getA), len(ch)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
	})
	t.Run("chunk without CRLF", func(t *testing.T) {
		ch := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: getA}, {Side: A, Data: getB}, {Side: B, Data: ch + "3\r\nabcX" + nf0}})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+3 client=A !malformed", len(getA), len(ch)),
			// "X" + the status line is no start line; the 404 is skipped.
			fmt.Sprintf("GET /b -> - req=%d+0 client=A !no_response", len(getB)),
		)
	})
	t.Run("request with a bad Transfer-Encoding", func(t *testing.T) {
		req := "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"
		resp := "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: req + "data"}, {Side: B, Data: resp}})
		expect(t, r, fmt.Sprintf("POST /x -> 400 Bad Request req=%d+4 resp=%d+0 client=A !malformed", len(req), len(resp)))
	})
	t.Run("garbage between messages", func(t *testing.T) {
		r := run(t, http.Limits{}, []chunk{{Side: A, Data: getA}, {Side: B, Data: ok5 + "junk\r\n"}, {Side: A, Data: getB}, {Side: B, Data: nf0}})
		expect(t, r,
			fmt.Sprintf("GET /a -> 200 OK req=%d+0 resp=%d+5 client=A", len(getA), hsize(ok5)),
			fmt.Sprintf("GET /b -> 404 Not Found req=%d+0 resp=%d+0 client=A", len(getB), len(nf0)),
		)
	})
}

// richScript exercises most of the parser: keep-alive, pipelining, chunked bodies
// with trailers, HEAD, 100 Continue, a gap, and a protocol switch.
func richScript() []chunk {
	put := "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n"
	return []chunk{
		{Side: A, Data: getA + "HEAD /h HTTP/1.1\r\n\r\n"},
		{Side: B, Data: ok5 + "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"},
		{Side: A, Data: put}, {Side: B, Data: "HTTP/1.1 100 Continue\r\n\r\n"}, {Side: A, Data: "abc"},
		{Side: B, Data: "HTTP/1.1 201 Created\r\nSet-Cookie: a=b\r\nContent-Length: 2\r\n\r\nok"},
		{Side: A, Data: post7 + getB}, {Side: B, Data: nf0 + chunked[:30]}, {Side: B, Data: chunked[30:]},
		{Side: A, Data: getC}, {Side: B, Data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"}, {Side: B, Data: "89", Skipped: 3},
		{Side: A, Data: "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"},
		{Side: B, Data: "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x01x"},
		{Side: A, Data: "\x81\x81mask"},
	}
}

// TestFragmentation feeds the same bytes split at every possible position (and one
// byte at a time): the entries must be identical.
func TestFragmentation(t *testing.T) {
	script := richScript()
	want := run(t, http.Limits{}, script)
	if len(want.Entries) != 7 {
		t.Fatalf("rich script: %d entries:\n%s", len(want.Entries), strings.Join(want.describe(), "\n"))
	}
	wantC := want.Canonical(t)
	if got := run(t, http.Limits{}, dissecttest.Resplit(script, 1)).Canonical(t); got != wantC {
		t.Errorf("byte-at-a-time differs:\n got %s\nwant %s", got, wantC)
	}
	dissecttest.EachSplit(script, func(i, k int, split []chunk) {
		if got := run(t, http.Limits{}, split).Canonical(t); got != wantC {
			t.Fatalf("split of chunk %d at %d differs:\n got %s\nwant %s", i, k, got, wantC)
		}
	})
}
