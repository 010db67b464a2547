package mtatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-milter"
)

// testMilter is a trivial go-milter server: it adds "X-Test: 1" to every
// message and records the macros it saw at each stage.
type testMilter struct {
	path string
	ln   net.Listener
	srv  *milter.Server
	done chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]bool
	// seen[stage] lists, per callback, the macros present (braces stripped).
	seen map[string][]map[string]string
	// mailTLS records, per MAIL FROM, the {tls_version} visible then.
	mailTLS []string
	// noSymList: do not request macros (OptSetSymList).
	noSymList bool
}

// trackingListener remembers accepted connections so Stop can cut them.
type trackingListener struct {
	net.Listener
	m *testMilter
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.m.mu.Lock()
		l.m.conns[c] = true
		l.m.mu.Unlock()
	}
	return c, err
}

// startTestMilter listens on the unix socket path (mode 0666, so that
// Postfix's processes running as user postfix can connect) and serves until
// Stop or the end of the test.
func startTestMilter(t *testing.T, path string) *testMilter {
	t.Helper()
	return startTestMilterSymList(t, path, true)
}

// startTestMilterSymList is startTestMilter; symList false makes the milter
// ask for no macros, so it sees only what the MTA's configuration sends.
func startTestMilterSymList(t *testing.T, path string, symList bool) *testMilter {
	t.Helper()
	m := &testMilter{path: path, conns: map[net.Conn]bool{}, seen: map[string][]map[string]string{}, noSymList: !symList}
	m.start(t)
	t.Cleanup(m.Stop)
	return m
}

func (m *testMilter) start(t *testing.T) {
	t.Helper()
	os.Remove(m.path)
	ln, err := net.Listen("unix", m.path)
	if err != nil {
		t.Fatalf("milter listen: %v", err)
	}
	if err := os.Chmod(m.path, 0o666); err != nil {
		t.Fatal(err)
	}
	m.ln = trackingListener{ln, m}
	m.srv = &milter.Server{
		NewMilter: func() milter.Milter { return &testSession{m: m} },
		// NOTES §1: request macros for every stage (Postfix empties the
		// lists of the stages not named), never the OptNo*Reply flags, and
		// always OptNoUnknown.
		Actions:  milter.OptAddHeader | milter.OptSetSymList,
		Protocol: milter.OptNoUnknown,
		SymList: map[milter.Stage][]string{
			milter.StageConnect:  {"j", "{daemon_name}", "v", "_"},
			milter.StageHelo:     {"{tls_version}", "{cipher}", "{cipher_bits}"},
			milter.StageMailFrom: {"i", "{mail_addr}", "{tls_version}", "{cipher}"},
			milter.StageRcptTo:   {"{rcpt_addr}", "{tls_version}"},
			milter.StageData:     {"i"},
			milter.StageEOH:      {"i"},
			milter.StageEOM:      {"i", "{tls_version}"},
		},
	}
	if m.noSymList {
		m.srv.Actions &^= milter.OptSetSymList
		m.srv.SymList = nil
	}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		m.srv.Serve(m.ln) // returns when the listener is closed
	}()
}

// Stop closes the listener (which removes the socket) and every open milter
// connection. Server.Close is not used: it writes a field Serve reads
// without synchronisation.
func (m *testMilter) Stop() {
	if m.ln == nil {
		return
	}
	m.ln.Close()
	<-m.done
	m.mu.Lock()
	for c := range m.conns {
		c.Close()
	}
	m.conns = map[net.Conn]bool{}
	m.mu.Unlock()
	m.ln = nil
}

