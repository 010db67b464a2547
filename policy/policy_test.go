package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sealtag/inspect"
)

func TestExampleConfig(t *testing.T) {
	c, err := Load(filepath.Join("..", "testdata", "sealtag.example.toml"))
	if err != nil {
		t.Fatalf("the shipped example does not load:\n%v", err)
	}
	if n, a := c.ListenAddr(); n != "unix" || a != "/var/spool/postfix/sealtag/sealtag.sock" {
		t.Errorf("ListenAddr = %s %s", n, a)
	}
	if c.SocketMode != 0o660 || c.SocketGroup != "postfix" || len(c.rules) != 6 {
		t.Errorf("example: mode %o group %q rules %d", c.SocketMode, c.SocketGroup, len(c.rules))
	}
}

func TestDefaults(t *testing.T) {
	c := Defaults()
	if c.Listen != "inet:127.0.0.1:8894" || c.Headers.Prefix != "X-Sealtag-" || c.Policy.OnError != "tempfail" {
		t.Errorf("Defaults = %+v", c)
	}
	v := c.Decide(Input{Result: inspect.Result{Encryption: inspect.Encryption{Class: inspect.ClassSMIMEEncrypted}}})
	if v.Action != Accept || v.Rule != RuleDefault || v.HeaderValue() != "accept; rule=default" {
		t.Errorf("Defaults decide %+v", v)
	}
}

// TestConfigErrors: every problem is reported, each with its line.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"syntax error on the right line", "listen = \"inet:127.0.0.1:1\"\n[policy\nmode = \"enforce\"\n", []string{"t.toml:2: syntax error"}},
		{"wrong types", "listen = 5\n[policy]\nmode = true\n[[policy.rules]]\nname = \"a\"\naction = [\"reject\"]\n",
			[]string{"t.toml:1: listen: want a string, not the integer 5", "t.toml:3: policy.mode: want a string, not true", "t.toml:6: policy.rules[0].action: want a string, not a list"}},
		{"unknown keys with suggestions", "listne = \"x\"\n[polcy]\n[headers]\nprefx = \"X-A-\"\n",
			[]string{`t.toml:1: unknown key "listne"; did you mean "listen"?`, `t.toml:2: unknown key "polcy"; did you mean "policy"?`, `t.toml:4: unknown key "headers.prefx"; did you mean "prefix"?`}},
		{"unknown action", "[[policy.rules]]\nname = \"x\"\nmatch.thread = \"new\"\naction = \"rejct\"\n",
			[]string{`t.toml:4: rule "x": unknown action "rejct" (accept, tempfail, reject, discard, quarantine); did you mean "reject"?`}},
		{"bad replies", "[[policy.rules]]\nname = \"a\"\naction = \"reject\"\nreply = \"550 text only\"\n[[policy.rules]]\nname = \"b\"\naction = \"tempfail\"\nreply = \"451 5.7.1 mismatch\"\n[[policy.rules]]\nname = \"c\"\naction = \"accept\"\nreply = \"250 2.0.0 ok\"\n[[policy.rules]]\nname = \"d\"\naction = \"reject\"\nreply = \"550 5.7.1 100% sure\"\n",
			[]string{"t.toml:4: rule \"a\": reply: reply \"550 text only\" needs an enhanced status code", "t.toml:8: rule \"b\": reply: reply \"451 5.7.1 mismatch\": enhanced code 5.7.1 does not match", "t.toml:12: rule \"c\": reply: a reply is only sent for reject and tempfail", "t.toml:16: rule \"d\": reply: reply \"550 5.7.1 100% sure\": % is not allowed"}},
		{"reject must be 5xx", "[[policy.rules]]\nname = \"a\"\naction = \"reject\"\nreply = \"451 4.7.1 later\"\n", []string{"t.toml:4: rule \"a\": reply: reject needs a 5xx reply"}},
		{"match values", "[[policy.rules]]\nname = \"a\"\nmatch.encryption = \"smime\"\nmatch.relay = \"icloud\"\nmatch.tls = \"TLS1.3\"\nmatch.recipient = [\"support\"]\nmatch.thread = \"replied\"\naction = \"accept\"\n",
			[]string{`t.toml:3: rule "a": unknown encryption class "smime"`, `t.toml:4: rule "a": unknown relay "icloud"`, `t.toml:5: rule "a": match.tls "TLS1.3"`, `t.toml:6: rule "a": "support": want an address`, `t.toml:7: rule "a": match.thread "replied"`}},
		{"scope without encryption", "[[policy.rules]]\nname = \"a\"\nmatch.scope = \"outer\"\naction = \"accept\"\n", []string{"t.toml:3: rule \"a\": match.scope narrows match.encryption, which is missing"}},
		{"duplicate and missing names", "[[policy.rules]]\nname = \"a\"\naction = \"accept\"\n[[policy.rules]]\nname = \"a\"\naction = \"accept\"\n[[policy.rules]]\naction = \"accept\"\n",
			[]string{"t.toml:5: rule \"a\": the name is used by rule 1 too", "t.toml:7: rule 3: name is missing"}},
		{"server keys", "listen = \"tcp:1\"\nsocket_mode = \"rw\"\nmetrics_listen = \"9894\"\nshutdown_timeout = \"forever\"\n[headers]\nprefix = \"X-\"\n[limits]\nmax_depth = 0\n[log]\nlevel = \"loud\"\n",
			[]string{"t.toml:1: listen:", "t.toml:2: socket_mode: want an octal permission", "t.toml:3: metrics_listen", "t.toml:4: shutdown_timeout: want a duration", "t.toml:6: headers.prefix \"X-\"", "t.toml:8: limits.max_depth 0", "t.toml:10: log.level \"loud\""}},
		{"on_error cannot drop mail", "[policy]\non_error = \"discard\"\n", []string{"t.toml:2: policy.on_error \"discard\""}},
		{"missing relay file", "[relays]\nfiles = [\"/nonexistent/relays.toml\"]\n", []string{"t.toml:2: relays.files: /nonexistent/relays.toml does not exist"}},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), "t.toml", os.ReadFile)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\ndoes not say %q", tt.name, err, w)
			}
		}
		if got, want := strings.Count(err.Error(), "\n")+1, len(tt.want); got != want {
			t.Errorf("%s: %d errors, want %d:\n%v", tt.name, got, want, err)
		}
	}
}

func TestRelayFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "relays.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "relays.d", "corp.toml"), []byte(`list_version = "corp-1"
[[provider]]
id = "corp"
kind = "privacy_relay"
  [[provider.domain]]
  value = "masks.example.com"
  match = "suffix"
  role = "alias"
`), 0o644)
	os.WriteFile(filepath.Join(dir, "relays.d", "broken.toml.off"), []byte("x"), 0o644)
	conf := filepath.Join(dir, "sealtag.toml")
	os.WriteFile(conf, []byte("[relays]\nfiles = [\"relays.d/*.toml\"]\n[[policy.rules]]\nname = \"corp\"\nmatch.relay = \"corp\"\naction = \"quarantine\"\n"), 0o644)
	c, err := Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	rel := c.Providers.Classify(inspect.Addresses{From: "x@a.masks.example.com"})
	if v := c.Decide(Input{Result: inspect.Result{Relay: rel}}); v.Rule != "corp" || v.Action != Quarantine {
		t.Errorf("relay from an added list: %+v", v)
	}
	os.WriteFile(filepath.Join(dir, "relays.d", "bad.toml"), []byte("list_version = \"x\"\n[[provider]]\nid = \"BAD\"\n"), 0o644)
	if _, err := Load(conf); err == nil || !strings.Contains(err.Error(), "sealtag.toml:2: in relay list") || !strings.Contains(err.Error(), "bad.toml") {
		t.Errorf("broken relay list: %v", err)
	}
}

func TestDecide(t *testing.T) {
	doc := `
