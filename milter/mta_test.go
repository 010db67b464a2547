package milter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"sealtag/internal/mtatest"
	"sealtag/policy"
)

// mtaPolicy is the policy of the end-to-end tests: one recipient per case.
// The socket is world-writable in its private 0755 directory: Postfix's
// processes connect as user postfix.
const mtaPolicy = "socket_mode = \"0666\"\n" + mtaRules

const mtaRules = `
[[policy.rules]]
name = "no-encrypted-mail-to-support"
match.encryption = ["smime-encrypted", "pgp-encrypted", "pgp-inline-encrypted", "proprietary-ome"]
match.recipient = "support@example.com"
action = "reject"
reply = "550 5.7.1 Our help desk cannot read encrypted mail; please resend it unencrypted"

[[policy.rules]]
name = "later"
match.recipient = "later@example.com"
action = "tempfail"
reply = "451 4.7.1 Please try again later"

[[policy.rules]]
name = "hold"
match.recipient = "hold@example.com"
action = "quarantine"

[[policy.rules]]
name = "tag-encrypted"
match.encryption = ["pgp-inline-encrypted", "smime-encrypted"]
match.recipient = "desk@example.com"
action = "accept"
subject_tag = "[encrypted] "
`

// liveMilter is a sealtag Server on a unix socket an MTA can reach.
type liveMilter struct {
	srv  *Server
	path string
	done chan error
	logs *logBuffer
}

func startLiveMilter(t *testing.T, path, doc string) *liveMilter {
	t.Helper()
	cfg, err := policy.Parse([]byte("listen = \"unix:"+path+"\"\n"+doc), "e2e.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	srv := NewServer(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	ln, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &liveMilter{srv: srv, path: path, done: make(chan error, 1), logs: logs}
	go func() { m.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("sealtag log:\n%s", logs)
		}
	})
	return m
}

// stop shuts the milter down (idempotent).
func (m *liveMilter) stop() {
	if m.done == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.srv.Shutdown(ctx)
	<-m.done
	m.done = nil
}

// e2eMessage builds a message with a unique subject.
func e2eMessage(subject, extraHeaders, body string) []byte {
	return []byte("From: Alice <alice@example.org>\nTo: support@example.com\nSubject: " + subject +
		"\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.org>\n" + extraHeaders + "\n" + body)
}

// deliveredBySubject waits for the message with that subject.
func deliveredBySubject(t *testing.T, mta mtatest.MTA, subject string) mtatest.Delivered {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, d := range mta.Deliveries(t) {
			if d.Header.Get("Subject") == subject {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q was not delivered\n%s", mta.Name(), subject, mta.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notDelivered checks that no message with that subject arrived.
func notDelivered(t *testing.T, mta mtatest.MTA, subject string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	for _, d := range mta.Deliveries(t) {
		if d.Header.Get("Subject") == subject {
			t.Errorf("%s: %q was delivered", mta.Name(), subject)
		}
	}
}

// sealtagHeaders returns every X-Sealtag-* header of a delivered message,
// lower-case name → values (so forged spellings are counted together).
func sealtagHeaders(d mtatest.Delivered) map[string][]string {
	out := map[string][]string{}
	for name, vs := range d.Header {
		if k := strings.ToLower(name); strings.HasPrefix(k, "x-sealtag-") {
			out[k] = append(out[k], vs...)
		}
	}
	return out
}

// wantHeaders checks that each named header occurs exactly once with the value.
func wantHeaders(t *testing.T, mta mtatest.MTA, d mtatest.Delivered, want map[string]string) {
	t.Helper()
	got := sealtagHeaders(d)
	for name, v := range want {
		vs := got[strings.ToLower(name)]
		if len(vs) != 1 || vs[0] != v {
			t.Errorf("%s: %s = %q, want exactly one %q\n%s", mta.Name(), name, vs, v, d.Raw)
		}
	}
	for _, name := range []string{"encryption", "tls", "relay", "thread", "policy"} {
		if n := len(got["x-sealtag-"+name]); n != 1 {
			t.Errorf("%s: %d X-Sealtag-%s headers, want 1\n%s", mta.Name(), n, name, d.Raw)
		}
	}
}

// TestWithRealMTAs runs the core cases through a private Postfix and a
// private Sendmail 8.17 with sealtag attached.
func TestWithRealMTAs(t *testing.T) {
	for _, kind := range mtatest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			testWithMTA(t, kind)
		})
	}
}