func (m *testMilter) record(stage string, macros map[string]string) {
	cp := map[string]string{}
	for k, v := range macros {
		cp[strings.Trim(k, "{}")] = v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[stage] = append(m.seen[stage], cp)
	if stage == "mail" {
		m.mailTLS = append(m.mailTLS, cp["tls_version"])
	}
}

// sawMacro returns the values macro had at stage, in order.
func (m *testMilter) sawMacro(stage, macro string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var vs []string
	for _, ms := range m.seen[stage] {
		if v, ok := ms[macro]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

func (m *testMilter) mailTLSVersions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.mailTLS...)
}

type testSession struct {
	milter.NoOpMilter
	m *testMilter
}

func (s *testSession) Helo(name string, mod *milter.Modifier) (milter.Response, error) {
	s.m.record("helo", mod.Macros)
	return milter.RespContinue, nil
}

func (s *testSession) MailFrom(from string, mod *milter.Modifier) (milter.Response, error) {
	s.m.record("mail", mod.Macros)
	return milter.RespContinue, nil
}

func (s *testSession) Body(mod *milter.Modifier) (milter.Response, error) {
	s.m.record("eom", mod.Macros)
	if err := mod.AddHeader("X-Test", "1"); err != nil {
		return nil, err
	}
	return milter.RespAccept, nil
}

// setup starts a test milter and an MTA of kind using it, and logs how long
// the MTA took to start.
func setup(t *testing.T, kind MTAKind) (MTA, *testMilter) {
	t.Helper()
	sock := SocketPath(t, "milter.sock")
	m := startTestMilter(t, sock)
	start := time.Now()
	mta := StartMTA(t, kind, MilterOptions{Milter: "unix:" + sock, DefaultAction: "tempfail"})
	t.Logf("%s started in %v on %s", kind, time.Since(start).Round(time.Millisecond), mta.SMTPAddr())
	return mta, m
}

func message(subject string) []byte {
	return []byte("From: Alice <alice@example.org>\n" +
		"To: Bob <bob@example.net>\n" +
		"Subject: " + subject + "\n" +
		"Message-ID: <" + subject + "@example.org>\n" +
		"Date: Mon, 2 Jun 2025 10:00:00 +0000\n" +
		"\n" +
		"Hello Bob.\n" +
		".a line that starts with a dot\n")
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func checkDelivered(t *testing.T, d Delivered, subject string) {
	t.Helper()
	if got := d.Header.Get("Subject"); got != subject {
		t.Errorf("%s: Subject = %q, want %q", d.Path, got, subject)
	}
	if got := d.Header.Get("X-Test"); got != "1" {
		t.Errorf("%s: X-Test = %q, want %q (milter header missing)\n%s", d.Path, got, "1", d.Raw)
	}
	if !strings.Contains(string(d.Body), "\n.a line that starts with a dot\n") {
		t.Errorf("%s: body lost its dot line (dot-stuffing):\n%s", d.Path, d.Body)
	}
}

func forEachMTA(t *testing.T, f func(t *testing.T, kind MTAKind)) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f(t, kind)
		})
	}
}

func TestPlain(t *testing.T) {
	forEachMTA(t, func(t *testing.T, kind MTAKind) {
		mta, _ := setup(t, kind)
		r, err := Send(ctx(t), mta.SMTPAddr(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Data: message("plain")})
		if err != nil {
			t.Fatalf("Send = %v, %v; want 250", r, err)
		}
		if r.Code != 250 || r.Stage != StageMessage {
			t.Fatalf("Send = %+v, want 250 at %s", r, StageMessage)
		}
		ds := mta.WaitDelivered(t, 1, 10*time.Second)
		if len(ds) != 1 {
			t.Fatalf("%d messages delivered, want 1", len(ds))
		}
		checkDelivered(t, ds[0], "plain")
	})
}

func TestStartTLS(t *testing.T) {
	forEachMTA(t, func(t *testing.T, kind MTAKind) {
		mta, m := setup(t, kind)
		r, err := Send(ctx(t), mta.SMTPAddr(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Data: message("tls"), StartTLS: true})
		if err != nil {
			t.Fatalf("Send = %v, %v; want 250", r, err)
		}
		ds := mta.WaitDelivered(t, 1, 10*time.Second)
		checkDelivered(t, ds[0], "tls")
		received := strings.Join(ds[0].Header["Received"], "\n")
		if !strings.Contains(received, "TLSv1.") {
			t.Errorf("Received does not record TLS:\n%s", received)
		}
		helo, mail := m.sawMacro("helo", "tls_version"), m.mailTLSVersions()
		t.Logf("{tls_version} at HELO %q, at MAIL %q, at end of message %q", helo, mail, m.sawMacro("eom", "tls_version"))
		found := false
		for _, v := range append(helo, mail...) {
			if strings.HasPrefix(v, "TLSv1.") {
				found = true
			}
		}
		if !found {
			t.Errorf("milter never saw {tls_version} at HELO or MAIL")
		}
	})
}

