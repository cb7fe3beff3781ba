package tls

import (
	cryptotls "crypto/tls"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCipherSuiteNames checks the table against two independent lists: Go's
// crypto/tls names, and Wireshark's (testdata/ciphersuites.tshark.tsv, written by
// gen.sh from `tshark -G values`), which must name every suite of the table alike.
func TestCipherSuiteNames(t *testing.T) {
	for _, s := range append(cryptotls.CipherSuites(), cryptotls.InsecureCipherSuites()...) {
		if got := cipherSuiteName(s.ID); got != s.Name {
			t.Errorf("cipherSuiteName(%#04x) = %q, crypto/tls says %q", s.ID, got, s.Name)
		}
	}
	b, err := os.ReadFile("testdata/ciphersuites.tshark.tsv")
	if err != nil {
		t.Fatalf("reading the tshark list (testdata/gen.sh writes it): %v", err)
	}
	wireshark := map[uint16]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		code, name, ok := strings.Cut(line, "\t")
		v, err := strconv.ParseUint(code, 0, 16)
		if !ok || err != nil {
			t.Fatalf("bad line %q", line)
		}
		wireshark[uint16(v)] = name
	}
	if len(wireshark) < 400 {
		t.Fatalf("only %d suites in the tshark list", len(wireshark))
	}
	for id, name := range cipherSuites {
		if wireshark[id] != name {
			t.Errorf("%#04x: %q, Wireshark says %q", id, name, wireshark[id])
		}
	}
	if len(cipherSuites) < 160 {
		t.Errorf("only %d named suites", len(cipherSuites))
	}
	for id, want := range map[uint16]string{0x1301: "TLS_AES_128_GCM_SHA256", 0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0x1306: "0x1306", 0x0a0a: "0x0A0A"} {
		if got := cipherSuiteName(id); got != want {
			t.Errorf("cipherSuiteName(%#04x) = %q, want %q", id, got, want)
		}
	}
}

func TestVersions(t *testing.T) {
	for v, want := range map[uint16]string{
		0x0002: "SSL 2.0", 0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
		0x0304: "TLS 1.3", 0x7f1c: "TLS 1.3 (draft 28)", 0x0a0a: "0x0a0a", 0xfefd: "0xfefd",
	} {
		if got := versionName(v); got != want {
			t.Errorf("versionName(%#04x) = %q, want %q", v, got, want)
		}
	}
	list := func(vs ...uint16) []byte {
		b := []byte{byte(2 * len(vs))}
		for _, v := range vs {
			b = append(b, byte(v>>8), byte(v))
		}
		return b
	}
	for _, tt := range []struct {
		list []byte
		want uint16
	}{
		{list(0x3a3a, 0x0304, 0x0303), 0x0304},
		{list(0x0302, 0x0303, 0x0301), 0x0303},
		{list(0x7f17, 0x0303), 0x7f17},
		{list(0x7f17, 0x0304), 0x0304},
		{list(0xdada), 0x0303},       // GREASE only: the legacy version
		{list(0xfefd), 0x0303},       // DTLS: no TLS version
		{[]byte{7, 3, 4, 3}, 0x0303}, // a list longer than the extension: ignored
		{nil, 0x0303},
	} {
		if got := maxSupported(tt.list, 0x0303); got != tt.want {
			t.Errorf("maxSupported(% x) = %#04x, want %#04x", tt.list, got, tt.want)
		}
	}
	for v, want := range map[uint16]bool{0x0a0a: true, 0xfafa: true, 0x1a1a: true, 0x0a1a: false, 0x0303: false, 0xaaaa: true} {
		if isGREASE(v) != want {
			t.Errorf("isGREASE(%#04x) = %v", v, !want)
		}
	}
	if alertName(70) != "protocol_version" || alertName(200) != "alert_200" {
		t.Errorf("alertName: %q, %q", alertName(70), alertName(200))
	}
}
