// Package soak runs sealtag under sustained load (issue 6): `make soak`
// sends at least 200 000 messages at 50 concurrent connections through
// contrib/milterload, samples the daemon's RSS and goroutines at the start,
// the middle and the end, and checks that every message got exactly the
// verdict the policy gives it. Skipped unless SEALTAG_SOAK=1.
package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sealtag/internal/mtatest"
)

// build compiles a command of this module into dir.
func build(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// sample is the daemon's state from its own /metrics.
type sample struct {
	rssMiB     float64
	goroutines float64
}

func scrape(t *testing.T, addr string) sample {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s sample
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "process_resident_memory_bytes":
			s.rssMiB = v / (1 << 20)
		case "go_goroutines":
			s.goroutines = v
		}
	}
	return s
}

// load runs milterload and returns its report.
type loadReport struct {
	Completed int                       `json:"completed"`
	Errors    int                       `json:"errors"`
	MsgsPerS  float64                   `json:"msgs_per_s"`
	ByMessage map[string]map[string]int `json:"by_message"`
	Verdicts  map[string]int            `json:"verdicts"`
}

func TestSoak(t *testing.T) {
	if os.Getenv("SEALTAG_SOAK") != "1" {
		t.Skip("a long run: make soak (SEALTAG_SOAK=1)")
	}
	total := 200000
	if v, err := strconv.Atoi(os.Getenv("N")); err == nil {
		total = v
	}
	corpus := os.Getenv("SEALTAG_LOAD_CORPUS")
	if corpus == "" {
		corpus = "/tmp/sealtag-load"
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*.eml"))
	if len(files) == 0 {
		t.Fatalf("no load corpus in %s: bash testdata/load/gen.sh %s", corpus, corpus)
	}
	total -= total % (2 * len(files)) // each half sends every message equally often
	dir := t.TempDir()
	sealtag := build(t, dir, ".", "sealtag")
	milterload := build(t, dir, "./contrib/milterload", "milterload")

	// what the policy says for each message, from classify
	policyDoc, err := os.ReadFile("soak.toml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sealtag, "classify", "-config", "soak.toml", "-tls-version", "TLSv1.3", "-v", "-json", corpus).Output()
	if err != nil {
		t.Fatalf("classify: %v", err)
	}
	var survey struct {
		Messages []struct{ Name, Action, Rule string }
	}
	if err := json.Unmarshal(out, &survey); err != nil {
		t.Fatal(err)
	}
	reply := map[string]string{"accept": "continue", "reject": "replycode 550", "tempfail": "replycode 451",
		"discard": "discard", "quarantine": "continue+quarantine"}
	expect := map[string]string{}
	for _, m := range survey.Messages {
		expect[filepath.Base(m.Name)] = reply[m.Action]
	}

	sock := filepath.Join(dir, "s.sock")
	metrics := "127.0.0.1:" + strconv.Itoa(mtatest.FreePort(t))
	conf := filepath.Join(dir, "soak.toml")
	os.WriteFile(conf, []byte("listen = \"unix:"+sock+"\"\nmetrics_listen = \""+metrics+"\"\n"+string(policyDoc)), 0o644)
	daemon := exec.Command(sealtag, "serve", "-config", conf)
	logFile, _ := os.Create(filepath.Join(dir, "sealtag.log"))
	daemon.Stderr = logFile
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer daemon.Process.Kill()
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatal("sealtag did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := func(n int) loadReport {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		b, err := exec.CommandContext(ctx, milterload, "-addr", "unix:"+sock, "-corpus", corpus, "-c", "50", "-per-conn", "10",
			"-n", strconv.Itoa(n), "-json").Output()
		if err != nil {
			t.Fatalf("milterload: %v", err)
		}
		var r loadReport
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// warm up until the heap has reached its working size (with GOGC=200 it
	// swings by a few MiB), so that start, middle and end compare like with like
	run(max(20*len(files), total/10))
	// RSS right after a burst still holds heap the runtime returns to the
	// kernel over the next seconds (GOGC=200, scavenger): each point is the
	// settled value, the least of samples over 3 s of idle.
	settle := func() sample {
		best := scrape(t, metrics)
		for i := 0; i < 12; i++ {
			time.Sleep(250 * time.Millisecond)
			s := scrape(t, metrics)
			best.rssMiB = min(best.rssMiB, s.rssMiB)
			best.goroutines = s.goroutines
		}
		return best
	}
	start := settle()
	half1 := run(total / 2)
	middle := settle()
	half2 := run(total / 2)
	end := settle()

	var report strings.Builder
	fmt.Fprintf(&report, "soak: %d messages at c=50 (corpus %d messages), %.0f and %.0f msgs/s\n", half1.Completed+half2.Completed, len(files), half1.MsgsPerS, half2.MsgsPerS)
	fmt.Fprintf(&report, "errors: %d\n", half1.Errors+half2.Errors)
	fmt.Fprintf(&report, "| point | RSS MiB | goroutines |\n|---|---:|---:|\n")
	for _, p := range []struct {
		name string
		s    sample
	}{{"start", start}, {"middle", middle}, {"end", end}} {
		fmt.Fprintf(&report, "| %s | %.1f | %.0f |\n", p.name, p.s.rssMiB, p.s.goroutines)
	}
	// every message got what the policy says, every time
	wrong := 0
	counts := map[string]int{}
	for _, half := range []loadReport{half1, half2} {
		for name, vs := range half.ByMessage {
			for v, n := range vs {
				counts[v] += n
				if v != expect[name] {
					wrong += n
					if wrong <= 5 {
						t.Errorf("%s got %q %d times, the policy says %q", name, v, n, expect[name])
					}
				}
			}
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&report, "verdict %-22s %d\n", k, counts[k])
	}
	fmt.Fprintf(&report, "messages with a verdict other than the policy's: %d\n", wrong)
	t.Log("\n" + report.String())
	if out := os.Getenv("BENCH_OUT"); out != "" {
		os.WriteFile(out, []byte(report.String()), 0o644)
	}
	if got := half1.Completed + half2.Completed; got != total || half1.Errors+half2.Errors != 0 {
		t.Errorf("completed %d of %d, %d errors", got, total, half1.Errors+half2.Errors)
	}
	for _, p := range []sample{middle, end} {
		if p.rssMiB > start.rssMiB*1.10 {
			t.Errorf("RSS grew from %.1f to %.1f MiB (more than 10 %%)", start.rssMiB, p.rssMiB)
		}
		if p.goroutines > start.goroutines*1.10 {
			t.Errorf("goroutines grew from %.0f to %.0f", start.goroutines, p.goroutines)
		}
	}
}