func TestTwoMessagesOneConnection(t *testing.T) {
	forEachMTA(t, func(t *testing.T, kind MTAKind) {
		mta, m := setup(t, kind)
		ms := []Mail{
			{From: "alice@example.org", To: []string{"bob@example.net"}, Data: message("first")},
			{From: "carol@example.org", To: []string{"dave@example.com"}, Data: message("second")},
		}
		rs, err := SendMany(ctx(t), mta.SMTPAddr(), ms, true)
		if err != nil {
			t.Fatalf("SendMany = %v, %v", rs, err)
		}
		if len(rs) != 2 || rs[0].Code != 250 || rs[1].Code != 250 {
			t.Fatalf("SendMany replies = %v, want two 250s", rs)
		}
		if rs[0].Text == rs[1].Text {
			t.Errorf("both replies are %q: one message accepted twice?", rs[0].Text)
		}
		ds := mta.WaitDelivered(t, 2, 10*time.Second)
		if len(ds) != 2 {
			t.Fatalf("%d messages delivered, want 2", len(ds))
		}
		subjects := map[string]bool{}
		for _, d := range ds {
			subjects[d.Header.Get("Subject")] = true
			if d.Header.Get("X-Test") != "1" {
				t.Errorf("%s: no X-Test header", d.Path)
			}
		}
		if !subjects["first"] || !subjects["second"] {
			t.Errorf("delivered subjects %v, want first and second", subjects)
		}
		// The TLS session is announced again at MAIL for each message (the
		// milter loses HELO data after the first message, NOTES §1).
		tlsAtMail := m.mailTLSVersions()
		if len(tlsAtMail) != 2 || !strings.HasPrefix(tlsAtMail[0], "TLSv1.") || !strings.HasPrefix(tlsAtMail[1], "TLSv1.") {
			t.Errorf("{tls_version} at MAIL per message = %q, want TLSv1.x twice", tlsAtMail)
		}
	})
}

func TestMilterDownTempfails(t *testing.T) {
	forEachMTA(t, func(t *testing.T, kind MTAKind) {
		mta, m := setup(t, kind)
		addr := mta.SMTPAddr()
		mail := Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Data: message("retry")}

		m.Stop()
		r, err := Send(ctx(t), addr, mail)
		var rerr *ReplyError
		if !errors.As(err, &rerr) || !r.Temporary() {
			t.Fatalf("Send with the milter down = %v, %v; want a 4xx reply", r, err)
		}
		t.Logf("milter down: %s at %s", r, r.Stage)
		// Nothing may slip through unfiltered, nor wait in the queue: the
		// client keeps the message.
		time.Sleep(500 * time.Millisecond)
		if ds := mta.Deliveries(t); len(ds) != 0 {
			t.Fatalf("%d message(s) delivered although the milter was down", len(ds))
		}
		if q := mta.Queued(t); len(q) != 0 {
			t.Fatalf("queue holds %+v although the client got %s", q, r)
		}

		// The client retries once the milter is back: delivered, labelled.
		m.start(t)
		r, err = Send(ctx(t), addr, mail)
		if err != nil {
			t.Fatalf("Send after the milter came back = %v, %v", r, err)
		}
		ds := mta.WaitDelivered(t, 1, 10*time.Second)
		checkDelivered(t, ds[0], "retry")
	})
}

func TestHoldQueueEmpty(t *testing.T) {
	// Postfix without a milter: postqueue -j works on a private instance.
	p := StartPostfix(t, PostfixOptions{})
	if q := p.HoldQueue(t); len(q) != 0 {
		t.Errorf("HoldQueue = %+v, want empty", q)
	}
}

func TestSendRejectionReply(t *testing.T) {
	// A milter that rejects at end of message: the Reply carries the code,
	// the enhanced code and the text.
	forEachMTA(t, func(t *testing.T, kind MTAKind) {
		sock := serveMilter(t, milter.OptAddHeader, func() milter.Milter { return rejecter{} })
		mta := StartMTA(t, kind, MilterOptions{Milter: "unix:" + sock})
		r, err := Send(ctx(t), mta.SMTPAddr(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Data: message("reject")})
		if err == nil || r.Code != 550 || r.Enhanced() != "5.7.1" || !strings.Contains(r.Text, "sealtag test rejection") {
			t.Fatalf("Send = %v (%+v), %v; want 550 5.7.1 … sealtag test rejection", r, r, err)
		}
		if r.Stage != StageMessage {
			t.Errorf("rejected at stage %q, want %q", r.Stage, StageMessage)
		}
	})
}

