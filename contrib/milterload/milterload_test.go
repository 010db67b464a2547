package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	nettextproto "net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-milter"
)

// startServer runs a go-milter server with the masks sealtag uses
// (OptNoUnknown: go-milter has no SMFIC_UNKNOWN handler; no OptNo*Reply:
// it always replies) on a unix socket in a temp dir.
func startServer(t *testing.T, newMilter func() milter.Milter) string {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "m.sock")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &milter.Server{
		NewMilter: newMilter,
		Actions:   milter.OptAddHeader | milter.OptChangeHeader | milter.OptQuarantine,
		Protocol:  milter.OptNoUnknown | milter.OptNoData,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addr
}

func noop() milter.Milter { return milter.NoOpMilter{} }

// writeCorpus writes name -> content into a temp dir.
func writeCorpus(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustCorpus(t *testing.T, dir string) []*message {
	t.Helper()
	c, err := loadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const simpleEML = "Return-Path: <bounce@example.org>\n" +
	"From: Alice <alice@example.org>\n" +
	"To: Bob <bob@example.net>, carol@example.com\n" +
	"Subject:  two spaces\n" +
	"X-Folded: first\n" +
	"\tsecond\n" +
	"  third\n" +
	"X-Empty:\n" +
	"\n" +
	"line one\n" +
	"line two\r\n" +
	"no newline"

func TestParseMessage(t *testing.T) {
	m := parseMessage("a.eml", []byte(simpleEML))
	if m.from != "bounce@example.org" {
		t.Errorf("from = %q, want the Return-Path address", m.from)
	}
	if got, want := strings.Join(m.rcpts, ","), "bob@example.net,carol@example.com"; got != want {
		t.Errorf("rcpts = %q, want %q", got, want)
	}
	want := []struct{ name, value string }{
		{"From", "Alice <alice@example.org>"},
		{"To", "Bob <bob@example.net>, carol@example.com"},
		{"Subject", " two spaces"},
		{"X-Folded", "first\n\tsecond\n  third"},
		{"X-Empty", ""},
	}
	if len(m.headers) != len(want) {
		t.Fatalf("headers = %q, want %d (Return-Path dropped as Postfix does)", m.headers, len(want))
	}
	for i, w := range want {
		if h := m.headers[i]; h.name != w.name || h.value(false) != w.value {
			t.Errorf("header %d = %q: %q, want %q: %q", i, h.name, h.value(false), w.name, w.value)
		}
	}
	if got := m.headers[2].value(true); got != "  two spaces" {
		t.Errorf("with SMFIP_HDR_LEADSPC Subject = %q, want the raw value", got)
	}
	if got, want := string(m.body), "line one\r\nline two\r\nno newline\r\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestParseMessageEnvelopeFallbacks(t *testing.T) {
	tests := []struct {
		eml, from, rcpt string
	}{
		{"From: a@example.org\n\nx\n", "a@example.org", "postmaster@load.test"},
		{"Return-Path: <>\nFrom: a@example.org\nCc: c@example.com\n\nx\n", "", "c@example.com"},
		{"Subject: none\n\nx\n", "sender@load.test", "postmaster@load.test"},
		{"From: Broken <a@example.org\nTo: undisclosed-recipients:;\n\nx\n", "sender@load.test", "postmaster@load.test"},
	}
	for _, tt := range tests {
		m := parseMessage("x.eml", []byte(tt.eml))
		if m.from != tt.from || m.rcpts[0] != tt.rcpt {
			t.Errorf("parseMessage(%q): from %q rcpt %q, want %q %q", tt.eml, m.from, m.rcpts[0], tt.from, tt.rcpt)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct{ in, network, address string }{
		{"unix:/run/m.sock", "unix", "/run/m.sock"},
		{"/run/m.sock", "unix", "/run/m.sock"},
		{"local:/run/m.sock", "unix", "/run/m.sock"},
		{"inet:127.0.0.1:10025", "tcp", "127.0.0.1:10025"},
		{"127.0.0.1:10025", "tcp", "127.0.0.1:10025"},
		{"inet:10025@127.0.0.1", "tcp", "127.0.0.1:10025"},
		{"inet6:[::1]:10025", "tcp6", "[::1]:10025"},
		{"inet6:10025@[::1]", "tcp6", "[::1]:10025"},
	}
	for _, tt := range tests {
		n, a, err := parseAddr(tt.in)
		if err != nil || n != tt.network || a != tt.address {
			t.Errorf("parseAddr(%q) = %q, %q, %v; want %q, %q", tt.in, n, a, err, tt.network, tt.address)
		}
	}
	for _, bad := range []string{"localhost", "inet:host:", "inet:x@127.0.0.1"} {
		if _, _, err := parseAddr(bad); err == nil {
			t.Errorf("parseAddr(%q): no error", bad)
		}
	}
}

func opts(addr string) options {
	return options{network: "unix", address: addr, conns: 1, perConn: 10, n: 1, timeout: 10 * time.Second, tls: true}
}

func TestRunAgainstNoop(t *testing.T) {
	big := "From: a@example.org\nTo: b@example.net\nSubject: big\n\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 4000)
	dir := writeCorpus(t, map[string]string{"1.eml": simpleEML, "2.eml": big, "3.eml": "Subject: x\n\nbody\n"})
	corpus := mustCorpus(t, dir)
	o := opts(startServer(t, noop))
	o.conns, o.perConn, o.n = 3, 2, 11
	tl, _ := run(context.Background(), o, corpus)
	if len(tl.errors) != 0 {
		t.Fatalf("errors %v: %q", tl.errors, tl.errSamples)
	}
	if tl.completed != 11 || tl.verdicts["accept"] != 11 || len(tl.latencies) != 11 {
		t.Errorf("completed %d, verdicts %v, %d latencies; want 11 accepted", tl.completed, tl.verdicts, len(tl.latencies))
	}
	// 11 messages, at most 2 per connection.
	if tl.connections < 6 {
		t.Errorf("connections = %d, want >= 6 with -per-conn 2", tl.connections)
	}
	if tl.changes != (changeCounts{}) {
		t.Errorf("changes = %+v, want none from the no-op server", tl.changes)
	}
}

func TestRunDuration(t *testing.T) {
	corpus := mustCorpus(t, writeCorpus(t, map[string]string{"1.eml": simpleEML}))
	o := opts(startServer(t, noop))
	o.n, o.duration, o.conns = 0, 200*time.Millisecond, 2
	start := time.Now()
	tl, elapsed := run(context.Background(), o, corpus)
	if len(tl.errors) != 0 || tl.completed == 0 {
		t.Fatalf("completed %d, errors %v %q", tl.completed, tl.errors, tl.errSamples)
	}
	if elapsed < 200*time.Millisecond || time.Since(start) > 5*time.Second {
		t.Errorf("elapsed %v, want just over 200ms", elapsed)
	}
}

// event is one callback a recording milter saw.
type event struct {
	stage  string
	arg    string
	macros map[string]string
}

// recorder logs every callback (of one connection: go-milter calls
// NewMilter again after each reply that ends a message).
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) newMilter() milter.Milter { return &recMilter{r: r} }

type recMilter struct{ r *recorder }

func (m *recMilter) log(stage, arg string, mod *milter.Modifier) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	mac := map[string]string{}
	if mod != nil {
		for k, v := range mod.Macros {
			mac[k] = v
		}
	}
	m.r.events = append(m.r.events, event{stage: stage, arg: arg, macros: mac})
}

func (m *recMilter) Connect(host, family string, port uint16, addr net.IP, mod *milter.Modifier) (milter.Response, error) {
	m.log("connect", fmt.Sprintf("%s %s %d %s", host, family, port, addr), mod)
	return milter.RespContinue, nil
}
func (m *recMilter) Helo(name string, mod *milter.Modifier) (milter.Response, error) {
	m.log("helo", name, mod)
	return milter.RespContinue, nil
}
func (m *recMilter) MailFrom(from string, mod *milter.Modifier) (milter.Response, error) {
	m.log("mail", from, mod)
	return milter.RespContinue, nil
}
func (m *recMilter) RcptTo(rcpt string, mod *milter.Modifier) (milter.Response, error) {
	m.log("rcpt", rcpt, mod)
	return milter.RespContinue, nil
}
func (m *recMilter) Header(name, value string, mod *milter.Modifier) (milter.Response, error) {
	m.log("header", name+": "+value, mod)
	return milter.RespContinue, nil
}
func (m *recMilter) Headers(h nettextproto.MIMEHeader, mod *milter.Modifier) (milter.Response, error) {
	m.log("eoh", "", mod)
	return milter.RespContinue, nil
}
func (m *recMilter) BodyChunk(chunk []byte, mod *milter.Modifier) (milter.Response, error) {
	m.log("body", string(chunk), mod)
	return milter.RespContinue, nil
}
func (m *recMilter) Body(mod *milter.Modifier) (milter.Response, error) {
	m.log("eom", "", mod)
	return milter.RespAccept, nil
}
func (m *recMilter) Abort(mod *milter.Modifier) error {
	m.log("abort", "", nil)
	return nil
}

func TestPostfixSequence(t *testing.T) {
	big := "From: a@example.org\nTo: b@example.net\n\n" + strings.Repeat("x", 150000) + "\n"
	corpus := mustCorpus(t, writeCorpus(t, map[string]string{"1.eml": simpleEML, "2.eml": big}))
	rec := &recorder{}
	o := opts(startServer(t, rec.newMilter))
	o.perConn, o.n = 5, 3 // three messages on one connection
	tl, _ := run(context.Background(), o, corpus)
	if len(tl.errors) != 0 || tl.completed != 3 {
		t.Fatalf("completed %d, errors %v %q", tl.completed, tl.errors, tl.errSamples)
	}
	// run returns once QUIT is written; the server may still be at the last ABORT.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rec.mu.Lock()
		n := 0
		for _, e := range rec.events {
			if e.stage == "abort" {
				n++
			}
		}
		if n == 3 || time.Now().After(deadline) {
			break // still locked
		}
		rec.mu.Unlock()
	}
	defer rec.mu.Unlock()

	// The stage sequence, bodies collapsed.
	var seq []string
	for _, e := range rec.events {
		if e.stage == "body" && len(seq) > 0 && seq[len(seq)-1] == "body" {
			continue
		}
		seq = append(seq, e.stage)
	}
	five := "header header header header header"
	want := strings.Join([]string{
		"connect helo",
		"mail rcpt rcpt", five, "eoh body eom abort",
		"mail rcpt header header eoh body eom abort",
		"mail rcpt rcpt", five, "eoh body eom abort",
	}, " ")
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("sequence\n got %s\nwant %s", got, want)
	}

	var headers []string
	var body strings.Builder
	for _, e := range rec.events {
		macro := func(name, want string) {
			t.Helper()
			if got, ok := e.macros[name]; !ok || (want != "" && got != want) {
				t.Errorf("%s macros %v: %s = %q, want %q", e.stage, e.macros, name, got, want)
			}
		}
		switch e.stage {
		case "connect":
			if e.arg != "mail0.sender.example tcp4 40000 203.0.113.1" {
				t.Errorf("connect %q", e.arg)
			}
			macro("j", "mx.load.test")
			macro("{daemon_name}", "smtpd")
		case "helo":
			macro("{tls_version}", "TLSv1.3")
			macro("{cipher}", "")
			macro("{cipher_bits}", "256")
		case "mail":
			macro("{tls_version}", "TLSv1.3")
			macro("{mail_addr}", "")
			if _, ok := e.macros["i"]; ok {
				t.Errorf("mail macros %v: no queue id before RCPT (smtpd_delay_open_until_valid_rcpt)", e.macros)
			}
		case "rcpt":
			macro("i", "")
			macro("{rcpt_addr}", e.arg)
		case "eom":
			macro("i", "")
			if _, ok := e.macros["{tls_version}"]; ok {
				t.Errorf("eom macros %v: Postfix sends no TLS macros at end of message", e.macros)
			}
		case "header":
			if len(headers) < 5 {
				headers = append(headers, e.arg)
			}
		case "body":
			if len(e.arg) > milter.MaxBodyChunk {
				t.Errorf("body chunk of %d bytes, want <= %d", len(e.arg), milter.MaxBodyChunk)
			}
			if body.Len() < 150002 && !strings.HasPrefix(e.arg, "line one") {
				body.WriteString(e.arg)
			}
		}
	}
	wantHeaders := []string{"From: Alice <alice@example.org>", "To: Bob <bob@example.net>, carol@example.com",
		"Subject:  two spaces", "X-Folded: first\n\tsecond\n  third", "X-Empty: "}
	if strings.Join(headers, "|") != strings.Join(wantHeaders, "|") {
		t.Errorf("headers\n got %q\nwant %q", headers, wantHeaders)
	}
	if got, want := body.String(), strings.Repeat("x", 150000)+"\r\n"; got != want {
		t.Errorf("body of message 2: %d bytes, want %d reassembled from chunks", len(got), len(want))
	}
	// The queue id is one per message: the same at RCPT and EOM.
	qid := map[string]bool{}
	for _, e := range rec.events {
		if e.stage == "rcpt" || e.stage == "eom" {
			qid[e.macros["i"]] = true
		}
	}
	if len(qid) != 3 {
		t.Errorf("queue ids %v, want one per message", qid)
	}
}

