package milter

import (
	"log/slog"
	"strings"
	"testing"
)

// secrets are strings a message carries that sealtag must never repeat:
// the real address an Apple relay puts in X-ICLOUD-HME's f=, addresses
// embedded in SRS, DuckDuckGo and Apple reply tokens, and message content.
var secrets = []string{"real.person", "real_person", "hidden.example", "hidden_example", "CONFIDENTIAL-BODY", "SECRET-SUBJECT", "p=Tk9ORQ"}

// TestNothingLeaks runs relay mail through the milter at debug level and
// greps the log and every header value sealtag adds for the secrets.
func TestNothingLeaks(t *testing.T) {
	logs := &logBuffer{}
	ts := startMilter(t, "[log]\nlevel = \"debug\"\n[[policy.rules]]\nname = \"watch-relays\"\nmatch.relay = \"any\"\naction = \"quarantine\"\nmode = \"monitor\"\n")
	ts.srv.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := ts.connect(t)
	msgs := []struct{ from, msg string }{
		{"SRS0=AbCd=XY=hidden.example=real.person@fwd.example.net",
			"From: Real Person <real.person@hidden.example>\nSubject: SECRET-SUBJECT one\n\nCONFIDENTIAL-BODY text\n"},
		{"bounce@icloud.com",
			"From: No-reply_at_real_person_hidden_example_ab12_cd34@icloud.com\nX-ICLOUD-HME: p=Tk9ORQ; f=real.person@hidden.example\nSubject: Re: SECRET-SUBJECT two\n\nCONFIDENTIAL-BODY\n"},
		{"real.person_at_hidden.example_quiet-owl@duck.com",
			"From: real.person_at_hidden.example_quiet-owl@duck.com\nReply-To: real.person_at_hidden.example_quiet-owl@duck.com\nSubject: SECRET-SUBJECT three\n\n-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdAzmAAAAAAAAAA\n-----END PGP MESSAGE-----\nCONFIDENTIAL-BODY\n"},
		{"k9x2m@mozmail.com",
			"From: \"real.person@hidden.example [via Relay]\" <k9x2m@mozmail.com>\nReply-To: replies@relay.firefox.com\nResent-From: real.person@hidden.example\nSubject: SECRET-SUBJECT four\n\nCONFIDENTIAL-BODY\n"},
	}
	var added []string
	for _, x := range msgs {
		o := m.send(x.from, []string{"support@example.com"}, x.msg, "i", "PRIV1")
		for _, mod := range o.mods {
			added = append(added, mod.HeaderName+": "+mod.HeaderValue)
		}
	}
	out := logs.String() + "\n" + strings.Join(added, "\n")
	if !strings.Contains(out, "relay=\"srs; field=envelope\"") || !strings.Contains(out, "would=quarantine") {
		t.Fatalf("the run did not classify the relays:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%q appears in sealtag's log or headers:\n%s", s, out)
		}
	}
}