[policy]
default = "accept"
[[policy.rules]]
name = "enc-support"
match.encryption = ["smime-encrypted", "pgp-encrypted"]
match.scope = "outer"
match.recipient = ["support@example.com", "@help.example.com"]
action = "reject"
reply = "550 5.7.1 No encrypted mail please"
[[policy.rules]]
name = "no-tls-partner"
match.sender = "@partner.example"
match.tls = "none"
action = "tempfail"
[[policy.rules]]
name = "any-tls-relay"
match.tls = "any"
match.relay = "any"
action = "quarantine"
[[policy.rules]]
name = "broken-thread"
match.thread = "broken"
match.relay = ["firefox", "none"]
action = "discard"
mode = "monitor"
`
	c, err := Parse([]byte(doc), "t.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(cl inspect.Class, scope inspect.Scope, also ...inspect.Class) inspect.Encryption {
		e := inspect.Encryption{Class: cl, Scope: scope, Also: also, Findings: []inspect.Finding{{Class: cl, Scope: scope}}}
		for _, a := range also {
			e.Findings = append(e.Findings, inspect.Finding{Class: a, Scope: scope})
		}
		return e
	}
	none := inspect.Relay{Provider: "none"}
	tests := []struct {
		name   string
		in     Input
		action Action
		rule   string
		header string
		reply  string
	}{
		{"encrypted to support", Input{Result: inspect.Result{Encryption: enc(inspect.ClassPGPEncrypted, inspect.ScopeOuter), Relay: none}, Recipients: []string{"Support@Example.com"}},
			Reject, "enc-support", "reject; rule=enc-support", "550 5.7.1 No encrypted mail please"},
		{"encrypted to a help domain, class in also=", Input{Result: inspect.Result{Encryption: enc(inspect.ClassPGPSigned, inspect.ScopeOuter, inspect.ClassSMIMEEncrypted), Relay: none}, Recipients: []string{"x@other.example", "a@help.example.com"}},
			Reject, "enc-support", "reject; rule=enc-support", "550 5.7.1 No encrypted mail please"},
		{"nested encryption is not outer", Input{Result: inspect.Result{Encryption: enc(inspect.ClassPGPEncrypted, inspect.ScopeNested), Relay: none}, Recipients: []string{"support@example.com"}},
			Accept, RuleDefault, "accept; rule=default", ""},
		{"other recipient", Input{Result: inspect.Result{Encryption: enc(inspect.ClassPGPEncrypted, inspect.ScopeOuter), Relay: none}, Recipients: []string{"sales@example.com"}},
			Accept, RuleDefault, "accept; rule=default", ""},
		{"partner without TLS", Input{Result: inspect.Result{TLS: inspect.TLS{Version: "none"}, Relay: none}, Sender: "<bob@partner.example>"},
			TempFail, "no-tls-partner", "tempfail; rule=no-tls-partner", "451 4.7.1 Message deferred by the recipient's mail policy, please try again later"},
		{"partner with unknown TLS", Input{Result: inspect.Result{TLS: inspect.TLS{Version: "unknown"}, Relay: none}, Sender: "bob@partner.example"},
			Accept, RuleDefault, "accept; rule=default", ""},
		{"relay over TLS", Input{Result: inspect.Result{TLS: inspect.TLS{Version: "TLSv1.3"}, Relay: inspect.Relay{Provider: "srs"}}},
			Quarantine, "any-tls-relay", "quarantine; rule=any-tls-relay", ""},
		{"relay without TLS, broken thread, monitor rule", Input{Result: inspect.Result{TLS: inspect.TLS{Version: "none"}, Relay: inspect.Relay{Provider: "firefox"}, Thread: inspect.Thread{State: "broken"}}},
			Discard, "broken-thread", "discard; rule=broken-thread; mode=monitor", ""},
		{"relay none matches none", Input{Result: inspect.Result{Relay: none, Thread: inspect.Thread{State: "broken"}}},
			Discard, "broken-thread", "discard; rule=broken-thread; mode=monitor", ""},
	}
	for _, tt := range tests {
		v := c.Decide(tt.in)
		if v.Action != tt.action || v.Rule != tt.rule || v.HeaderValue() != tt.header {
			t.Errorf("%s: Decide = %s %s %q, want %s %s %q", tt.name, v.Action, v.Rule, v.HeaderValue(), tt.action, tt.rule, tt.header)
		}
		if tt.reply != "" && v.Reply.String() != tt.reply {
			t.Errorf("%s: reply %q, want %q", tt.name, v.Reply, tt.reply)
		}
		if v.Monitor && v.Effective() != Accept {
			t.Errorf("%s: monitor verdict not accepted", tt.name)
		}
	}
	if v := c.OnError("boom"); v.Action != TempFail || v.Reply.String() != "451 4.3.0 Temporary local problem, please try again later" || v.Rule != RuleOnError {
		t.Errorf("OnError = %+v", v)
	}
}

func TestMonitorMode(t *testing.T) {
	c, err := Parse([]byte("[policy]\nmode = \"monitor\"\n[[policy.rules]]\nname = \"all\"\naction = \"reject\"\n"), "t.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Decide(Input{})
	if v.Action != Reject || v.Effective() != Accept || v.HeaderValue() != "reject; rule=all; mode=monitor" {
		t.Errorf("monitor: %+v %q", v, v.HeaderValue())
	}
}

func TestParseReply(t *testing.T) {
	good := map[string]string{
		"550 5.7.1 No":                     "550 5.7.1 No",
		"451 4.7.1   spaced text  ":        "451 4.7.1 spaced text",
		"554 5.7.0 Encrypted mail refused": "554 5.7.0 Encrypted mail refused",
	}
	for in, want := range good {
		r, err := ParseReply(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseReply(%q) = %q, %v; want %q", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "550", "550 text", "250 2.0.0 ok", "650 6.0.0 x", "550 5.7 x", "550 5.7.1", "5500 5.7.1 x", "550 4.7.1 x", "550 5.7.1 line\nbreak", "550 5.7.1 caf\xc3\xa9", "590 5.7.1 x"} {
		if _, err := ParseReply(bad); err == nil {
			t.Errorf("ParseReply(%q) accepted", bad)
		}
	}
}

func TestParseListen(t *testing.T) {
	good := map[string]string{
		"unix:/run/sealtag.sock":   "unix /run/sealtag.sock",
		"local:/run/s.sock":        "unix /run/s.sock",
		"inet:127.0.0.1:8894":      "tcp 127.0.0.1:8894",
		"inet:8894@127.0.0.1":      "tcp 127.0.0.1:8894",
		"inet6:[::1]:8894":         "tcp [::1]:8894",
		"inet6:8894@::1":           "tcp [::1]:8894",
		"inet:10025@localhost":     "tcp localhost:10025",
		"inet:[0:0:0:0::1]:100":    "tcp [0:0:0:0::1]:100",
		"inet:mail.example.org:25": "tcp mail.example.org:25",
	}
	for in, want := range good {
		n, a, err := ParseListen(in)
		if err != nil || n+" "+a != want {
			t.Errorf("ParseListen(%q) = %s %s %v, want %s", in, n, a, err, want)
		}
	}
	for _, bad := range []string{"", "unix:", "unix:relative.sock", "inet:127.0.0.1", "inet:127.0.0.1:0", "inet:x@127.0.0.1", "inet::8894", "tcp:127.0.0.1:1", "/run/x.sock"} {
		if _, _, err := ParseListen(bad); err == nil {
			t.Errorf("ParseListen(%q) accepted", bad)
		}
	}
}

// FuzzParseConfig: any document gives a config or errors, never a panic,
// and every error names the file.
func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "testdata", "sealtag.example.toml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("[[policy.rules]]\nname=\"a\"\nmatch.encryption=[\"none\"]\naction=\"reject\"\nreply=\"550 5.7.1 x\"\n"))
	f.Add([]byte("listen = \"inet:1@h\"\n[policy]\nmode=\"monitor\"\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc, "f.toml", nil)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.toml") {
					t.Fatalf("error line without the file: %q", line)
				}
			}
			return
		}
		c.Decide(Input{Recipients: []string{"a@b"}, Sender: "x"})
	})
}

func TestSubjectTag(t *testing.T) {
	c, err := Parse([]byte("[[policy.rules]]\nname = \"tag\"\nmatch.encryption = \"pgp-encrypted\"\naction = \"accept\"\nsubject_tag = \"[encrypted] \"\n"), "t.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Decide(Input{Result: inspect.Result{Encryption: inspect.Encryption{Class: inspect.ClassPGPEncrypted, Findings: []inspect.Finding{{Class: inspect.ClassPGPEncrypted}}}}})
	tests := []struct{ raw, decoded, want string }{
		{"Hello", "Hello", "[encrypted] Hello"},
		{"Re: [encrypted] Hello", "Re: [encrypted] Hello", "Re: [encrypted] Hello"},
		{"AW: [ENCRYPTED] Hallo", "AW: [ENCRYPTED] Hallo", "AW: [ENCRYPTED] Hallo"},
		{"=?UTF-8?Q?=5Bencrypted=5D_x?=", "[encrypted] x", "=?UTF-8?Q?=5Bencrypted=5D_x?="},
		{"=?UTF-8?B?w6TDtsO8?=", "äöü", "[encrypted] =?UTF-8?B?w6TDtsO8?="},
		{"", "", "[encrypted] "},
	}
	for _, tt := range tests {
		got, _ := v.TagSubject(tt.raw, tt.decoded)
		if got != tt.want {
			t.Errorf("TagSubject(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
	v.Monitor = true
	if _, ok := v.TagSubject("Hello", "Hello"); ok {
		t.Errorf("monitor mode tagged the subject")
	}
	for doc, want := range map[string]string{
		"[[policy.rules]]\nname = \"a\"\naction = \"reject\"\nsubject_tag = \"[x] \"\n": "t.toml:4: rule \"a\": subject_tag only applies",
		"[[policy.rules]]\nname = \"a\"\naction = \"accept\"\nsubject_tag = \"  \"\n":   "t.toml:4: rule \"a\": subject_tag \"  \"",
	} {
		if _, err := Parse([]byte(doc), "t.toml", nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", doc, err, want)
		}
	}
}