type rejecter struct{ milter.NoOpMilter }

// contribSendmailMC is the Sendmail configuration the project ships.
const contribSendmailMC = "../../contrib/sendmail/sealtag.mc"

func TestContribSendmailMC(t *testing.T) {
	// The shipped lines, verbatim but for socket and fail mode, in a real
	// Sendmail: the milter is called, and its macro lists deliver the TLS
	// session at MAIL FROM and at end of message even to a milter that
	// requests no macros itself.
	mc, err := os.ReadFile(contribSendmailMC)
	if err != nil {
		t.Fatalf("reading the shipped Sendmail configuration: %v", err)
	}
	sock := SocketPath(t, "milter.sock")
	m := startTestMilterSymList(t, sock, false)
	s := StartSendmail(t, SendmailOptions{Milter: "unix:" + sock, MilterMC: string(mc)})
	cf, err := os.ReadFile(s.Dir() + "/sendmail.cf")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Xsealtag, S=unix:" + sock + ", F=T,"; !strings.Contains(string(cf), want) {
		t.Errorf("sendmail.cf has no %q", want)
	}
	r, err := Send(ctx(t), s.SMTPAddr(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Data: message("contrib"), StartTLS: true})
	if err != nil {
		t.Fatalf("Send = %v, %v; want 250", r, err)
	}
	checkDelivered(t, s.WaitDelivered(t, 1, 10*time.Second)[0], "contrib")
	if got := m.mailTLSVersions(); len(got) != 1 || !strings.HasPrefix(got[0], "TLSv1.") {
		t.Errorf("{tls_version} at MAIL FROM = %q, want TLSv1.x (confMILTER_MACROS_ENVFROM)", got)
	}
	if got := m.sawMacro("eom", "tls_version"); len(got) != 1 || !strings.HasPrefix(got[0], "TLSv1.") {
		t.Errorf("{tls_version} at end of message = %q, want TLSv1.x (confMILTER_MACROS_EOM)", got)
	}
	if got := m.sawMacro("eom", "i"); len(got) != 1 || got[0] == "" {
		t.Errorf("queue id {i} at end of message = %q, want one", got)
	}
}

// serveMilter serves a go-milter on a fresh unix socket until the test ends
// and returns the socket path.
func serveMilter(t *testing.T, actions milter.OptAction, newMilter func() milter.Milter) string {
	t.Helper()
	sock := SocketPath(t, "m.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(sock, 0o666)
	srv := &milter.Server{NewMilter: newMilter, Actions: actions, Protocol: milter.OptNoUnknown}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { ln.Close(); <-done })
	return sock
}

type quarantiner struct{ milter.NoOpMilter }

func (quarantiner) Body(m *milter.Modifier) (milter.Response, error) {
	if err := m.Quarantine("sealtag test quarantine"); err != nil {
		return nil, err
	}
	return milter.RespAccept, nil
}

