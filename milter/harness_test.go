package milter

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"sealtag/internal/mtatest"
	"sealtag/policy"
)

// logBuffer collects the daemon's log lines for assertions.
type logBuffer = mtatest.LockedBuffer

// testServer is a sealtag milter on a unix socket in a temp dir.
type testServer struct {
	srv      *Server
	addr     string
	log      *logBuffer
	done     chan struct{} // closed when Serve has returned serveErr
	serveErr error
}

// startMilter runs a Server with the configuration doc ("" = defaults).
func startMilter(t *testing.T, doc string) *testServer {
	t.Helper()
	cfg := policy.Defaults()
	if doc != "" {
		var err error
		if cfg, err = policy.Parse([]byte(doc), "test.toml", nil); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logBuffer{}
	srv := NewServer(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	addr := filepath.Join(t.TempDir(), "sealtag.sock")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, addr: addr, log: logs, done: make(chan struct{})}
	go func() {
		ts.serveErr = srv.Serve(ln)
		close(ts.done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-ts.done
		if ts.serveErr != nil {
			t.Errorf("Serve: %v", ts.serveErr)
		}
		if t.Failed() {
			t.Logf("sealtag log:\n%s", logs)
		}
	})
	return ts
}

// mtaSession is the MTA side of one milter connection, as Postfix drives it.
type mtaSession struct {
	t *testing.T
	s *gomilter.ClientSession
}

// connect opens a milter session and sends the connect and HELO stages.
// helo carries the HELO-stage macros (the TLS ones, after STARTTLS).
func (ts *testServer) connect(t *testing.T, helo ...string) *mtaSession {
	t.Helper()
	s := mtatest.MilterSession(t, ts.addr, 10*time.Second)
	m := &mtaSession{t: t, s: s}
	t.Cleanup(func() { s.Close() })
	must(t, s.Macros(gomilter.CodeConn, "j", "mx.example.org", "{daemon_name}", "smtpd"))
	m.cont(s.Conn("client.example.net", gomilter.FamilyInet, 40000, "192.0.2.10"))
	if len(helo) > 0 {
		must(t, s.Macros(gomilter.CodeHelo, helo...))
	}
	m.cont(s.Helo("client.example.net"))
	return m
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cont checks that the milter said continue.
func (m *mtaSession) cont(a *gomilter.Action, err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
	if a.Code != gomilter.ActContinue {
		m.t.Fatalf("milter answered %c, want continue", a.Code)
	}
}

// outcome is what the milter did to one message.
type outcome struct {
	mods   []gomilter.ModifyAction
	action *gomilter.Action
}

// header returns the value of an added header, or "".
func (o outcome) added(name string) []string {
	var vs []string
	for _, m := range o.mods {
		if m.Code == gomilter.ActAddHeader && m.HeaderName == name {
			vs = append(vs, m.HeaderValue)
		}
	}
	return vs
}

// deleted lists "Name[index]" of the headers removed, in order.
func (o outcome) deleted() []string {
	var vs []string
	for _, m := range o.mods {
		if m.Code == gomilter.ActChangeHeader && m.HeaderValue == "" {
			vs = append(vs, m.HeaderName+"["+strconv.Itoa(int(m.HeaderIndex))+"]")
		}
	}
	return vs
}

// send runs one message (MAIL to end of message) with the MAIL-stage macros
// in mail, and returns what the milter did.
func (m *mtaSession) send(from string, rcpts []string, msg string, mail ...string) outcome {
	m.t.Helper()
	s := m.s
	if len(mail) > 0 {
		must(m.t, s.Macros(gomilter.CodeMail, mail...))
	}
	m.cont(s.Mail("<"+from+">", nil))
	for _, r := range rcpts {
		m.cont(s.Rcpt("<"+r+">", nil))
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(msg, "\n", "\r\n"), "\r\n\r\n")
	for _, line := range strings.Split(unfold(head), "\r\n") {
		name, value, _ := strings.Cut(line, ":")
		// Postfix strips one leading space of the value (NOTES §1).
		m.cont(s.HeaderField(name, strings.TrimPrefix(value, " ")))
	}
	m.cont(s.HeaderEnd())
	for b := []byte(body); len(b) > 0; {
		k := min(len(b), gomilter.MaxBodyChunk)
		m.cont(s.BodyChunk(b[:k]))
		b = b[k:]
	}
	mods, act, err := s.End()
	if err != nil {
		m.t.Fatal(err)
	}
	return outcome{mods, act}
}

// unfold joins folded header lines with LF, as Postfix passes them.
func unfold(head string) string {
	return strings.ReplaceAll(strings.ReplaceAll(head, "\r\n ", "\n "), "\r\n\t", "\n\t")
}

// setFault makes the server panic at a stage, for tests of on_error.
func (s *Server) setFault(f func(stage string)) { s.faultHook.Store(&f) }
