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
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 200<<10)
	rand.Read(big)
	files := map[string][]byte{
		"/shark-tls-1": []byte("first plaintext, recovered from SSL_write\n"),
		"/shark-tls-2": []byte("second plaintext\n"),
		"/big":         big,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(www, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cert, key := selfSigned(t)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_max_body_size 16m;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	default_type application/octet-stream;
	server {
		listen 443 ssl;
		ssl_certificate %[3]s;
		ssl_certificate_key %[4]s;
		root %[2]s;
	}
}
`, dir, www, certPath, keyPath)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs nginx, so the PID is nginx's own.
	p := Start(t, ns.Command(t.Context(), "nginx", "-c", confPath, "-e", filepath.Join(dir, "error.log")))
	WaitListening(t, ns, "127.0.0.1:443", p)
	return &Nginx{Process: p, Files: files}
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
