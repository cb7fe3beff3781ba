package http

import (
	"net/url"
	"strings"
)

// commonNames are the lower-case spellings of frequent header names: lower-casing
// "Content-Type" returns one of them rather than allocating.
var commonNames = []string{
	"accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
	"access-control-allow-credentials", "access-control-allow-headers",
	"access-control-allow-methods", "access-control-allow-origin",
	"access-control-request-headers", "access-control-request-method", "age", "allow",
	"authorization", "cache-control", "connection", "content-disposition",
	"content-encoding", "content-language", "content-length", "content-location",
	"content-range", "content-security-policy", "content-type", "cookie", "date", "etag",
	"expect", "expires", "forwarded", "host", "if-match", "if-modified-since",
	"if-none-match", "if-range", "if-unmodified-since", "keep-alive", "last-modified",
	"link", "location", "origin", "pragma", "proxy-authenticate", "proxy-authorization",
	"proxy-connection", "range", "referer", "retry-after", "sec-fetch-dest",
	"sec-fetch-mode", "sec-fetch-site", "sec-websocket-accept", "sec-websocket-key",
	"sec-websocket-version", "server", "set-cookie", "strict-transport-security", "te",
	"traceparent", "tracestate", "trailer", "transfer-encoding", "upgrade",
	"user-agent", "vary", "via", "www-authenticate", "x-content-type-options",
	"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-frame-options",
	"x-real-ip", "x-request-id", "x-b3-traceid", "x-b3-spanid", "x-envoy-upstream-service-time",
}

// nameTable holds commonNames in an open-addressing table indexed by nameSlot: a
// lookup costs a few byte reads and one comparison, no hashing of the whole name.
var nameTable = func() (t [256]string) {
	for _, n := range commonNames {
		i := nameSlot(n)
		for t[i] != "" {
			i++
		}
		t[i] = n
	}
	return t
}()

// nameSlot is the home slot of a non-empty lower-case name in nameTable.
func nameSlot[T string | []byte](n T) uint8 {
	l := len(n)
	return uint8(l*37 + int(n[0])*5 + int(n[l-1])*3 + int(n[l/2])*11)
}

// lowerName returns name in lower case, without allocating when it is already lower
// case or a common header name.
func lowerName(name string) string {
	upper := false
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return name
	}
	var buf [48]byte
	if len(name) > len(buf) {
		return strings.ToLower(name)
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	for i := nameSlot(b); nameTable[i] != ""; i++ {
		if nameTable[i] == string(b) {
			return nameTable[i]
		}
	}
	return string(b)
}

