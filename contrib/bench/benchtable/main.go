// Command benchtable turns the milterload -json reports of a benchmark run
// (contrib/bench/run.sh) into Markdown tables: medians over the runs and
// ratios to the no-op milter measured in the same run.
//
//	benchtable -dir RESULTS -servers "noop sealtag rspamd" -conns "1 8" -runs 3
//
// It reads RESULTS/SERVER-cC-rR.json for every server, concurrency and run,
// and RESULTS/SERVER-huge.json (one 50 MiB message on a fresh server) when
// present. The first server is the reference of the ratios.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sealtag/contrib/internal/counts"
	"slices"
	"strconv"
	"strings"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

// report is the part of milterload's JSON that the tables use.
type report struct {
	Completed int `json:"completed"`
	Errors    int `json:"errors"`
	Conns     int `json:"conns"`
	PerConn   int `json:"per_conn"`
	Corpus    struct {
		Messages    int   `json:"messages"`
		Bytes       int64 `json:"bytes"`
		MedianBytes int   `json:"median_bytes"`
		MaxBytes    int   `json:"max_bytes"`
	} `json:"corpus"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	LatencyMS struct {
		P50, P90, P99, Max float64
	} `json:"latency_ms"`
	Verdicts map[string]int `json:"verdicts"`
	Changes  struct {
		Added, Changed, Deleted, Quarantine, Other int
	} `json:"changes"`
	Server *struct {
		Gone        bool    `json:"gone"`
		CPUMSPerMsg float64 `json:"cpu_ms_per_msg"`
		PeakRSSKiB  float64 `json:"peak_rss_kib"`
		PeakPSSKiB  float64 `json:"peak_pss_kib"`
		Procs       int     `json:"procs"`
	} `json:"server"`
	Machine *struct {
		OtherCores float64 `json:"other_cores"`
	} `json:"machine"`
}

// others is the CPU that neither the server nor milterload used, in cores.
func (r *report) others() float64 {
	if r.Machine == nil {
		return 0
	}
	return r.Machine.OtherCores
}

// peakMiB is the server's peak memory: VmHWM for one process; for several
// (rspamd's workers share pages) the sampled peak of the summed PSS.
func (r *report) peakMiB() float64 {
	if r.Server == nil {
		return 0
	}
	if r.Server.Procs > 1 {
		return r.Server.PeakPSSKiB / 1024
	}
	return r.Server.PeakRSSKiB / 1024
}

func (r *report) cpu() float64 {
	if r.Server == nil {
		return 0
	}
	return r.Server.CPUMSPerMsg
}

func read(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cell is one figure: its median over the runs, with min and max.
type cell struct{ med, lo, hi float64 }

func newCell(xs []float64) cell {
	if len(xs) == 0 {
		return cell{}
	}
	return cell{median(xs), slices.Min(xs), slices.Max(xs)}
}

// group is one server at one concurrency, over its runs.
type group struct {
	msgs, p50, p99, cpu, mem cell
	others                   float64 // median
	errors, runs             int
	last                     *report
}

func collect(dir, server string, c, runs int) (*group, error) {
	var msgs, p50, p99, cpu, mem, others []float64
	g := &group{}
	for r := 1; r <= runs; r++ {
		rep, err := read(filepath.Join(dir, fmt.Sprintf("%s-c%d-r%d.json", server, c, r)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		g.runs++
		g.errors += rep.Errors
		g.last = rep
		msgs = append(msgs, rep.MsgsPerS)
		p50 = append(p50, rep.LatencyMS.P50)
		p99 = append(p99, rep.LatencyMS.P99)
		cpu = append(cpu, rep.cpu())
		mem = append(mem, rep.peakMiB())
		others = append(others, rep.others())
	}
	if g.runs == 0 {
		return nil, nil
	}
	g.msgs, g.p50, g.p99, g.cpu, g.mem = newCell(msgs), newCell(p50), newCell(p99), newCell(cpu), newCell(mem)
	g.others = median(others)
	return g, nil
}

func ratio(a, b float64) string {
	if b == 0 || a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// num prints with 3 significant digits, more for large numbers.
func num(x float64) string {
	switch {
	case x == 0:
		return "–"
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case x >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

func spread(c cell, runs int) string {
	if runs < 2 {
		return num(c.med)
	}
	return fmt.Sprintf("%s (%s–%s)", num(c.med), num(c.lo), num(c.hi))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "directory of SERVER-cC-rR.json reports")
	servers := fs.String("servers", "noop sealtag rspamd", "servers, the reference first")
	conns := fs.String("conns", "1 8", "concurrencies")
	runs := fs.Int("runs", 3, "runs per server and concurrency")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	names := strings.Fields(*servers)
	var cs []int
	for _, f := range strings.Fields(*conns) {
		c, err := strconv.Atoi(f)
		if err != nil || c < 1 {
			fmt.Fprintf(stderr, "benchtable: bad concurrency %q\n", f)
			return 2
		}
		cs = append(cs, c)
	}
	if len(names) == 0 || len(cs) == 0 || *runs < 1 {
		fs.Usage()
		return 2
	}
	groups := map[string]*group{}
	key := func(s string, c int) string { return fmt.Sprintf("%s/%d", s, c) }
	var sample *report
	for _, s := range names {
		for _, c := range cs {
			g, err := collect(*dir, s, c, *runs)
			if err != nil {
				fmt.Fprintln(stderr, "benchtable:", err)
				return 1
			}
			if g != nil {
				groups[key(s, c)] = g
				sample = g.last
			}
		}
	}
	if sample == nil {
		fmt.Fprintf(stderr, "benchtable: no reports in %s\n", *dir)
		return 1
	}
	w := func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }
	ref := names[0]

	w("Corpus: %d messages, %.1f MiB, median %.1f KiB, largest %.1f MiB; %d messages per connection (ABORT between them). "+
		"Medians of %d runs, (min–max) where shown; ratios are to %s at the same concurrency.",
		sample.Corpus.Messages, float64(sample.Corpus.Bytes)/(1<<20), float64(sample.Corpus.MedianBytes)/1024,
		float64(sample.Corpus.MaxBytes)/(1<<20), sample.PerConn, *runs, ref)
	w("")
	w("| milter | c | msgs/s | × %s | p50 ms | p99 ms | p99 × %s | server CPU ms/msg | × %s | peak mem MiB | others' cores | errors |", ref, ref, ref)
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range cs {
		rg := groups[key(ref, c)]
		for _, s := range names {
			g := groups[key(s, c)]
			if g == nil {
				w("| %s | %d | not measured | | | | | | | | | |", s, c)
				continue
			}
			var rm, rp, rc float64
			if rg != nil {
				rm, rp, rc = rg.msgs.med, rg.p99.med, rg.cpu.med
			}
			w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %d |", s, c,
				spread(g.msgs, g.runs), ratio(g.msgs.med, rm), num(g.p50.med), num(g.p99.med), ratio(g.p99.med, rp),
				spread(g.cpu, g.runs), ratio(g.cpu.med, rc), num(g.mem.med), g.others, g.errors)
		}
	}
	w("")
	w("Peak mem: the server's VmHWM during the run (reset at its start with milterload -reset-peak); for a")
	w("server of several processes (rspamd: main, 2 proxy workers, hs_helper) the summed PSS, sampled every 100 ms.")
	w("p99 is set by the few 2–4 MiB messages (2 %% of the corpus). The load generator shares the cores with")
	w("the server, so msgs/s understates a faster server: compare server CPU per message. Others' cores:")
	w("CPU that neither the server nor milterload used during the run (other processes, the kernel's")
	w("interrupt work); well above 0 means the machine was shared and the run is noisy.")

	// One 50 MiB message on a fresh server.
	var huge []string
	for _, s := range names {
		rep, err := read(filepath.Join(*dir, s+"-huge.json"))
		if err != nil {
			continue
		}
		v := counts.Sorted(rep.Verdicts)
		if rep.Errors > 0 {
			v += fmt.Sprintf(", %d error(s)", rep.Errors)
		}
		huge = append(huge, fmt.Sprintf("| %s | %s | %s | %s | %s |", s, num(rep.peakMiB()), num(rep.LatencyMS.Max), num(rep.cpu()), v))
	}
	if len(huge) > 0 {
		w("")
		w("One 50 MiB message, alone, on a freshly started server:")
		w("")
		w("| milter | peak mem MiB | latency ms | server CPU ms | verdict |")
		w("|---|---:|---:|---:|---|")
		for _, l := range huge {
			w("%s", l)
		}
	}

	// Issue 5's targets, when sealtag is among the servers.
	if slices.Contains(names, "sealtag") && ref != "sealtag" {
		w("")
		w("Targets (issue 5), same run:")
		w("")
		for _, c := range cs {
			st, rg := groups[key("sealtag", c)], groups[key(ref, c)]
			if st == nil || rg == nil {
				continue
			}
			line := fmt.Sprintf("- c=%d: sealtag CPU/msg %s %s's (target at c=8: ≤ 1.5×); p99 %s %s's (target at c=8: ≤ 2×)",
				c, ratio(st.cpu.med, rg.cpu.med), ref, ratio(st.p99.med, rg.p99.med), ref)
			if rs := groups[key("rspamd", c)]; rs != nil {
				line += fmt.Sprintf("; CPU/msg %s rspamd's (target ≤ 0.20×)", ratio(st.cpu.med, rs.cpu.med))
			}
			w("%s", line)
		}
		if rep, err := read(filepath.Join(*dir, "sealtag-huge.json")); err == nil {
			w("- one 50 MiB message: sealtag peak RSS %s MiB (target < 32 MiB)", num(rep.peakMiB()))
		}
	}

	// What each milter answered (last run at the highest concurrency).
	w("")
	w("Verdicts and header changes (last run at c=%d):", cs[len(cs)-1])
	w("")
	for _, s := range names {
		g := groups[key(s, cs[len(cs)-1])]
		if g == nil {
			continue
		}
		ch := g.last.Changes
		w("- %s: %s; headers added %d, changed %d, deleted %d, quarantine %d", s, counts.Sorted(g.last.Verdicts),
			ch.Added, ch.Changed, ch.Deleted, ch.Quarantine)
	}
	return 0
}
