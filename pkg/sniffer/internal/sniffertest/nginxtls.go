package sniffertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartNginxTLS runs nginx (Debian's nginx-light, linked to OpenSSL's
// libssl3) in the foreground inside ns, serving HTTPS on port 443 with a
// self-signed certificate made here for ServerIP. It serves /shark-tls-1 and
// /shark-tls-2 (short texts) and /big (200 KiB of random bytes); other paths
// are 404, request bodies up to 16 MiB are read. It waits until nginx accepts
// connections.
func StartNginxTLS(t testing.TB, ns Netns) *Nginx {
	t.Helper()
	dir := t.TempDir()
	cert, key := selfSigned(t)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return startNginx(t, ns, dir, nginxSite{
		files: map[string][]byte{
			"/shark-tls-1": []byte("first plaintext, recovered from SSL_write\n"),
			"/shark-tls-2": []byte("second plaintext\n"),
		},
		http:   "client_max_body_size 16m;",
		server: fmt.Sprintf("listen 443 ssl;\n\t\tssl_certificate %s;\n\t\tssl_certificate_key %s;", certPath, keyPath),
		addr:   "127.0.0.1:443",
	})
}

// selfSigned returns a PEM certificate and key for ServerIP, valid for a day.
func selfSigned(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kubectl-shark test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ServerIP)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