// verdictMilter answers by the message's Subject and recipient.
type verdictMilter struct {
	milter.NoOpMilter
	subject string
}

func (v *verdictMilter) RcptTo(rcpt string, m *milter.Modifier) (milter.Response, error) {
	if strings.HasPrefix(rcpt, "bad@") {
		return milter.RespReject, nil
	}
	return milter.RespContinue, nil
}

func (v *verdictMilter) Header(name, value string, m *milter.Modifier) (milter.Response, error) {
	if name == "Subject" {
		v.subject = value
	}
	return milter.RespContinue, nil
}

func (v *verdictMilter) Body(m *milter.Modifier) (milter.Response, error) {
	m.AddHeader("X-Load", "1")
	m.InsertHeader(0, "X-Load-First", "1")
	m.ChangeHeader(1, "Subject", "changed")
	m.ChangeHeader(1, "X-Forged", "")
	switch v.subject {
	case "reply":
		return milter.NewResponseStr(byte(milter.ActReplyCode), "550 5.7.1 refused"), nil
	case "tempfail":
		return milter.RespTempFail, nil
	case "discard":
		return milter.RespDiscard, nil
	case "hold":
		m.Quarantine("held")
	}
	return milter.RespAccept, nil
}

func TestVerdictsAndChanges(t *testing.T) {
	files := map[string]string{}
	for i, s := range []string{"reply", "tempfail", "discard", "hold", "plain"} {
		files[fmt.Sprintf("%d.eml", i)] = "From: a@example.org\nTo: b@example.net\nSubject: " + s + "\nX-Forged: x\n\nbody\n"
	}
	files["5.eml"] = "From: a@example.org\nTo: bad@example.net\nSubject: plain\n\nbody\n"
	files["6.eml"] = "From: a@example.org\nTo: bad@example.net, good@example.net\nSubject: plain\n\nbody\n"
	corpus := mustCorpus(t, writeCorpus(t, files))
	o := opts(startServer(t, func() milter.Milter { return &verdictMilter{} }))
	o.n, o.conns = 14, 2
	tl, _ := run(context.Background(), o, corpus)
	if len(tl.errors) != 0 {
		t.Fatalf("errors %v %q", tl.errors, tl.errSamples)
	}
	want := map[string]int{"replycode 550": 2, "tempfail": 2, "discard": 2, "accept": 6, "reject": 2}
	for k, v := range want {
		if tl.verdicts[k] != v {
			t.Errorf("verdicts = %v, want %v", tl.verdicts, want)
			break
		}
	}
	// Six of the seven reach end of message, each with 4 changes, twice over.
	if want := (changeCounts{Added: 24, Changed: 12, Deleted: 12, Quarantine: 2}); tl.changes != want {
		t.Errorf("changes = %+v, want %+v", tl.changes, want)
	}
}

