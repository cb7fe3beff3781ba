package target_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/target"
)

// sameNetns fails unless f is the namespace at path.
func sameNetns(t *testing.T, f *os.File, path string) {
	t.Helper()
	var a, b syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(path, &b); err != nil {
		t.Fatal(err)
	}
	if a.Dev != b.Dev || a.Ino != b.Ino {
		t.Errorf("resolved netns is inode %d, want %s (inode %d)", a.Ino, path, b.Ino)
	}
}

func TestResolvePIDAndPath(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t)
	sleeper := st.Start(t, ns.Command(t.Context(), "sh", "-c", "echo up >&2 && exec sleep 1000"))
	sleeper.WaitOutput(t, "up", 10*time.Second)

	tg, err := target.Resolve(t.Context(), target.Spec{PID: sleeper.PID()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	sameNetns(t, tg.Netns, ns.Path())
	if tg.PID != sleeper.PID() || tg.Source != target.SourcePID || tg.RootFS != filepath.Join("/proc", itoa(sleeper.PID()), "root") {
		t.Errorf("got %+v", tg)
	}

	tg2, err := target.Resolve(t.Context(), target.Spec{NetnsPath: ns.Path()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg2.Close()
	sameNetns(t, tg2.Netns, ns.Path())
	if tg2.PID != 0 || tg2.Source != target.SourceNetns || tg2.Description != "netns "+ns.Path() {
		t.Errorf("got %+v", tg2)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestNetnsOutlivesProcess checks that the Target pins the namespace: after
// its only process has exited, capture in it still works.
func TestNetnsOutlivesProcess(t *testing.T) {
	st.RequireRoot(t)
	p := st.Start(t, exec.Command("unshare", "--net", "sh", "-c", "ip link set lo up && echo up >&2 && exec sleep 1000"))
	p.WaitOutput(t, "up", 10*time.Second)
	tg, err := target.Resolve(t.Context(), target.Spec{PID: p.PID()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	p.Stop(os.Kill)
	if _, err := os.Stat(filepath.Join("/proc", itoa(p.PID()))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("process still exists: %v", err)
	}

	h, err := afpacket.Open(tg.Netns, afpacket.Config{BlockTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	marker := []byte("shark-pinned-netns")
	if err := sendUDP(tg.Netns, "127.0.0.1:9", marker); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		pkt, err := h.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(pkt.Data), string(marker)) {
			break
		}
	}
}

func TestResolveErrors(t *testing.T) {
	st.RequireRoot(t)
	ctx := t.Context()

	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(t.TempDir(), "not-a-netns")
	os.WriteFile(regular, []byte("x"), 0o644)
	missingSocket := filepath.Join(t.TempDir(), "containerd.sock")

	for _, tc := range []struct {
		name  string
		spec  target.Spec
		want  []error
		wantS []string
	}{
		{"nothing", target.Spec{}, []error{target.ErrInvalidSpec}, nil},
		{"two", target.Spec{PID: 1, NetnsPath: "/proc/1/ns/net"}, []error{target.ErrInvalidSpec}, nil},
		{"exited pid", target.Spec{PID: exited.Process.Pid}, []error{target.ErrProcessGone}, []string{"pid " + itoa(exited.Process.Pid)}},
		{"negative pid", target.Spec{PID: -4}, []error{target.ErrProcessGone}, nil},
		{"regular file", target.Spec{NetnsPath: regular}, []error{target.ErrNotNetns}, []string{regular, "not nsfs"}},
		{"mount namespace", target.Spec{NetnsPath: "/proc/self/ns/mnt"}, []error{target.ErrNotNetns}, nil},
		{"missing path", target.Spec{NetnsPath: regular + ".missing"}, []error{os.ErrNotExist}, nil},
		{"missing socket", target.Spec{ContainerID: "containerd://0123456789abcdef", RuntimeSocket: missingSocket},
			[]error{target.ErrRuntimeUnavailable, target.ErrContainerNotFound},
			[]string{missingSocket, "--runtime-socket", "/proc/*/cgroup"}},
		{"other runtime", target.Spec{ContainerID: "cri-o://0123456789abcdef", RuntimeSocket: missingSocket},
			[]error{target.ErrContainerNotFound}, []string{`runtime "cri-o"`}},
		{"malformed id", target.Spec{ContainerID: "containerd://"}, []error{target.ErrContainerNotFound}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := target.Resolve(ctx, tc.spec)
			if err == nil {
				tg.Close()
				t.Fatalf("Resolve(%+v) succeeded", tc.spec)
			}
			t.Log(err)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q is not %q", err, w)
				}
			}
			for _, s := range tc.wantS {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestContainerd(t *testing.T) {
	st.RequireRoot(t)
	pair := st.NewPair(t)
	ctrd := st.StartContainerd(t)
	ctr := ctrd.RunContainer(t, pair.Server)
	taskPID := ctrd.TaskPID(t, ctr.ID)

	t.Run("containerd", func(t *testing.T) {
		tg, err := target.Resolve(t.Context(), target.Spec{ContainerID: "containerd://" + ctr.ID, RuntimeSocket: ctrd.Socket})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		t.Log(tg.Description)
		if tg.Source != target.SourceContainerd || tg.PID != taskPID || tg.ContainerID != ctr.ID {
			t.Errorf("got %+v, want containerd source, pid %d", tg, taskPID)
		}
		sameNetns(t, tg.Netns, pair.Server.Path())
		if _, err := os.Stat(filepath.Join(tg.RootFS, "tinyhttpd")); err != nil {
			t.Errorf("container root file system: %v", err)
		}
		captureHTTP(t, tg, pair)
	})

	t.Run("cgroup fallback", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "containerd.sock")
		tg, err := target.Resolve(t.Context(), target.Spec{ContainerID: ctr.ID, RuntimeSocket: missing})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		t.Log(tg.Description)
		if tg.Source != target.SourceCgroup || tg.PID != taskPID {
			t.Errorf("got %+v, want cgroup source, pid %d", tg, taskPID)
		}
		sameNetns(t, tg.Netns, pair.Server.Path())
		captureHTTP(t, tg, pair)
	})

	t.Run("unknown id", func(t *testing.T) {
		_, err := target.Resolve(t.Context(), target.Spec{ContainerID: strings.Repeat("ab", 32), RuntimeSocket: ctrd.Socket, RuntimeNamespace: "k8s.io"})
		t.Log(err)
		if !errors.Is(err, target.ErrContainerNotFound) || errors.Is(err, target.ErrRuntimeUnavailable) {
			t.Errorf("got %v, want only ErrContainerNotFound", err)
		}
		for _, s := range []string{ctrd.Socket, "namespace k8s.io", "/proc/*/cgroup"} {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("error %v does not mention %q", err, s)
			}
		}
	})

	t.Run("other namespace", func(t *testing.T) {
		// The runtime does not know it there; the cgroup scan still finds it.
		tg, err := target.Resolve(t.Context(), target.Spec{ContainerID: ctr.ID, RuntimeSocket: ctrd.Socket, RuntimeNamespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		if tg.Source != target.SourceCgroup || tg.PID != taskPID {
			t.Errorf("got %+v", tg)
		}
	})
}

// captureHTTP requests the container's server from the client namespace and
// checks that a capture in the resolved namespace sees the response.
func captureHTTP(t *testing.T, tg *target.Target, pair *st.Pair) {
	t.Helper()
	h, err := afpacket.Open(tg.Netns, afpacket.Config{BlockTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		for {
			p, err := h.Next(ctx)
			if err != nil {
				got <- err
				return
			}
			if strings.Contains(string(p.Data), st.ContainerBody) {
				if p.Direction != afpacket.DirectionOutgoing {
					got <- errors.New("response is not outgoing")
				}
				got <- nil
				return
			}
		}
	}()
	if body := pair.Client.Run(t, "curl", "-sS", "http://"+st.ServerIP+"/"); body != st.ContainerBody {
		t.Fatalf("curl: %q", body)
	}
	if err := <-got; err != nil {
		t.Fatalf("capturing the container's response: %v", err)
	}
}
