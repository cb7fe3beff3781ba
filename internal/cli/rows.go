package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rowWriter turns NDJSON entries (KFL variable names as keys, as sniffers send them)
// into table rows, one line per entry, as they arrive: fixed-width columns, because
// a followed stream cannot be aligned after the fact.
type rowWriter struct {
	out    io.Writer
	wide   bool
	mu     sync.Mutex
	buf    []byte
	header bool
}

func (w *rowWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := w.buf[:i]
		if len(bytes.TrimSpace(line)) > 0 {
			m := map[string]any{}
			if err := json.Unmarshal(line, &m); err == nil {
				if err := w.row(m); err != nil {
					return 0, err
				}
			}
		}
		w.buf = w.buf[i+1:]
	}
}

func (w *rowWriter) row(m map[string]any) error {
	if !w.header {
		w.header = true
		if w.wide {
			fmt.Fprintf(w.out, "%-6s %-16s %-26s %-6s %-40s %-40s %-50s %-24s %s\n", "ID", "STREAM", "TIME", "PROTO", "SRC", "DST", "REQUEST", "STATUS", "ELAPSED")
		} else {
			fmt.Fprintf(w.out, "%-15s %-6s %-30s %-30s %-44s %-16s %s\n", "TIME", "PROTO", "SRC", "DST", "REQUEST", "STATUS", "ELAPSED")
		}
	}
	ts, _ := time.Parse(time.RFC3339Nano, str(m["timestamp"]))
	src := endpoint(m, "src", w.wide)
	dst := endpoint(m, "dst", w.wide)
	req, status := describeJSON(m)
	elapsed := "-"
	if us := num(m["elapsed_time"]); us > 0 {
		elapsed = formatElapsed(time.Duration(us) * time.Microsecond)
	}
	var err error
	if w.wide {
		_, err = fmt.Fprintf(w.out, "%-6d %-16s %-26s %-6s %-40s %-40s %-50s %-24s %s\n", num(m["id"]), str(m["stream"]),
			ts.UTC().Format("2006-01-02T15:04:05.000000Z"), str(m["protocol"]), src, dst, printable(req), printable(status), elapsed)
	} else {
		_, err = fmt.Fprintf(w.out, "%-15s %-6s %-30s %-30s %-44s %-16s %s\n", ts.Local().Format("15:04:05.000000"), str(m["protocol"]),
			truncate(src, 30), truncate(dst, 30), truncate(printable(req), 44), truncate(printable(status), 16), elapsed)
	}
	return err
}

// endpoint renders the pod (or service) name when known, else "ip:port"; wide adds
// the address to the name.
func endpoint(m map[string]any, side string, wide bool) string {
	addr := str(m[side+".ip"])
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	addr += ":" + strconv.Itoa(num(m[side+".port"]))
	name := str(m[side+".pod.name"])
	if name == "" && str(m[side+".service.name"]) != "" {
		name = "svc/" + str(m[side+".service.name"])
	}
	switch {
	case name == "":
		return addr
	case wide:
		return name + " (" + addr + ")"
	}
	return name
}

func describeJSON(m map[string]any) (req, status string) {
	switch str(m["protocol"]) {
	case "HTTP":
		req, status = "-", "-"
		if meth := str(m["method"]); meth != "" {
			req = meth + " " + str(m["url"])
		}
		if c := num(m["status_code"]); c != 0 {
			status = strconv.Itoa(c)
		}
	case "DNS":
		var qs []string
		types := list(m["dns_question_types"])
		for i, q := range list(m["dns_questions"]) {
			if i < len(types) {
				q = types[i] + " " + q
			}
			qs = append(qs, q)
		}
		req, status = strings.Join(qs, ", "), "-"
		if b, _ := m["dns_response"].(bool); b {
			status = rcodeName(num(m["status_code"]))
			if a := list(m["dns_answers"]); len(a) > 0 {
				status += " " + strings.Join(a, ",")
			}
		}
	case "REDIS":
		req, status = orDash(str(m["redis_command"])), "-"
		if n := num(m["redis_response_size"]); n > 0 {
			status = fmt.Sprintf("%d B reply", n)
		}
	case "TLS":
		req, status = describeTLS(m)
	default:
		if b, _ := m["conn"].(bool); b {
			req = fmt.Sprintf("%d pkts %s ->, %d pkts %s <-", num(m["conn_local_pkts"]), formatBytes(num(m["conn_local_bytes"])),
				num(m["conn_remote_pkts"]), formatBytes(num(m["conn_remote_bytes"])))
			status = str(m["conn_state"])
			if l := list(m["conn_l7_detected"]); len(l) > 0 {
				status += " " + strings.Join(l, ",")
			}
		}
	}
	return req, status
}

// describeTLS renders a TLS handshake from tls_summary and the parts of tls_info
// (see kfl's tls_info: the version and cipher suite, then "SNI=...", "ALPN=...",
// "ALPN offered=...", "alert=..." parts), as describe does from the entry itself.
func describeTLS(m map[string]any) (req, status string) {
	req, status = orDash(str(m["tls_summary"])), "-"
	var plain []string
	alert, alpn := "", ""
	for _, part := range strings.Split(str(m["tls_info"]), ", ") {
		switch {
		case strings.HasPrefix(part, "SNI="):
			req += " " + part[len("SNI="):]
		case strings.HasPrefix(part, "ALPN="):
			alpn = part[len("ALPN="):]
		case strings.HasPrefix(part, "alert="):
			alert = part[len("alert="):]
		case part != "" && !strings.Contains(part, "="):
			plain = append(plain, part)
		}
	}
	switch {
	case len(plain) >= 2: // a cipher suite: a ServerHello was seen
		status = strings.Join(append(plain, nonEmpty(alpn)...), " ")
	case alert != "":
		status = "alert " + alert
	}
	return req, status
}

func rcodeName(c int) string {
	names := []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}
	if c >= 0 && c < len(names) {
		return names[c]
	}
	return "RCODE" + strconv.Itoa(c)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func list(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// printable escapes control characters so captured bytes cannot drive the terminal.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// nonEmpty returns the non-empty strings of ss.
func nonEmpty(ss ...string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func formatElapsed(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}

func formatBytes(n int) string {
	const unit = 1024
	if n < unit {
		return strconv.Itoa(n) + " B"
	}
	div, exp := unit, 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