// stuck hangs in MailFrom until released.
type stuck struct {
	milter.NoOpMilter
	release chan struct{}
}

func (s stuck) MailFrom(string, *milter.Modifier) (milter.Response, error) {
	<-s.release
	return milter.RespContinue, nil
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	addr := startServer(t, func() milter.Milter { return stuck{release: release} })
	t.Cleanup(func() { close(release) })
	corpus := mustCorpus(t, writeCorpus(t, map[string]string{"1.eml": simpleEML}))
	o := opts(addr)
	o.n, o.conns, o.timeout = 4, 2, 150*time.Millisecond
	start := time.Now()
	tl, _ := run(context.Background(), o, corpus)
	if tl.errors["mail: timeout"] != 4 || tl.completed != 0 {
		t.Errorf("errors %v, completed %d; want 4 timeouts at MAIL", tl.errors, tl.completed)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 150ms timeout", d)
	}
}

func TestCancel(t *testing.T) {
	release := make(chan struct{})
	addr := startServer(t, func() milter.Milter { return stuck{release: release} })
	t.Cleanup(func() { close(release) })
	corpus := mustCorpus(t, writeCorpus(t, map[string]string{"1.eml": simpleEML}))
	o := opts(addr)
	o.timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	tl, _ := run(ctx, o, corpus)
	if tl.errors["mail: canceled"] != 1 {
		t.Errorf("errors %v %q, want the message canceled at MAIL", tl.errors, tl.errSamples)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v after cancel", d)
	}
}