// trimOWS trims optional whitespace (spaces and tabs) around s.
func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// nextLine splits the first line off s; line excludes the LF and a CR before it.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		line, rest = s, ""
	} else {
		line, rest = s[:i], s[i+1:]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseFields adds the header (or trailer) fields of block to m, which is allocated
// when nil and returned. block holds complete lines; it stops at the first empty line.
// Names are lower-cased, values trimmed; repeated fields are joined with ", ";
// obsolete line folding is unfolded with one space; lines without a colon are
// ignored. Cookie pairs of Cookie (request) and Set-Cookie (response) fields are added
// to cookies, the first value of a name winning. Values are substrings of block.
func parseFields(block string, m map[string]string, cookies map[string]string) (map[string]string, map[string]string) {
	if m == nil && cookies == nil {
		if m, cookies, ok := parseNewFields(block); ok {
			return m, cookies
		}
	}
	return addFields(block, m, cookies)
}

// maxListedFields bounds the fields parseNewFields collects before building the map:
// it merges repeated names by comparing every pair.
const maxListedFields = 64

// parseNewFields is parseFields into a new map for the usual header block: the fields
// are listed first (on the stack), so that the map is allocated at its final size and
// each field costs one map assignment. ok is false, and nothing is returned, for a
// block with folded lines or more than maxListedFields fields.
func parseNewFields(block string) (m, cookies map[string]string, ok bool) {
	type field struct{ name, value string }
	var list [24]field
	fields := list[:0]
	for len(block) > 0 {
		var line string
		line, block = nextLine(block)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' || len(fields) == maxListedFields {
			return nil, nil, false
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := trimOWS(line[:colon])
		if name == "" {
			continue
		}
		name = lowerName(name)
		value := trimOWS(line[colon+1:])
		fields = append(fields, field{name, value})
		switch name {
		case "cookie":
			cookies = addCookies(cookies, value, false)
		case "set-cookie":
			cookies = addCookies(cookies, value, true)
		}
	}
	m = make(map[string]string, len(fields))
	for i := range fields {
		f := &fields[i]
		if f.name == "" {
			continue // merged into an earlier field of the same name
		}
		v := f.value
		for j := i + 1; j < len(fields); j++ {
			if fields[j].name == f.name {
				v += ", " + fields[j].value
				fields[j].name = ""
			}
		}
		m[f.name] = v
	}
	return m, cookies, true
}

// addFields is parseFields field by field, into m.
func addFields(block string, m map[string]string, cookies map[string]string) (map[string]string, map[string]string) {
	if m == nil {
		m = make(map[string]string, strings.Count(block, "\n"))
	}
	last := ""
	for len(block) > 0 {
		var line string
		line, block = nextLine(block)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: continuation of the previous field value.
			if v := trimOWS(line); last != "" && v != "" {
				if old := m[last]; old == "" {
					m[last] = v
				} else {
					m[last] = old + " " + v
				}
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			last = ""
			continue
		}
		name := trimOWS(line[:colon])
		if name == "" {
			last = ""
			continue
		}
		name = lowerName(name)
		value := trimOWS(line[colon+1:])
		if old, ok := m[name]; ok {
			m[name] = old + ", " + value
		} else {
			m[name] = value
		}
		last = name
		switch name {
		case "cookie":
			cookies = addCookies(cookies, value, false)
		case "set-cookie":
			cookies = addCookies(cookies, value, true)
		}
	}
	return m, cookies
}

// addCookies adds the cookie pairs of a Cookie value ("a=1; b=2"), or the first pair
// of a Set-Cookie value ("a=1; Path=/; HttpOnly"), to c. Values are kept as sent
// (quotes included); pairs without '=' or with an empty name are skipped.
func addCookies(c map[string]string, v string, set bool) map[string]string {
	for v != "" {
		var pair string
		if i := strings.IndexByte(v, ';'); i >= 0 {
			pair, v = v[:i], v[i+1:]
		} else {
			pair, v = v, ""
		}
		if eq := strings.IndexByte(pair, '='); eq > 0 {
			name := trimOWS(pair[:eq])
			if name != "" {
				if c == nil {
					c = make(map[string]string, 4)
				}
				if _, dup := c[name]; !dup {
					c[name] = trimOWS(pair[eq+1:])
				}
			}
		}
		if set {
			break
		}
	}
	return c
}

// splitTarget returns the path and the parsed query of a request target. The path is
// the target up to '?'; for an absolute-form target ("http://host/p?q", sent to
// proxies) the scheme and authority are removed. The query is parsed as
// url.ParseQuery does, keeping the first value of each name; it is nil when empty.
func splitTarget(target string) (path string, query map[string]string) {
	path, raw, _ := strings.Cut(target, "?")
	if i := strings.Index(path, "://"); i > 0 && isScheme(path[:i]) {
		rest := path[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = rest[j:]
		} else {
			path = "/"
		}
	}
	if raw == "" {
		return path, nil
	}
	return path, parseQuery(raw)
}

// parseQuery is url.ParseQuery keeping the first value of each name, without the
// intermediate url.Values: pairs that do not parse are skipped, the others kept.
// Names and values without escapes are substrings of raw.
func parseQuery(raw string) map[string]string {
	if strings.Count(raw, "&") >= 10000 {
		// Over net/url's parameter limit (which GODEBUG=urlmaxqueryparams may
		// change): let it decide.
		values, _ := url.ParseQuery(raw)
		if len(values) == 0 {
			return nil
		}
		m := make(map[string]string, len(values))
		for k, vs := range values {
			if len(vs) > 0 {
				m[k] = vs[0]
			}
		}
		return m
	}
	var m map[string]string
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			continue
		}
		if m == nil {
			m = make(map[string]string, strings.Count(raw, "&")+1)
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// maxContentLength bounds accepted Content-Length values (and chunk sizes): larger
// values are treated as malformed.
const maxContentLength = 1 << 62

// parseContentLength parses a Content-Length value. Repeated fields arrive joined
// ("42, 42"); they are valid only when all values are equal (RFC 9110 section 8.6).
func parseContentLength(v string) (int64, bool) {
	var n int64 = -1
	for v != "" {
		var part string
		if i := strings.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			part, v = v, ""
		}
		part = trimOWS(part)
		if part == "" {
			return 0, false
		}
		var x int64
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !isDigit(c) || x > (maxContentLength-9)/10 {
				return 0, false
			}
			x = x*10 + int64(c-'0')
		}
		if n >= 0 && x != n {
			return 0, false
		}
		n = x
	}
	return n, n >= 0
}

// chunkedLast reports whether the last transfer coding of a Transfer-Encoding value is
// "chunked".
func chunkedLast(v string) bool {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	v = trimOWS(v)
	if i := strings.IndexByte(v, ';'); i >= 0 { // transfer parameters
		v = trimOWS(v[:i])
	}
	return strings.EqualFold(v, "chunked")
}

// parseChunkSize parses a chunk-size line (without terminator): hex digits, optional
// whitespace and chunk extensions after ';'.
func parseChunkSize(line []byte) (int64, bool) {
	i := 0
	var n int64
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if n > (maxContentLength-15)/16 {
			return 0, false
		}
		n = n*16 + int64(d)
	}
rest:
	if i == 0 {
		return 0, false
	}
	for ; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t':
			continue
		case ';':
			return n, true
		}
		return 0, false
	}
	return n, true
}
