package milter

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	gomilter "github.com/emersion/go-milter"
)

var tls13 = []string{"{tls_version}", "TLSv1.3", "{cipher}", "TLS_AES_256_GCM_SHA384", "{cipher_bits}", "256"}

const plainMsg = "From: Alice <alice@example.org>\nTo: support@example.com\nSubject: Hello\n\nHi there.\n"

func readMsg(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/messages/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestPlainMessage(t *testing.T) {
	ts := startMilter(t, "")
	m := ts.connect(t)
	o := m.send("alice@example.org", []string{"support@example.com"}, plainMsg, "i", "4XyZ1")
	if o.action.Code != gomilter.ActContinue {
		t.Fatalf("action %c, want continue (accept)", o.action.Code)
	}
	want := map[string]string{
		"X-Sealtag-Encryption": "none",
		"X-Sealtag-TLS":        "none", // macros came, no TLS
		"X-Sealtag-Relay":      "none",
		"X-Sealtag-Thread":     "new",
		"X-Sealtag-Policy":     "accept; rule=default",
	}
	for name, v := range want {
		if got := o.added(name); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", name, got, v)
		}
	}
	if !strings.Contains(ts.log.String(), "queue_id=4XyZ1") || !strings.Contains(ts.log.String(), "action=accept rule=default") {
		t.Errorf("log line missing:\n%s", ts.log)
	}
}

func TestNoMacrosIsUnknown(t *testing.T) {
	ts := startMilter(t, "")
	c := gomilter.NewClientWithOptions("unix", ts.addr, gomilter.ClientOptions{ActionMask: gomilter.OptAddHeader | gomilter.OptChangeHeader})
	s, err := c.Session()
	must(t, err)
	defer s.Close()
	m := &mtaSession{t: t, s: s}
	m.cont(s.Conn("h", gomilter.FamilyInet, 1, "192.0.2.1"))
	m.cont(s.Helo("h"))
	o := m.send("a@example.org", []string{"b@example.org"}, plainMsg)
	if got := o.added("X-Sealtag-TLS"); len(got) != 1 || got[0] != "unknown" {
		t.Errorf("TLS without any macros = %q, want unknown", got)
	}
}

// TestTLSAcrossMessages: TLS macros come once, at HELO after STARTTLS;
// every message of the connection is tagged with them.
func TestTLSAcrossMessages(t *testing.T) {
	ts := startMilter(t, "")
	m := ts.connect(t, tls13...)
	for i := 0; i < 3; i++ {
		o := m.send("a@example.org", []string{"b@example.org"}, plainMsg, "i", "Q"+string(rune('1'+i)))
		if got := o.added("X-Sealtag-TLS"); len(got) != 1 || got[0] != "TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256" {
			t.Errorf("message %d: TLS = %q", i+1, got)
		}
		must(t, m.s.Abort()) // Postfix aborts between transactions (NOTES §7)
	}
}

func TestForgedHeadersRemoved(t *testing.T) {
	ts := startMilter(t, "")
	m := ts.connect(t)
	msg := "X-Sealtag-Encryption: none\nFrom: a@example.org\nx-sealtag-tls: TLSv1.3\nX-SEALTAG-TLS: TLSv1.2\nX-Sealtag-Policy: accept; rule=forged\nX-Sealtag-Policy:\n  accept\nX-Sealtag-Relayed: yes\nX-Other: keep\nSubject: forged\n\nbody\n"
	o := m.send("a@example.org", []string{"b@example.org"}, msg)
	got := o.deleted()
	// per name (any case), highest index first
	want := []string{"X-Sealtag-Encryption[1]", "X-Sealtag-Policy[2]", "X-Sealtag-Policy[1]", "X-Sealtag-Relayed[1]", "X-SEALTAG-TLS[2]", "x-sealtag-tls[1]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deleted %q, want %q", got, want)
	}
	// every deletion comes before the additions
	seenAdd := false
	for _, mod := range o.mods {
		if mod.Code == gomilter.ActAddHeader {
			seenAdd = true
		} else if seenAdd {
			t.Errorf("a change after an addition: %+v", mod)
		}
	}
	if got := o.added("X-Sealtag-TLS"); len(got) != 1 || got[0] != "none" {
		t.Errorf("true TLS header = %q", got)
	}
}

