package sniffertest

import (
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// Nginx is an nginx serving Files on port 80 and 8080 of a namespace.
type Nginx struct {
	*Process
	// Files maps URL paths to their content.
	Files map[string][]byte
}

// StartNginx runs nginx (Debian's nginx-light) in the foreground inside ns,
// serving /small (13 bytes) and /big (200 KiB of random bytes), and waits
// until it accepts connections.
func StartNginx(t testing.TB, ns Netns) *Nginx {
	t.Helper()
	return startNginx(t, ns, t.TempDir(), nginxSite{
		files:  map[string][]byte{"/small": []byte("hello, shark\n")},
		server: "listen 80;\n\t\tlisten 8080;",
		addr:   "127.0.0.1:80",
	})
}

// nginxSite is what an nginx of startNginx serves.
type nginxSite struct {
	files  map[string][]byte // besides /big
	http   string            // directives for the http block
	server string            // directives for the server block, listen included
	addr   string            // where to wait for nginx to accept connections
}

// startNginx runs nginx in the foreground inside ns, with its files,
// configuration and logs in dir, serving site's files and /big (200 KiB of
// random bytes), and waits until it accepts connections on site.addr.
func startNginx(t testing.TB, ns Netns, dir string, site nginxSite) *Nginx {
	t.Helper()
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 200<<10)
	rand.Read(big)
	files := map[string][]byte{"/big": big}
	for name, data := range site.files {
		files[name] = data
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(www, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
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
	%[3]s
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	default_type application/octet-stream;
	server {
		%[4]s
		root %[2]s;
	}
}
`, dir, www, site.http, site.server)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs nginx, so the PID is nginx's own.
	p := Start(t, ns.Command(t.Context(), "nginx", "-c", confPath, "-e", filepath.Join(dir, "error.log")))
	WaitListening(t, ns, site.addr, p)
	return &Nginx{Process: p, Files: files}
}

// WaitListening waits until addr accepts TCP connections inside ns (dialled
// from inside ns, over lo when addr is a loopback address).
func WaitListening(t testing.TB, ns Netns, addr string, p *Process) {
	t.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := netns.Do(f, func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return
		}
		if p != nil {
			select {
			case <-p.Done():
				t.Fatalf("%s exited: %v\n%s", p.Cmd, p.err, p.Stderr)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s in %s: %v", addr, ns.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