func TestQuarantineQueued(t *testing.T) {
	// A milter's quarantine: Postfix moves the message to the hold queue,
	// Sendmail renames its queue file to hf…; Queued (and HoldQueue) see it,
	// and nothing is delivered.
	forEachMTA(t, func(t *testing.T, kind MTAKind) {
		sock := serveMilter(t, milter.OptQuarantine, func() milter.Milter { return quarantiner{} })
		mta := StartMTA(t, kind, MilterOptions{Milter: "unix:" + sock})
		r, err := Send(ctx(t), mta.SMTPAddr(), Mail{From: "alice@example.org", To: []string{"bob@example.net", "carol@example.com"}, Data: message("held")})
		if err != nil {
			t.Fatalf("Send = %v, %v; want 250", r, err)
		}
		var q []QueueEntry
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if q = mta.Queued(t); len(q) == 1 && (q[0].Queue == "hold" || q[0].Queue == "quarantine") {
				break
			}
		}
		if len(q) != 1 {
			t.Fatalf("Queued = %+v, want the quarantined message", q)
		}
		e := q[0]
		wantQueue := map[MTAKind]string{KindPostfix: "hold", KindSendmail: "quarantine"}[kind]
		if e.Queue != wantQueue || e.Sender != "alice@example.org" || strings.Join(e.Recipients, ",") != "bob@example.net,carol@example.com" || e.QueueID == "" {
			t.Errorf("Queued = %+v, want queue %q, sender alice@example.org, recipients bob@example.net,carol@example.com", e, wantQueue)
		}
		if kind == KindSendmail && e.Reason != "sealtag test quarantine" {
			t.Errorf("quarantine reason = %q, want %q", e.Reason, "sealtag test quarantine")
		}
		if p, ok := mta.(*Postfix); ok {
			if h := p.HoldQueue(t); len(h) != 1 || h[0].QueueID != e.QueueID {
				t.Errorf("HoldQueue = %+v, want %+v", h, e)
			}
		}
		if ds := mta.Deliveries(t); len(ds) != 0 {
			t.Errorf("%d message(s) delivered, want none (quarantined)", len(ds))
		}
	})
}

func TestMilterDownAccept(t *testing.T) {
	// DefaultAction "accept" (Postfix milter_default_action = accept,
	// Sendmail without F=): mail passes unfiltered when the milter is down.
	forEachMTA(t, func(t *testing.T, kind MTAKind) {
		sock := SocketPath(t, "absent.sock") // nobody listens
		mta := StartMTA(t, kind, MilterOptions{Milter: "unix:" + sock, DefaultAction: "accept"})
		r, err := Send(ctx(t), mta.SMTPAddr(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Data: message("open")})
		if err != nil {
			t.Fatalf("Send = %v, %v; want 250", r, err)
		}
		ds := mta.WaitDelivered(t, 1, 10*time.Second)
		if got := ds[0].Header.Get("X-Test"); got != "" {
			t.Errorf("X-Test = %q without a milter", got)
		}
	})
}

func (rejecter) Body(*milter.Modifier) (milter.Response, error) {
	return milter.NewResponseStr(byte(milter.ActReplyCode), "550 5.7.1 sealtag test rejection"), nil
}

// fakeTB records Fatalf and Skipf instead of stopping the test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skip = fmt.Sprintf(format, a...) }

func TestMissingPeer(t *testing.T) {
	for _, tc := range []struct {
		env       string
		wantFatal bool
	}{{"", false}, {"0", false}, {"1", true}} {
		t.Setenv(RequirePeersEnv, tc.env)
		f := &fakeTB{TB: t}
		MissingPeer(f, "swaks", "apt-get install swaks")
		if gotFatal := f.fatal != ""; gotFatal != tc.wantFatal || (f.fatal == "" && f.skip == "") {
			t.Errorf("%s=%q: fatal %q, skip %q; want fatal=%v", RequirePeersEnv, tc.env, f.fatal, f.skip, tc.wantFatal)
		}
		if msg := f.fatal + f.skip; !strings.Contains(msg, "apt-get install swaks") {
			t.Errorf("message %q does not say what to install", msg)
		}
	}
}

func TestSendmailSocket(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"unix:/tmp/x.sock", "unix:/tmp/x.sock"},
		{"local:/tmp/x.sock", "local:/tmp/x.sock"},
		{"inet:127.0.0.1:10031", "inet:10031@127.0.0.1"},
		{"inet:10031@127.0.0.1", "inet:10031@127.0.0.1"},
		{"", ""},
	} {
		if got, err := sendmailSocket(tc.in); err != nil || got != tc.want {
			t.Errorf("sendmailSocket(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := sendmailSocket("tcp:1"); err == nil {
		t.Errorf("sendmailSocket(%q) = nil error, want one", "tcp:1")
	}
}

func TestReplyEnhanced(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"5.7.1 rejected", "5.7.1"},
		{"4.7.1 Service unavailable", "4.7.1"},
		{"Ok", ""},
		{"mta.sealtag.test ESMTP", ""},
	} {
		if got := (Reply{Code: 250, Text: tc.text}).Enhanced(); got != tc.want {
			t.Errorf("Reply{Text: %q}.Enhanced() = %q, want %q", tc.text, got, tc.want)
		}
	}
}
