package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sealtag/contrib/internal/counts"
	"slices"
	"time"
)

// report is the result of a run; -json prints it as is.
type report struct {
	Label       string         `json:"label,omitempty"`
	Addr        string         `json:"addr"`
	Corpus      corpusReport   `json:"corpus"`
	Conns       int            `json:"conns"`
	PerConn     int            `json:"per_conn"`
	TLS         bool           `json:"tls"`
	Requested   int            `json:"requested,omitempty"`
	DurationS   float64        `json:"duration_s,omitempty"`
	Completed   int            `json:"completed"`
	Errors      int            `json:"errors"`
	Connections int            `json:"connections"`
	ElapsedS    float64        `json:"elapsed_s"`
	MsgsPerS    float64        `json:"msgs_per_s"`
	MiBPerS     float64        `json:"mib_per_s"`
	LatencyMS   latencyReport  `json:"latency_ms"`
	Verdicts    map[string]int `json:"verdicts"`
	// ByMessage counts the verdicts per corpus file (a quarantine adds
	// "+quarantine"), so a test can check each message got what the policy says.
	ByMessage    map[string]map[string]int `json:"by_message,omitempty"`
	Changes      changeCounts              `json:"changes"`
	ErrorKinds   map[string]int            `json:"error_kinds,omitempty"`
	ErrorSamples []string                  `json:"error_samples,omitempty"`
	Server       *serverReport             `json:"server,omitempty"`
	Machine      *machineReport            `json:"machine,omitempty"`
}

// machineReport splits the machine's CPU use during the run, in cores
// (CPU seconds per second): the load generator shares the machine with the
// server, and anything else running there makes the figures noisy.
type machineReport struct {
	Cores        int     `json:"cores"`
	BusyCores    float64 `json:"busy_cores"`    // every process, the kernel's own work included
	LoadgenCores float64 `json:"loadgen_cores"` // milterload itself
	ServerCores  float64 `json:"server_cores"`  // the -pid tree
	OtherCores   float64 `json:"other_cores"`   // the rest: other processes, interrupts
	// milterload's own CPU per completed message.
	LoadgenCPUMSPerMsg float64 `json:"loadgen_cpu_ms_per_msg"`
}

func newMachineReport(busyTicks, selfTicks uint64, srv *serverReport, elapsed time.Duration, completed int) *machineReport {
	// /proc/stat counts in 10 ms ticks: a shorter run gives no usable rate.
	s := elapsed.Seconds()
	if s < 0.25 {
		return nil
	}
	m := &machineReport{
		Cores:        runtime.NumCPU(),
		BusyCores:    float64(busyTicks) / userHZ / s,
		LoadgenCores: float64(selfTicks) / userHZ / s,
	}
	if srv != nil && !srv.Gone {
		m.ServerCores = srv.CPUMS / 1000 / s
	}
	m.OtherCores = max(0, m.BusyCores-m.LoadgenCores-m.ServerCores)
	if completed > 0 {
		m.LoadgenCPUMSPerMsg = float64(selfTicks) * 1000 / userHZ / float64(completed)
	}
	return m
}

type corpusReport struct {
	Dir         string `json:"dir"`
	Messages    int    `json:"messages"`
	Bytes       int64  `json:"bytes"`
	MedianBytes int    `json:"median_bytes"`
	MaxBytes    int    `json:"max_bytes"`
}

// latencyReport: MAIL to the end-of-message reply, completed messages only.
type latencyReport struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type serverReport struct {
	PID  int  `json:"pid"`
	Gone bool `json:"gone,omitempty"` // the server exited during the run
	// CPU time of the server's process tree during the run (utime+stime,
	// reaped children included), and per completed message.
	CPUMS       float64 `json:"cpu_ms"`
	CPUMSPerMsg float64 `json:"cpu_ms_per_msg"`
	// VmHWM: the largest peak RSS of any process in the tree, since it started
	// or since -reset-peak.
	PeakRSSKiB uint64 `json:"peak_rss_kib"`
	// Summed over the tree: sampled peaks during the run and values at its end.
	PeakRSSSumKiB uint64 `json:"peak_rss_sum_kib"`
	PeakPSSKiB    uint64 `json:"peak_pss_kib"`
	RSSKiB        uint64 `json:"rss_kib"`
	PSSKiB        uint64 `json:"pss_kib"`
	Procs         int    `json:"procs"`
	Threads       int    `json:"threads"`
	Samples       int    `json:"samples"`
}