func TestDialError(t *testing.T) {
	corpus := mustCorpus(t, writeCorpus(t, map[string]string{"1.eml": simpleEML}))
	o := opts(filepath.Join(t.TempDir(), "nothing.sock"))
	o.n = 2
	tl, _ := run(context.Background(), o, corpus)
	if tl.errors["dial: refused"] != 2 {
		t.Errorf("errors %v, want 2 refused dials", tl.errors)
	}
}

// TestMainJSON runs the command with -json and -pid of the test process
// itself (it serves the milter, so its CPU time grows).
func TestMainJSON(t *testing.T) {
	addr := startServer(t, noop)
	dir := writeCorpus(t, map[string]string{"1.eml": simpleEML, "2.eml": "Subject: x\n\nbody\n", "3.eml": "Subject: y\n\nbody\n"})
	var out, errOut bytes.Buffer
	code := mainErr([]string{"-addr", "unix:" + addr, "-corpus", dir, "-c", "2", "-d", "300ms", "-pid", fmt.Sprint(os.Getpid()), "-json", "-label", "t"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.Completed == 0 || r.Verdicts["accept"] != r.Completed || r.Label != "t" || r.Corpus.Messages != 3 || r.MsgsPerS <= 0 || r.DurationS != 0.3 {
		t.Errorf("report %+v", r)
	}
	if r.Server == nil || r.Server.PeakRSSKiB == 0 || r.Server.RSSKiB == 0 || r.Server.PSSKiB == 0 || r.Server.Procs < 1 || r.Server.Threads < 1 {
		t.Errorf("server figures %+v", r.Server)
	}
	if m := r.Machine; m == nil || m.Cores < 1 || m.BusyCores < 0 || m.OtherCores < 0 || m.LoadgenCPUMSPerMsg <= 0 {
		t.Errorf("machine figures %+v", r.Machine)
	}
	if r.LatencyMS.P50 <= 0 || r.LatencyMS.Max < r.LatencyMS.P99 || r.LatencyMS.P99 < r.LatencyMS.P50 {
		t.Errorf("latency %+v", r.LatencyMS)
	}

	out.Reset()
	if code := mainErr([]string{"-addr", addr, "-corpus", dir, "-n", "3"}, &out, &errOut); code != 0 {
		t.Fatalf("table: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"throughput", "3 messages", "latency ms", "verdicts      accept 3", "errors        0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMainUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{}, {"-addr", "localhost"}, {"-addr", "/x", "-c", "0"}, {"-addr", "/x", "extra"}} {
		if code := mainErr(args, &out, &errOut); code != 2 {
			t.Errorf("mainErr(%q) = %d, want 2", args, code)
		}
	}
	if code := mainErr([]string{"-addr", "/x", "-corpus", t.TempDir()}, &out, &errOut); code != 1 {
		t.Errorf("empty corpus: exit %d, want 1", code)
	}
}

func TestProcTree(t *testing.T) {
	pf, err := measure(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if pf.procs < 1 || pf.hwmKiB == 0 || pf.rssKiB == 0 || pf.threads < 1 {
		t.Errorf("measure(self) = %+v", pf)
	}
	if busy, total, err := cpuTimes(); err != nil || busy == 0 || total < busy {
		t.Errorf("cpuTimes() = %d, %d, %v", busy, total, err)
	}
	if _, err := measure(1 << 30); err == nil {
		t.Error("measure of a missing pid: no error")
	}
}

func TestResetPeaks(t *testing.T) {
	// Touch 64 MiB, give it back, and the peak must fall with a reset.
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	b = nil
	debug.FreeOSMemory()
	high, err := measure(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := resetPeaks(os.Getpid()); err != nil {
		t.Skipf("resetPeaks(self): %v (needs /proc/PID/clear_refs)", err)
	}
	low, _ := measure(os.Getpid())
	if high.hwmKiB < 64<<10 || low.hwmKiB > high.hwmKiB-32<<10 {
		t.Errorf("VmHWM %d KiB after touching 64 MiB, %d KiB after the reset", high.hwmKiB, low.hwmKiB)
	}
}
