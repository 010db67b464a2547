package metrics

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"sealtag/internal/mtatest"
	"sealtag/milter"
	"sealtag/policy"
)

// TestScrapeAfterTraffic sends real milter sessions through the server
// and checks the counts on /metrics.
func TestScrapeAfterTraffic(t *testing.T) {
	cfg, err := policy.Parse([]byte("[[policy.rules]]\nname = \"no-enc\"\nmatch.encryption = \"pgp-inline-encrypted\"\naction = \"reject\"\n[[policy.rules]]\nname = \"watch\"\nmatch.relay = \"firefox\"\naction = \"quarantine\"\nmode = \"monitor\"\n"), "m.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New("test-1")
	srv := milter.NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Observer = m
	sock := filepath.Join(t.TempDir(), "m.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go m.ServeListener(ctx, hl)

	s := mtatest.MilterSession(t, sock, 5*time.Second)
	s.Macros(gomilter.CodeHelo, "{tls_version}", "TLSv1.3", "{cipher}", "X", "{cipher_bits}", "256")
	s.Conn("h", gomilter.FamilyInet, 1, "192.0.2.1")
	s.Helo("h")
	send := func(from string, header [][2]string, body string) {
		s.Mail("<"+from+">", nil)
		s.Rcpt("<support@example.com>", nil)
		for _, h := range header {
			s.HeaderField(h[0], h[1])
		}
		s.HeaderEnd()
		s.BodyChunk([]byte(body))
		if _, _, err := s.End(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		send("a@example.org", [][2]string{{"Subject", "plain"}}, "hello\r\n")
	}
	send("a@example.org", [][2]string{{"Subject", "Re: enc"}}, "-----BEGIN PGP MESSAGE-----\r\n\r\nhF4DAAAAAAAAAAASAQdAzmAAAAAAAAAA\r\n-----END PGP MESSAGE-----\r\n")
	send("k9@mozmail.com", [][2]string{{"From", "k9@mozmail.com"}, {"Subject", "relay"}}, "x\r\n")
	s.Close()

	var body string
	for i := 0; i < 100; i++ { // the session-closed gauge follows the close
		resp, err := http.Get("http://" + hl.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if strings.Contains(body, "sealtag_sessions_open 0") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`sealtag_messages_total{action="accept",decided="accept",mode="enforce",rule="default"} 3`,
		`sealtag_messages_total{action="reject",decided="reject",mode="enforce",rule="no-enc"} 1`,
		`sealtag_messages_total{action="accept",decided="quarantine",mode="monitor",rule="watch"} 1`,
		`sealtag_messages_encryption_total{class="none",scope="-"} 4`,
		`sealtag_messages_encryption_total{class="pgp-inline-encrypted",scope="outer"} 1`,
		`sealtag_messages_tls_total{version="TLSv1.3"} 5`,
		`sealtag_messages_relay_total{provider="firefox"} 1`,
		`sealtag_messages_relay_total{provider="none"} 4`,
		`sealtag_messages_thread_total{state="broken"} 1`,
		`sealtag_messages_thread_total{state="new"} 4`,
		`sealtag_errors_total{kind="message"} 0`,
		`sealtag_classification_seconds_count 5`,
		`sealtag_sessions_open 0`,
		`sealtag_build_info{version="test-1"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "sealtag_scanned_bytes_total ") && strings.TrimPrefix(line, "sealtag_scanned_bytes_total ") == "0" {
			t.Errorf("no bytes counted")
		}
		if strings.Contains(line, "@") {
			t.Errorf("an address in the metrics: %s", line)
		}
	}
	if t.Failed() {
		t.Logf("%s", body)
	}
}

// TestDashboard checks that contrib/grafana/sealtag.json is valid JSON and
// that every metric its queries use is one sealtag exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("../../contrib/grafana/sealtag.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	m := New("x")
	m.Message(milter.Report{Classified: true})
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			known[f.GetName()+"_bucket"] = true
		}
	}
	name := regexp.MustCompile(`sealtag_[a-z_]+`)
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used++
				if !known[n] {
					t.Errorf("panel %q uses %s, which sealtag does not export", p.Title, n)
				}
			}
		}
	}
	if used < 10 {
		t.Errorf("the dashboard uses only %d metrics", used)
	}
}
