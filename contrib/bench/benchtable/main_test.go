package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeReport writes a minimal milterload -json report.
func writeReport(t *testing.T, dir, name string, msgs, p99, cpu, rssKiB, pssKiB float64, procs int) {
	t.Helper()
	doc := fmt.Sprintf(`{"completed": 100, "errors": 0, "conns": 1, "per_conn": 10,
  "corpus": {"messages": 200, "bytes": 19188400, "median_bytes": 21300, "max_bytes": 3900000},
  "msgs_per_s": %g, "latency_ms": {"p50": 1, "p90": 2, "p99": %g, "max": 9},
  "verdicts": {"accept": 100}, "changes": {"added": 5},
  "server": {"cpu_ms_per_msg": %g, "peak_rss_kib": %g, "peak_pss_kib": %g, "procs": %d},
  "machine": {"other_cores": 0.05}}`,
		msgs, p99, cpu, rssKiB, pssKiB, procs)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTable(t *testing.T) {
	dir := t.TempDir()
	for r, x := range []float64{1, 3, 2} { // medians: the middle value
		for _, c := range []int{1, 8} {
			writeReport(t, dir, fmt.Sprintf("noop-c%d-r%d.json", c, r+1), 1000*x, 4, 0.3*x, 10240, 9000, 1)
			writeReport(t, dir, fmt.Sprintf("sealtag-c%d-r%d.json", c, r+1), 800*x, 6, 0.45*x, 14336, 12000, 1)
			writeReport(t, dir, fmt.Sprintf("rspamd-c%d-r%d.json", c, r+1), 200*x, 40, 4*x, 300000, 307200, 4)
		}
	}
	writeReport(t, dir, "sealtag-huge.json", 1, 100, 80, 20480, 19000, 1)
	var out, errOut bytes.Buffer
	if code := mainErr([]string{"-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"| noop | 1 | 2000 (1000–3000) | 1.00× | 1.00 | 4.00 | 1.00× | 0.600 (0.300–0.900) | 1.00× | 10.0 | 0.05 | 0 |",
		"| sealtag | 8 | 1600 (800–2400) | 0.80× | 1.00 | 6.00 | 1.50× | 0.900 (0.450–1.35) | 1.50× | 14.0 | 0.05 | 0 |",
		"| rspamd | 8 | 400 (200–600) | 0.20× | 1.00 | 40.0 | 10.00× | 8.00 (4.00–12.0) | 13.33× | 300 | 0.05 | 0 |",
		"| sealtag | 20.0 | 9.00 | 80.0 | accept 100 |",
		"- c=8: sealtag CPU/msg 1.50× noop's (target at c=8: ≤ 1.5×); p99 1.50× noop's (target at c=8: ≤ 2×); CPU/msg 0.11× rspamd's",
		"sealtag peak RSS 20.0 MiB (target < 32 MiB)",
		"- rspamd: accept 100; headers added 5",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestMissing(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := mainErr([]string{"-dir", t.TempDir()}, &out, &errOut); code != 1 {
		t.Errorf("empty dir: exit %d, want 1", code)
	}
	if code := mainErr([]string{"-conns", "x"}, &out, &errOut); code != 2 {
		t.Errorf("bad -conns: exit %d, want 2", code)
	}
	dir := t.TempDir()
	writeReport(t, dir, "noop-c1-r1.json", 1000, 4, 0.3, 10240, 9000, 1)
	out.Reset()
	if code := mainErr([]string{"-dir", dir, "-conns", "1"}, &out, &errOut); code != 0 {
		t.Fatalf("partial: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "| sealtag | 1 | not measured |") {
		t.Errorf("missing server not shown:\n%s", out.String())
	}
}