func newReport(o options, addr, dir string, corpus []*message, t *tally, elapsed time.Duration) *report {
	r := &report{
		Addr:         addr,
		Conns:        o.conns,
		PerConn:      o.perConn,
		TLS:          o.tls,
		Requested:    o.n,
		DurationS:    o.duration.Seconds(),
		Completed:    t.completed,
		Connections:  t.connections,
		ElapsedS:     elapsed.Seconds(),
		Verdicts:     t.verdicts,
		ByMessage:    t.byMessage,
		Changes:      t.changes,
		ErrorSamples: t.errSamples,
	}
	if o.duration > 0 {
		r.Requested = 0
	}
	sizes := make([]int, len(corpus))
	for i, m := range corpus {
		sizes[i] = m.size
		r.Corpus.Bytes += int64(m.size)
	}
	slices.Sort(sizes)
	r.Corpus = corpusReport{Dir: dir, Messages: len(corpus), Bytes: r.Corpus.Bytes,
		MedianBytes: sizes[len(sizes)/2], MaxBytes: sizes[len(sizes)-1]}
	for _, v := range t.errors {
		r.Errors += v
	}
	if r.Errors > 0 {
		r.ErrorKinds = t.errors
	}
	if s := elapsed.Seconds(); s > 0 {
		r.MsgsPerS = float64(t.completed) / s
		r.MiBPerS = float64(t.bytes) / (1 << 20) / s
	}
	r.LatencyMS = latencies(t.latencies)
	return r
}

func latencies(d []time.Duration) latencyReport {
	if len(d) == 0 {
		return latencyReport{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	// Nearest rank: the smallest value with at least p of the samples at or below it.
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return ms(d[max(i, 0)])
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return latencyReport{P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Max: ms(d[len(d)-1]),
		Mean: ms(sum / time.Duration(len(d)))}
}

func newServerReport(pid int, before, after procFigures, peakRSS, peakPSS uint64, samples, completed int) *serverReport {
	s := &serverReport{
		PID:           pid,
		PeakRSSKiB:    after.hwmKiB,
		PeakRSSSumKiB: max(peakRSS, after.rssKiB),
		PeakPSSKiB:    max(peakPSS, after.pssKiB),
		RSSKiB:        after.rssKiB,
		PSSKiB:        after.pssKiB,
		Procs:         after.procs,
		Threads:       after.threads,
		Samples:       samples,
	}
	if after.cpuTicks > before.cpuTicks {
		s.CPUMS = float64(after.cpuTicks-before.cpuTicks) * 1000 / userHZ
	}
	if completed > 0 {
		s.CPUMSPerMsg = s.CPUMS / float64(completed)
	}
	return s
}

func mib(kib uint64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func (r *report) writeTable(w io.Writer) {
	tls := "yes"
	if !r.TLS {
		tls = "no"
	}
	p := func(k, f string, a ...any) { fmt.Fprintf(w, "%-13s "+f+"\n", append([]any{k}, a...)...) }
	if r.Label != "" {
		p("label", "%s", r.Label)
	}
	p("milter", "%s", r.Addr)
	p("corpus", "%s: %d messages, %s, median %.1f KiB, largest %s", r.Corpus.Dir, r.Corpus.Messages,
		mib(uint64(r.Corpus.Bytes)/1024), float64(r.Corpus.MedianBytes)/1024, mib(uint64(r.Corpus.MaxBytes)/1024))
	p("load", "%d connections at once, %d messages each, %d opened; TLS macros %s", r.Conns, r.PerConn, r.Connections, tls)
	p("throughput", "%d messages in %.3f s: %.1f msgs/s, %.1f MiB/s", r.Completed, r.ElapsedS, r.MsgsPerS, r.MiBPerS)
	l := r.LatencyMS
	p("latency ms", "p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f (MAIL to end-of-message reply)", l.P50, l.P90, l.P99, l.Max, l.Mean)
	p("verdicts", "%s", counts.Sorted(r.Verdicts))
	c := r.Changes
	p("changes", "headers added %d, changed %d, deleted %d; quarantine %d; other %d", c.Added, c.Changed, c.Deleted, c.Quarantine, c.Other)
	p("errors", "%d", r.Errors)
	if r.Errors > 0 {
		p("", "%s", counts.Sorted(r.ErrorKinds))
		for _, s := range r.ErrorSamples {
			p("", "e.g. %s", s)
		}
	}
	if m := r.Machine; m != nil {
		p("machine cpu", "%.2f of %d cores busy: milterload %.2f (%.3f ms/msg), server %.2f, others %.2f",
			m.BusyCores, m.Cores, m.LoadgenCores, m.LoadgenCPUMSPerMsg, m.ServerCores, m.OtherCores)
	}
	if s := r.Server; s != nil {
		if s.Gone {
			p("server", "pid %d exited during the run", s.PID)
			return
		}
		p("server cpu", "%.0f ms, %.3f ms/msg (pid %d and %d descendant(s), utime+stime incl. reaped children)",
			s.CPUMS, s.CPUMSPerMsg, s.PID, s.Procs-1)
		p("server mem", "peak RSS %s (VmHWM); now RSS %s, PSS %s summed over %d process(es), %d threads",
			mib(s.PeakRSSKiB), mib(s.RSSKiB), mib(s.PSSKiB), s.Procs, s.Threads)
		p("", "sampled peaks during the run (%d samples): RSS sum %s, PSS sum %s",
			s.Samples, mib(s.PeakRSSSumKiB), mib(s.PeakPSSKiB))
	}
}
