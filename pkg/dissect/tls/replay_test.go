package tls

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

func TestReplay(t *testing.T) {
	entries, stats := dissecttest.ReplayTCP(t, "testdata/tls.pcapng", Dissector)
	dissecttest.CheckGolden(t, "testdata/tls.golden.json", dissecttest.GoldenJSON(t, entries, false))
	if stats.ProbeGiveUps != 0 || stats.TCPStreams != 11 {
		t.Errorf("%d TCP streams, %d not recognised", stats.TCPStreams, stats.ProbeGiveUps)
	}
	streams := map[dissect.StreamID]bool{}
	for _, e := range entries {
		checkEntry(t, e)
		if streams[e.Stream] {
			t.Errorf("stream %d: several entries", e.Stream)
		}
		streams[e.Stream] = true
		if e.Src.IP.String() != "198.19.43.2" || e.Dst.IP.String() != "198.19.43.1" {
			t.Errorf("entry %d: %v → %v, the client should be the source", e.ID, e.Src, e.Dst)
		}
		if e.Elapsed <= 0 && e.ErrorType == "" {
			t.Errorf("entry %d: elapsed %v", e.ID, e.Elapsed)
		}
	}
	if len(entries) != 11 {
		t.Errorf("%d entries, want one per stream (11)", len(entries))
	}
}

// tsharkRow is one frame of testdata/tls.tshark.tsv: the hellos and plaintext alerts
// tshark 4.0 decoded.
type tsharkRow map[string]string

func (r tsharkRow) list(field string) []string {
	if r[field] == "" {
		return nil
	}
	return strings.Split(r[field], ",")
}

func readTshark(t *testing.T, path string) []tsharkRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading tshark golden (testdata/gen.sh writes it): %v", err)
	}
	var header []string
	var rows []tsharkRow
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if header == nil {
			header = fields
			continue
		}
		if len(fields) != len(header) {
			t.Fatalf("tshark golden: %d fields in %q, want %d", len(fields), line, len(header))
		}
		row := tsharkRow{}
		for i, h := range header {
			row[h] = fields[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// hexVersion names a tshark version value ("0x0303").
func hexVersion(t *testing.T, s string) uint16 {
	t.Helper()
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		t.Fatalf("tshark version %q: %v", s, err)
	}
	return uint16(v)
}

// TestReplayTshark compares the entries of tls.pcapng with tshark's reading of the
// same capture: per TCP stream, the first ClientHello's SNI, offered versions, ALPN
// list and cipher suite count, the last ServerHello's version, cipher suite and ALPN,
// and the plaintext alerts.
func TestReplayTshark(t *testing.T) {
	entries, _ := dissecttest.ReplayTCP(t, "testdata/tls.pcapng", Dissector)
	byStream := map[int]*dissect.Entry{}
	for _, e := range entries {
		byStream[int(e.Stream)-1] = e // tcp.stream counts from 0
	}
	type handshake struct{ ch, sh, alert tsharkRow }
	hs := map[int]*handshake{}
	for _, r := range readTshark(t, "testdata/tls.tshark.tsv") {
		n, err := strconv.Atoi(r["tcp.stream"])
		if err != nil {
			t.Fatalf("tcp.stream %q", r["tcp.stream"])
		}
		if hs[n] == nil {
			hs[n] = &handshake{}
		}
		h := hs[n]
		types := r.list("tls.handshake.type")
		switch {
		case slices.Contains(types, "1") && h.ch == nil:
			h.ch = r
		case slices.Contains(types, "2"):
			h.sh = r // the last one: after a HelloRetryRequest, the real ServerHello
		case r["tls.alert_message.desc"] != "" && h.sh == nil:
			h.alert = r
		}
	}
	if len(hs) != 11 {
		t.Fatalf("tshark saw %d streams, want 11", len(hs))
	}
	compared := 0
	for n, h := range hs {
		e := byStream[n]
		if e == nil || e.TLS == nil {
			t.Errorf("stream %d: no TLS entry", n)
			continue
		}
		tl := e.TLS
		check := func(what, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("stream %d (%s) %s: %q, tshark %q", n, tl.SNI, what, got, want)
			}
			compared++
		}
		if h.ch == nil {
			t.Errorf("stream %d: tshark saw no ClientHello", n)
			continue
		}
		check("SNI", tl.SNI, h.ch["tls.handshake.extensions_server_name"])
		offered := hexVersion(t, h.ch["tls.handshake.version"])
		if sv := h.ch.list("tls.handshake.extensions.supported_version"); len(sv) > 0 {
			offered = hexVersion(t, sv[0]) // highest first, as clients send them (no GREASE here)
		}
		check("offered version", tl.ClientVersion, versionName(offered))
		alpn := h.ch.list("tls.handshake.extensions_alpn_str")
		check("ALPN offered", strings.Join(tl.ClientALPN, ","), strings.Join(alpn[:min(len(alpn), maxALPN)], ","))
		suitesLen, _ := strconv.Atoi(h.ch["tls.handshake.cipher_suites_length"])
		check("cipher suites", strconv.Itoa(tl.CipherSuites), strconv.Itoa(suitesLen/2))
		check("cipher suites listed", strconv.Itoa(tl.CipherSuites), strconv.Itoa(len(h.ch.list("tls.handshake.ciphersuite"))))
		switch {
		case h.sh != nil:
			version := hexVersion(t, h.sh["tls.handshake.version"])
			if sv := h.sh["tls.handshake.extensions.supported_version"]; sv != "" {
				version = hexVersion(t, sv)
			}
			check("version", tl.Version, versionName(version))
			suite := hexVersion(t, h.sh["tls.handshake.ciphersuite"])
			check("cipher suite", "0x"+strconv.FormatUint(uint64(tl.CipherSuite), 16), "0x"+strconv.FormatUint(uint64(suite), 16))
			check("cipher", tl.Cipher, cipherSuiteName(suite))
			check("ALPN", tl.ALPN, h.sh["tls.handshake.extensions_alpn_str"])
			check("has response", strconv.FormatBool(tl.HasResponse), "true")
		case h.alert != nil:
			desc, _ := strconv.Atoi(h.alert["tls.alert_message.desc"])
			check("alert", tl.Alert, alertName(byte(desc)))
			check("error", e.ErrorType, ErrorAlert)
		default:
			t.Errorf("stream %d: tshark saw neither ServerHello nor alert", n)
		}
	}
	if compared < 80 {
		t.Errorf("only %d fields compared", compared)
	}
	t.Logf("%d entries; %d fields agree with tshark", len(entries), compared)
}
