package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of the times in /proc/PID/stat: USER_HZ, fixed at 100
// on Linux whatever the kernel's own tick rate.
const userHZ = 100

// procFigures describe a server process and its descendants (rspamd's
// workers; a Go milter has none) at one moment.
type procFigures struct {
	// CPU time in ticks: utime+stime+cutime+cstime summed over the live
	// tree. A child that exits and is reaped moves its time into its
	// parent's cutime/cstime, so the sum never loses it.
	cpuTicks uint64
	rssKiB   uint64 // VmRSS summed over the tree (counts shared pages twice)
	pssKiB   uint64 // Pss summed over the tree (shared pages split)
	hwmKiB   uint64 // the largest VmHWM in the tree
	procs    int
	threads  int
}

// procTree returns pid and all its descendants.
func procTree(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(p)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

type statFields struct {
	ppid                         int
	utime, stime, cutime, cstime uint64
}

func readStat(pid int) (statFields, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return statFields{}, err
	}
	// The command name is in parentheses and may hold spaces or ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return statFields{}, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 15 {
		return statFields{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var st statFields
	st.ppid, _ = strconv.Atoi(f[1])
	st.utime, _ = strconv.ParseUint(f[11], 10, 64)
	st.stime, _ = strconv.ParseUint(f[12], 10, 64)
	st.cutime, _ = strconv.ParseUint(f[13], 10, 64)
	st.cstime, _ = strconv.ParseUint(f[14], 10, 64)
	return st, nil
}

// statusKiB reads the "Key:   N kB" lines (and Threads) of /proc/PID/status.
func statusFields(pid int) (hwm, rss uint64, threads int, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		case "Threads":
			threads = int(n)
		}
	}
	return hwm, rss, threads, sc.Err()
}

// pssKiB is the proportional set size from /proc/PID/smaps_rollup.
func pssKiB(pid int) uint64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// measure reads the figures of pid's tree; an error when pid is gone.
func measure(pid int) (procFigures, error) {
	var pf procFigures
	if _, err := readStat(pid); err != nil {
		return pf, fmt.Errorf("server pid %d: %w", pid, err)
	}
	for _, p := range procTree(pid) {
		st, err := readStat(p)
		if err != nil {
			continue // exited meanwhile
		}
		hwm, rss, threads, err := statusFields(p)
		if err != nil {
			continue
		}
		pf.cpuTicks += st.utime + st.stime + st.cutime + st.cstime
		pf.rssKiB += rss
		pf.pssKiB += pssKiB(p)
		pf.hwmKiB = max(pf.hwmKiB, hwm)
		pf.procs++
		pf.threads += threads
	}
	return pf, nil
}

// sampler keeps the peaks of the tree's summed RSS and PSS, read every
// interval while the load runs (VmHWM is exact for one process; a sum over
// several processes has no high-water mark, so it is sampled).
type sampler struct {
	pid      int
	mu       sync.Mutex
	peakRSS  uint64
	peakPSS  uint64
	samples  int
	stop     context.CancelFunc
	finished chan struct{}
}

func startSampler(pid int, every time.Duration) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{pid: pid, stop: cancel, finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		defer func() { _ = recover() }() // a /proc oddity must not end the load
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.take()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) take() {
	pf, err := measure(s.pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.peakRSS = max(s.peakRSS, pf.rssKiB)
	s.peakPSS = max(s.peakPSS, pf.pssKiB)
	s.samples++
	s.mu.Unlock()
}

// finish stops sampling, takes a last sample and returns the peaks.
func (s *sampler) finish() (peakRSS, peakPSS uint64, samples int) {
	s.stop()
	<-s.finished
	s.take()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakRSS, s.peakPSS, s.samples
}

// cpuTimes are the machine's CPU ticks from the first line of /proc/stat
// (all cores): busy = user+nice+system+irq+softirq+steal, and all of it.
func cpuTimes() (busy, total uint64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, fmt.Errorf("/proc/stat: empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected %q", sc.Text())
	}
	var v [8]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(fields[i+1], 10, 64)
	}
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return busy, busy + v[3] + v[4], nil
}

// selfTicks is this process's own CPU time (utime+stime) in ticks.
func selfTicks() uint64 {
	st, err := readStat(os.Getpid())
	if err != nil {
		return 0
	}
	return st.utime + st.stime
}

// resetPeaks resets VmHWM of pid's tree (Linux: "5" to /proc/PID/clear_refs),
// so the peak RSS that follows is this run's. Needs the right to write there
// (the process's owner or root).
func resetPeaks(pid int) error {
	var first error
	for _, p := range procTree(pid) {
		err := os.WriteFile(filepath.Join("/proc", strconv.Itoa(p), "clear_refs"), []byte("5"), 0)
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}