func testWithMTA(t *testing.T, kind mtatest.MTAKind) {
	sock := mtatest.SocketPath(t, "sealtag.sock")
	milter := startLiveMilter(t, sock, mtaPolicy)
	mta := mtatest.StartMTA(t, kind, mtatest.MilterOptions{Milter: "unix:" + sock, DefaultAction: "tempfail"})
	addr := mta.SMTPAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	send := func(t *testing.T, m mtatest.Mail) mtatest.Reply {
		t.Helper()
		r, err := mtatest.Send(ctx, addr, m)
		var re *mtatest.ReplyError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("%s: send: %v", kind, err)
		}
		return r
	}
	encrypted, err := os.ReadFile("../testdata/messages/smime-encrypted-openssl-cms.eml")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("plain", func(t *testing.T) {
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"info@example.com"}, Data: e2eMessage("e2e plain", "", "hello\n")})
		if r.Code != 250 {
			t.Fatalf("reply %s", r)
		}
		d := deliveredBySubject(t, mta, "e2e plain")
		wantHeaders(t, mta, d, map[string]string{
			"X-Sealtag-Encryption": "none", "X-Sealtag-TLS": "none", "X-Sealtag-Relay": "none",
			"X-Sealtag-Thread": "new", "X-Sealtag-Policy": "accept; rule=default",
		})
	})

	t.Run("starttls", func(t *testing.T) {
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"info@example.com"}, StartTLS: true, Data: e2eMessage("e2e tls", "", "hello\n")})
		if r.Code != 250 {
			t.Fatalf("reply %s", r)
		}
		d := deliveredBySubject(t, mta, "e2e tls")
		tls := sealtagHeaders(d)["x-sealtag-tls"]
		if len(tls) != 1 || !strings.HasPrefix(tls[0], "TLSv1.3; cipher=TLS_") || !strings.Contains(tls[0], "; bits=") {
			t.Errorf("X-Sealtag-TLS = %q, want TLSv1.3 with cipher and bits", tls)
		}
	})

	t.Run("two messages on one connection", func(t *testing.T) {
		replies, err := mtatest.SendMany(ctx, addr, []mtatest.Mail{
			{From: "alice@example.org", To: []string{"info@example.com"}, Data: e2eMessage("e2e first", "", "one\n")},
			{From: "alice@example.org", To: []string{"info@example.com"}, Data: e2eMessage("e2e second", "", "two\n")},
		}, true)
		if err != nil || len(replies) != 2 {
			t.Fatalf("SendMany: %v %v", replies, err)
		}
		for _, s := range []string{"e2e first", "e2e second"} {
			d := deliveredBySubject(t, mta, s)
			if tls := sealtagHeaders(d)["x-sealtag-tls"]; len(tls) != 1 || !strings.HasPrefix(tls[0], "TLSv1.3") {
				t.Errorf("%s: X-Sealtag-TLS = %q", s, tls)
			}
		}
	})

	t.Run("encrypted to support is rejected", func(t *testing.T) {
		msg := strings.Replace(string(encrypted), "Subject:", "Subject: e2e encrypted\nX-Old-Subject:", 1)
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"support@example.com"}, Data: []byte(msg)})
		if r.Code != 550 || r.Text != "5.7.1 Our help desk cannot read encrypted mail; please resend it unencrypted" {
			t.Errorf("reply %s, want the rule's 550 text", r)
		}
		notDelivered(t, mta, "e2e encrypted")
	})

	t.Run("tempfail stays with the client", func(t *testing.T) {
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"later@example.com"}, Data: e2eMessage("e2e later", "", "x\n")})
		if r.Code != 451 || r.Enhanced() != "4.7.1" {
			t.Errorf("reply %s, want 451 4.7.1", r)
		}
		notDelivered(t, mta, "e2e later")
		for _, q := range mta.Queued(t) {
			if strings.Contains(strings.Join(q.Recipients, ","), "later@") {
				t.Errorf("tempfailed message queued by the MTA: %+v", q)
			}
		}
	})

	t.Run("quarantine", func(t *testing.T) {
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"hold@example.com"}, Data: e2eMessage("e2e hold", "", "x\n")})
		if r.Code != 250 {
			t.Fatalf("reply %s", r)
		}
		notDelivered(t, mta, "e2e hold")
		found := false
		for _, q := range mta.Queued(t) {
			found = found || (len(q.Recipients) == 1 && q.Recipients[0] == "hold@example.com" && (q.Queue == "hold" || q.Queue == "quarantine"))
		}
		if !found {
			t.Errorf("not in the hold/quarantine queue: %+v", mta.Queued(t))
		}
	})

	t.Run("forged headers", func(t *testing.T) {
		forged := "X-Sealtag-Encryption: none\nx-sealtag-policy: accept; rule=vip\nX-SEALTAG-POLICY: accept; rule=vip\nX-Sealtag-TLS: TLSv1.3; cipher=forged\nX-Sealtag-Relay:\n none\n"
		body := "-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdAzmAAAAAAAAAA\n-----END PGP MESSAGE-----\n"
		r := send(t, mtatest.Mail{From: "mallory@example.net", To: []string{"info@example.com"}, Data: e2eMessage("e2e forged", forged, body)})
		if r.Code != 250 {
			t.Fatalf("reply %s", r)
		}
		d := deliveredBySubject(t, mta, "e2e forged")
		wantHeaders(t, mta, d, map[string]string{
			"X-Sealtag-Encryption": "pgp-inline-encrypted; scope=outer", "X-Sealtag-TLS": "none",
			"X-Sealtag-Relay": "none", "X-Sealtag-Policy": "accept; rule=default",
		})
	})

	t.Run("forgery in every spelling", func(t *testing.T) {
		forged := "X-Sealtag-Encryption : none\n" + // whitespace before the colon
			"X-SEALTAG-RELAY:\tnone\n" +
			"x-sealtag-thread: reply;\n risk=none\n" + // folded
			"X-Sealtag-Policy: accept; rule=a\nX-Sealtag-Policy: accept; rule=b\nX-Sealtag-Policy: accept; rule=c\n" +
			"X-Sealtag-Anything-Else: x\n" +
			"Content-Type: multipart/mixed; boundary=b\n"
		body := "--b\nContent-Type: text/plain\n\nsee the attached message\n--b\nContent-Type: message/rfc822\n\n" +
			"From: inner@example.org\nSubject: inner\nX-Sealtag-Encryption: smime-encrypted; scope=outer\n\ninner body\n--b--\n"
		r := send(t, mtatest.Mail{From: "mallory@example.net", To: []string{"info@example.com"}, Data: e2eMessage("e2e spellings", forged, body)})
		if r.Code != 250 {
			t.Fatalf("reply %s", r)
		}
		d := deliveredBySubject(t, mta, "e2e spellings")
		got := sealtagHeaders(d)
		if len(got) != 5 {
			t.Errorf("%s: X-Sealtag-* headers %q, want sealtag's five only\n%s", kind, got, d.Raw)
		}
		wantHeaders(t, mta, d, map[string]string{
			"X-Sealtag-Encryption": "none", "X-Sealtag-Relay": "none", "X-Sealtag-Thread": "new",
			"X-Sealtag-Policy": "accept; rule=default",
		})
		// the enclosed message is content: its header stays as it was
		if !strings.Contains(string(d.Body), "X-Sealtag-Encryption: smime-encrypted; scope=outer") {
			t.Errorf("%s: the nested message's header was touched:\n%s", kind, d.Body)
		}
	})

	t.Run("internal error tempfails at the client", func(t *testing.T) {
		milter.srv.setFault(func(stage string) {
			if stage == "end of message" {
				panic("injected fault")
			}
		})
		defer func() { milter.srv.faultHook.Store(nil) }()
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"info@example.com"}, Data: e2eMessage("e2e fault", "", "x\n")})
		if r.Code != 451 || r.Text != "4.3.0 Temporary local problem, please try again later" {
			t.Errorf("reply %s, want on_error's 451 4.3.0", r)
		}
		notDelivered(t, mta, "e2e fault")
		if !strings.Contains(milter.logs.String(), "injected fault") {
			t.Errorf("the fault was not logged")
		}
	})

	t.Run("subject tag", func(t *testing.T) {
		body := "-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdAzmAAAAAAAAAA\n-----END PGP MESSAGE-----\n"
		for _, c := range []struct{ subject, want, extra string }{
			{"e2e tag", "[encrypted] e2e tag", ""},
			{"Re: [encrypted] e2e tag reply", "Re: [encrypted] e2e tag reply", "In-Reply-To: <e2e.tag@example.org>\n"},
		} {
			r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"desk@example.com"}, Data: e2eMessage(c.subject, c.extra, body)})
			if r.Code != 250 {
				t.Fatalf("reply %s", r)
			}
			d := deliveredBySubject(t, mta, c.want)
			if n := strings.Count(string(d.Raw), "\nSubject: "+c.want+"\n"); n != 1 {
				t.Errorf("%s: want one line \"Subject: %s\" in\n%s", kind, c.want, d.Raw)
			}
			wantHeaders(t, mta, d, map[string]string{"X-Sealtag-Policy": "accept; rule=tag-encrypted"})
		}
	})

	t.Run("monitor mode", func(t *testing.T) {
		old := milter.srv.Config()
		cfg, err := policy.Parse([]byte("listen = \"unix:"+sock+"\"\n[policy]\nmode = \"monitor\"\n"+mtaRules), "e2e.toml", nil)
		if err != nil {
			t.Fatal(err)
		}
		milter.srv.SetConfig(cfg) // what SIGHUP does
		defer milter.srv.SetConfig(old)
		msg := strings.Replace(string(encrypted), "Subject:", "Subject: e2e monitor\nX-Old-Subject:", 1)
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"support@example.com"}, Data: []byte(msg)})
		if r.Code != 250 {
			t.Fatalf("monitor mode refused: %s", r)
		}
		d := deliveredBySubject(t, mta, "e2e monitor")
		wantHeaders(t, mta, d, map[string]string{
			"X-Sealtag-Encryption": "smime-encrypted; scope=outer",
			"X-Sealtag-Policy":     "reject; rule=no-encrypted-mail-to-support; mode=monitor",
		})
	})

	t.Run("milter stopped", func(t *testing.T) {
		milter.stop()
		r := send(t, mtatest.Mail{From: "alice@example.org", To: []string{"info@example.com"}, Data: e2eMessage("e2e milter down", "", "x\n")})
		if !r.Temporary() {
			t.Errorf("with the milter down: %s, want a 4xx (milter_default_action = tempfail)", r)
		}
		notDelivered(t, mta, "e2e milter down")
		// The client still has it; once sealtag is back the retry goes through.
		startLiveMilter(t, sock, mtaPolicy)
		waitSocket(t, sock)
		r = send(t, mtatest.Mail{From: "alice@example.org", To: []string{"info@example.com"}, Data: e2eMessage("e2e milter down", "", "x\n")})
		if r.Code != 250 {
			t.Fatalf("retry: %s", r)
		}
		d := deliveredBySubject(t, mta, "e2e milter down")
		wantHeaders(t, mta, d, map[string]string{"X-Sealtag-Policy": "accept; rule=default"})
	})
}

// waitSocket waits until a unix socket accepts connections.
func waitSocket(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("socket %s does not answer", path)
}
