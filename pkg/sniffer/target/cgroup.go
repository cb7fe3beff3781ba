package target

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// scanCgroups finds the main process of container id by reading
// procRoot/*/cgroup: a process belongs to the container when one of its cgroup
// paths (v1 or v2) has a component naming the ID, as the runtimes spell it:
//
//	/kubepods/besteffort/pod<uid>/<id>                          (cgroupfs driver)
//	/kubepods.slice/…/cri-containerd-<id>.scope                  (systemd driver)
//	crio-<id>.scope, docker-<id>.scope, /k8s.io/<id>            (others)
//
// Of the processes found, the one whose parent is not in the container (the
// container's init) is returned; ties go to the lowest PID.
func scanCgroups(procRoot, id string) (int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("scanning %s: %w", procRoot, err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cgroup"))
		if err != nil {
			continue // exited meanwhile, or a kernel thread we may not read
		}
		if cgroupNamesContainer(data, id) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return 0, fmt.Errorf("no process in %s/*/cgroup belongs to container %s: %w", procRoot, id, ErrContainerNotFound)
	}
	slices.Sort(pids)
	for _, pid := range pids {
		ppid, err := parentPID(procRoot, pid)
		if err != nil {
			continue
		}
		if _, in := slices.BinarySearch(pids, ppid); !in {
			return pid, nil
		}
	}
	return pids[0], nil
}

// cgroupNamesContainer reports whether a /proc/PID/cgroup file has a path with
// a component naming container id.
func cgroupNamesContainer(data []byte, id string) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		line := sc.Text()
		i := strings.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		j := strings.IndexByte(line[i+1:], ':')
		if j < 0 {
			continue
		}
		for _, comp := range strings.Split(line[i+1+j+1:], "/") {
			if componentNamesContainer(comp, id) {
				return true
			}
		}
	}
	return false
}

func componentNamesContainer(comp, id string) bool {
	comp = strings.TrimSuffix(comp, ".scope")
	if comp == id {
		return true
	}
	// "<runtime>-<id>" as written by the systemd cgroup driver.
	rest, ok := strings.CutSuffix(comp, id)
	return ok && strings.HasSuffix(rest, "-")
}

// parentPID reads the PPid of pid from procRoot/pid/stat.
func parentPID(procRoot string, pid int) (int, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid …; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing %s/%d/stat", procRoot, pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("parsing %s/%d/stat", procRoot, pid)
	}
	return strconv.Atoi(f[1])
}
