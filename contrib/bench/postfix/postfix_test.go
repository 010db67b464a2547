// Package postfix measures Postfix's own throughput with sealtag attached,
// with go-milter's no-op milter attached, and without a milter (issue 5):
// smtp-source pushes messages into a private Postfix (internal/mtatest)
// over loopback SMTP. Run with `make bench-postfix`; it is skipped unless
// SEALTAG_BENCH_POSTFIX=1.
package postfix

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"sealtag/internal/mtatest"
	"sealtag/milter"
	"sealtag/policy"
)

// startMilter serves kind ("sealtag" or "noop") on a unix socket Postfix
// can reach and returns its address ("" for none).
func startMilter(t *testing.T, kind string) string {
	if kind == "none" {
		return ""
	}
	sock := mtatest.SocketPath(t, kind+".sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(sock, 0o666)
	switch kind {
	case "noop":
		srv := &gomilter.Server{
			NewMilter: func() gomilter.Milter { return gomilter.NoOpMilter{} },
			Protocol:  gomilter.OptNoUnknown | gomilter.OptNoData,
		}
		go srv.Serve(ln)
		t.Cleanup(func() { ln.Close() })
	case "sealtag":
		cfg, err := policy.Load(filepath.Join("..", "..", "..", "testdata", "sealtag.example.toml"))
		if err != nil {
			t.Fatal(err)
		}
		srv := milter.NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		go srv.Serve(ln)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		})
	}
	return "unix:" + sock
}

func TestPostfixThroughput(t *testing.T) {
	if os.Getenv("SEALTAG_BENCH_POSTFIX") != "1" {
		t.Skip("a benchmark: run it with make bench-postfix (SEALTAG_BENCH_POSTFIX=1)")
	}
	smtpSource := mtatest.RequireTool(t, "smtp-source", "postfix")
	msgs, sessions, size, runs := 3000, 8, 20000, 3
	if v, err := strconv.Atoi(os.Getenv("N")); err == nil {
		msgs = v
	}
	rates := map[string][]float64{}
	kinds := []string{"none", "noop", "sealtag"}
	for r := 0; r < runs; r++ {
		for _, kind := range kinds { // interleaved, so drift hits all alike
			t.Run(fmt.Sprintf("%s-%d", kind, r), func(t *testing.T) {
				pf := mtatest.StartPostfix(t, mtatest.PostfixOptions{Milter: startMilter(t, kind)})
				start := time.Now()
				cmd := exec.Command(smtpSource, "-c", "-m", strconv.Itoa(msgs), "-s", strconv.Itoa(sessions),
					"-l", strconv.Itoa(size), "-f", "bench@example.org", "-t", "desk@example.com", pf.SMTPAddr())
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("smtp-source: %v\n%s", err, out)
				}
				el := time.Since(start)
				pf.WaitDelivered(t, msgs, 2*time.Minute)
				rates[kind] = append(rates[kind], float64(msgs)/el.Seconds())
			})
		}
	}
	median := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Postfix end to end: smtp-source -m %d -s %d -l %d, %d runs each, medians (min-max)\n\n", msgs, sessions, size, runs)
	fmt.Fprintf(&b, "| milter | msgs/s | x no milter | x noop |\n|---|---:|---:|---:|\n")
	for _, k := range kinds {
		v := rates[k]
		sort.Float64s(v)
		fmt.Fprintf(&b, "| %s | %.0f (%.0f-%.0f) | %.2f | %.2f |\n", k, median(v), v[0], v[len(v)-1], median(v)/median(rates["none"]), median(v)/median(rates["noop"]))
	}
	t.Log("\n" + b.String())
	if out := os.Getenv("BENCH_OUT"); out != "" {
		os.WriteFile(out, []byte(b.String()), 0o644)
	}
}