const rejectPolicy = `
[[policy.rules]]
name = "no-encrypted"
match.encryption = ["smime-encrypted", "pgp-encrypted"]
match.recipient = "support@example.com"
action = "reject"
reply = "550 5.7.1 Our help desk cannot read encrypted mail"

[[policy.rules]]
name = "later"
match.recipient = "later@example.com"
action = "tempfail"

[[policy.rules]]
name = "hold"
match.recipient = "hold@example.com"
action = "quarantine"

[[policy.rules]]
name = "drop"
match.recipient = "drop@example.com"
action = "discard"
`

func TestVerdicts(t *testing.T) {
	ts := startMilter(t, rejectPolicy)
	m := ts.connect(t, tls13...)
	enc := readMsg(t, "smime-encrypted-openssl-smime.eml")

	o := m.send("a@example.org", []string{"support@example.com"}, enc)
	if o.action.Code != gomilter.ActReplyCode || o.action.SMTPCode != 550 || o.action.SMTPText != "5.7.1 Our help desk cannot read encrypted mail" || len(o.mods) != 0 {
		t.Errorf("reject: %+v %+v", o.action, o.mods)
	}
	o = m.send("a@example.org", []string{"later@example.com"}, plainMsg)
	if o.action.Code != gomilter.ActReplyCode || o.action.SMTPCode != 451 || !strings.HasPrefix(o.action.SMTPText, "4.7.1 ") {
		t.Errorf("tempfail: %+v", o.action)
	}
	o = m.send("a@example.org", []string{"hold@example.com"}, plainMsg)
	quarantined := false
	for _, mod := range o.mods {
		quarantined = quarantined || (mod.Code == gomilter.ActQuarantine && mod.Reason == "sealtag rule hold")
	}
	if !quarantined || o.action.Code != gomilter.ActContinue || o.added("X-Sealtag-Policy")[0] != "quarantine; rule=hold" {
		t.Errorf("quarantine: %+v %+v", o.action, o.mods)
	}
	o = m.send("a@example.org", []string{"drop@example.com"}, plainMsg)
	if o.action.Code != gomilter.ActDiscard {
		t.Errorf("discard: %+v", o.action)
	}
	// After a discard go-milter gives the connection a fresh backend; the
	// next message still gets TLS from the MAIL-stage macros.
	o = m.send("a@example.org", []string{"x@example.com"}, plainMsg, tls13...)
	if got := o.added("X-Sealtag-TLS"); len(got) != 1 || !strings.HasPrefix(got[0], "TLSv1.3") {
		t.Errorf("after discard: TLS = %q", got)
	}
}

func TestMonitorMode(t *testing.T) {
	ts := startMilter(t, "[policy]\nmode = \"monitor\"\n"+rejectPolicy)
	m := ts.connect(t)
	o := m.send("a@example.org", []string{"support@example.com"}, readMsg(t, "pgp-encrypted-pubkey.eml"))
	if o.action.Code != gomilter.ActContinue {
		t.Errorf("monitor mode refused the message: %+v", o.action)
	}
	if got := o.added("X-Sealtag-Policy"); len(got) != 1 || got[0] != "reject; rule=no-encrypted; mode=monitor" {
		t.Errorf("policy header %q", got)
	}
	if !strings.Contains(ts.log.String(), "action=accept rule=no-encrypted mode=monitor would=reject") {
		t.Errorf("log:\n%s", ts.log)
	}
}

