package target

import "testing"

func TestCgroupNamesContainer(t *testing.T) {
	const id = "8a6d0b4f2f9bf5c6a35c23e6a1f4c4cfd16f8c5e7e0d9d0a3f1e2b3c4d5e6f70"
	for _, tc := range []struct {
		name string
		file string
		want bool
	}{
		{"v1 cgroupfs", "12:memory:/kubepods/besteffort/pod0b4e7a3c-1c1a-4d5e-9f0a-0123456789ab/" + id + "\n11:cpu:/kubepods/besteffort/pod0b4e/" + id + "\n", true},
		{"v2 systemd", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b4e7a3c.slice/cri-containerd-" + id + ".scope\n", true},
		{"v2 cgroupfs", "0::/kubepods/burstable/pod0b4e7a3c/" + id + "\n", true},
		{"crio", "0::/kubepods.slice/crio-" + id + ".scope\n", true},
		{"docker", "0::/system.slice/docker-" + id + ".scope\n", true},
		{"ctr default", "4:memory:/k8s.io/" + id + "\n", true},
		{"cgroupns relative", "0::/../../kubepods/pod1/" + id + "\n", true},
		{"hybrid second line", "5:devices:/\n0::/kubepods/pod1/" + id + "\n", true},
		{"other container", "0::/kubepods/pod1/" + id[:63] + "1\n", false},
		{"prefix only", "0::/kubepods/pod1/" + id[:12] + "\n", false},
		{"id inside a longer name", "0::/kubepods/pod1/x" + id + "y\n", false},
		{"id in pod uid", "0::/kubepods/pod" + id + "/other\n", false},
		{"root", "0::/\n", false},
		{"garbage", "no colons here " + id + "\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cgroupNamesContainer([]byte(tc.file), id); got != tc.want {
				t.Errorf("cgroupNamesContainer(%q) = %v, want %v", tc.file, got, tc.want)
			}
		})
	}
}

func TestSplitContainerID(t *testing.T) {
	for in, want := range map[string][2]string{
		"containerd://abc": {"containerd", "abc"},
		"cri-o://abc":      {"cri-o", "abc"},
		"abc":              {"", "abc"},
	} {
		if s, id := splitContainerID(in); s != want[0] || id != want[1] {
			t.Errorf("splitContainerID(%q) = %q, %q", in, s, id)
		}
	}
}