// TestInternalError: a failure anywhere in a message ends in on_error.
func TestInternalError(t *testing.T) {
	for _, stage := range []string{"mail", "header", "body", "end of message"} {
		t.Run(stage, func(t *testing.T) {
			ts := startMilter(t, "")
			ts.srv.setFault(func(s string) {
				if s == stage {
					panic("injected fault")
				}
			})
			m := ts.connect(t)
			o := m.send("a@example.org", []string{"b@example.org"}, plainMsg, "i", "ERR1")
			if o.action.Code != gomilter.ActReplyCode || o.action.SMTPCode != 451 || o.action.SMTPText != "4.3.0 Temporary local problem, please try again later" {
				t.Errorf("on_error tempfail: %+v", o.action)
			}
			logs := ts.log.String()
			if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "queue_id=ERR1") || !strings.Contains(logs, "injected fault") || !strings.Contains(logs, "rule=on_error") {
				t.Errorf("error not logged with the queue id:\n%s", logs)
			}
			// the daemon serves the next message
			ts.srv.faultHook.Store(nil)
			if o := m.send("a@example.org", []string{"b@example.org"}, plainMsg); o.action.Code != gomilter.ActContinue {
				t.Errorf("next message: %+v", o.action)
			}
		})
	}
}

func TestOnErrorAcceptStillStripsForgery(t *testing.T) {
	ts := startMilter(t, "[policy]\non_error = \"accept\"\n")
	ts.srv.setFault(func(s string) {
		if s == "end of message" {
			panic("injected fault")
		}
	})
	m := ts.connect(t)
	o := m.send("a@example.org", []string{"b@example.org"}, "X-Sealtag-Encryption: none\nSubject: x\n\nbody\n")
	if o.action.Code != gomilter.ActContinue || len(o.deleted()) != 1 || o.added("X-Sealtag-Policy")[0] != "accept; rule=on_error" {
		t.Errorf("on_error accept: %+v deleted %q added %+v", o.action, o.deleted(), o.mods)
	}
}

// TestBigMessageStreams: a 20 MiB body goes through in 64 KiB chunks.
func TestBigMessageStreams(t *testing.T) {
	ts := startMilter(t, "")
	m := ts.connect(t)
	var b strings.Builder
	b.WriteString("Subject: big\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
	line := strings.Repeat("QUJD", 19) + "\n"
	for b.Len() < 20<<20 {
		b.WriteString(line)
	}
	b.WriteString("--b--\n")
	o := m.send("a@example.org", []string{"b@example.org"}, b.String())
	if got := o.added("X-Sealtag-Encryption"); len(got) != 1 || got[0] != "none" {
		t.Errorf("big message: %q", got)
	}
}

func TestSubjectTag(t *testing.T) {
	ts := startMilter(t, "[[policy.rules]]\nname = \"tag\"\nmatch.encryption = [\"pgp-inline-encrypted\", \"smime-encrypted\"]\naction = \"accept\"\nsubject_tag = \"[encrypted] \"\n")
	m := ts.connect(t)
	armor := "-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdAzmAAAAAAAAAA\n-----END PGP MESSAGE-----\n"
	subjectChange := func(o outcome) []string {
		var vs []string
		for _, mod := range o.mods {
			if (mod.Code == gomilter.ActChangeHeader || mod.Code == gomilter.ActAddHeader) && mod.HeaderName == "Subject" {
				vs = append(vs, strconv.Itoa(int(mod.HeaderIndex))+":"+mod.HeaderValue)
			}
		}
		return vs
	}
	o := m.send("a@example.org", []string{"b@example.org"}, "Subject: Help\nSubject: second\n\n"+armor)
	if got := subjectChange(o); !reflect.DeepEqual(got, []string{"1:[encrypted] Help"}) {
		t.Errorf("tag: %q", got)
	}
	o = m.send("a@example.org", []string{"b@example.org"}, "Subject: Re: [encrypted] Help\nIn-Reply-To: <x@y>\n\n"+armor)
	if got := subjectChange(o); got != nil {
		t.Errorf("a reply got tagged again: %q", got)
	}
	o = m.send("a@example.org", []string{"b@example.org"}, "From: a@example.org\n\n"+armor)
	if got := subjectChange(o); !reflect.DeepEqual(got, []string{"0:[encrypted]"}) {
		t.Errorf("no subject: %q", got)
	}
	o = m.send("a@example.org", []string{"b@example.org"}, plainMsg)
	if got := subjectChange(o); got != nil {
		t.Errorf("a plain message got tagged: %q", got)
	}
}
