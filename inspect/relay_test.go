package inspect

import (
	"strings"
	"testing"
)

func TestRelayClassify(t *testing.T) {
	p := DefaultProviders()
	tests := []struct {
		name string
		a    Addresses
		want string // Relay.Value()
	}{
		{"nothing", Addresses{From: "Alice <alice@example.org>"}, "none"},
		{"apple relay", Addresses{From: "abc123xyz@privaterelay.appleid.com"}, "apple; field=from; role=alias"},
		{"icloud.com alone is an ordinary mailbox", Addresses{From: "59clawed-trade@icloud.com"}, "none"},
		{"apple reply shape", Addresses{From: "No-reply_at_shop_example_com_abc123_def456@icloud.com"}, "apple; field=from; role=reply"},
		{"firefox mask", Addresses{From: `"bob@example.org [via Relay]" <k9x2m@mozmail.com>`}, "firefox; field=from; role=alias"},
		{"firefox premium: reply-to wins", Addresses{From: `"x [via Relay]" <k9x2m@mozmail.com>`, ReplyTo: "replies@relay.firefox.com"},
			`firefox; field=reply-to; role=reply; also="firefox:from"`},
		{"firefox subdomain mask", Addresses{From: "shop@me.mozmail.com"}, "firefox; field=from; role=alias"},
		{"label boundary: mozmail.com.example.org", Addresses{From: "a@mozmail.com.example.org"}, "none"},
		{"label boundary: evilmozmail.com", Addresses{From: "a@evilmozmail.com"}, "none"},
		{"duck alias", Addresses{From: "quiet-owl@duck.com"}, "duckduckgo; field=from; role=alias"},
		{"duck reply shape", Addresses{ReplyTo: "bob_at_example.org_quiet-owl@duck.com"}, "duckduckgo; field=reply-to; role=reply"},
		{"simplelogin alias", Addresses{From: "shop.x1@aleeas.com"}, "simplelogin; field=from; role=alias"},
		{"simplelogin reverse alias", Addresses{From: "abcdefghijklmnopqrstuvw@simplelogin.co"}, "simplelogin; field=from; role=reply"},
		{"simplelogin.co bounce is not a reverse alias", Addresses{From: "sl.abc.def@simplelogin.co"}, "none"},
		{"proton pass", Addresses{From: "shop.word123@passinbox.com"}, "proton; field=from; role=alias"},
		{"addy alias", Addresses{From: "ebay@johndoe.anonaddy.com"}, "addy; field=from; role=alias"},
		{"addy reply shape", Addresses{From: "ebay+contact=ebay.com@johndoe.anonaddy.com"}, "addy; field=from; role=reply"},
		{"srs0", Addresses{From: "x@example.org", Envelope: "SRS0=/pzd=DH=vger.kernel.org=linux-man-owner@kernel.org"}, "srs; field=envelope"},
		{"srs0 with +", Addresses{Envelope: "srs0+AbCd=XY=example.com=bob@fwd.example.net"}, "srs; field=envelope"},
		{"srs0 with -", Addresses{Envelope: "SRS0-AbCd=XY=example.com=bob@fwd.example.net"}, "srs; field=envelope"},
		{"srs1", Addresses{Envelope: "SRS1=Hh7s=fwd1.example==AbCd=XY=example.com=bob@fwd2.example"}, "srs; field=envelope"},
		{"microsoft 365 srs", Addresses{Envelope: "support+SRS=AbC12=QW@contoso.onmicrosoft.com"}, "srs; field=envelope"},
		{"srs only from the envelope", Addresses{From: "SRS0=AbCd=XY=example.com=bob@fwd.example.net"}, "none"},
		{"batv", Addresses{Envelope: "prvs=0891a9abd5=test@example.com"}, "batv; field=envelope"},
		{"batv 9-character tag (RT)", Addresses{Envelope: "<prvs=701fd58e1=www-data@support.example.de>"}, "batv; field=envelope"},
		{"verp bounce is not a relay", Addresses{Envelope: "bounces+12345-abcd-bob=example.org@sendgrid.net"}, "none"},
		{"random local part at an unlisted domain", Addresses{From: "x7f3kq9zt2@example.net"}, "none"},
		{"relay from and srs envelope", Addresses{From: "k9x2m@mozmail.com", Envelope: "SRS0=AbCd=XY=example.com=bob@fwd.example.net"},
			`firefox; field=from; role=alias; also="srs:envelope"`},
		{"reply-to over from over sender", Addresses{From: "a@aleeas.com", Sender: "b@duck.com", ReplyTo: "c@passmail.net"},
			`proton; field=reply-to; role=alias; also="simplelogin:from,duckduckgo:sender"`},
		{"several reply-to addresses", Addresses{ReplyTo: "Alice <alice@example.org>, replies@relay.firefox.com"}, "firefox; field=reply-to; role=reply"},
		{"malformed from (nested brackets)", Addresses{From: `"Service" <Service <k9x2m@mozmail.com>>`}, "firefox; field=from; role=alias"},
		{"upper-case domain", Addresses{From: "K9X2M@MOZMAIL.COM"}, "firefox; field=from; role=alias"},
		{"null sender", Addresses{Envelope: "<>"}, "none"},
	}
	for _, tt := range tests {
		got := p.Classify(tt.a)
		if got.Value() != tt.want {
			t.Errorf("%s: Classify(%+v) = %q, want %q", tt.name, tt.a, got.Value(), tt.want)
		}
		if strings.Contains(got.Value(), "@") {
			t.Errorf("%s: relay value %q carries an address", tt.name, got.Value())
		}
	}
}

func TestRelayThreadRisk(t *testing.T) {
	p := DefaultProviders()
	r := p.Classify(Addresses{From: "k9x2m@mozmail.com"})
	risks := p.threadRisks(r)
	if len(risks) == 0 || risks[0] != RiskDropsInReplyTo {
		t.Errorf("threadRisks(firefox) = %v, want %s first", risks, RiskDropsInReplyTo)
	}
	if got := p.threadRisks(p.Classify(Addresses{From: "a@example.org"})); got != nil {
		t.Errorf("threadRisks(none) = %v, want none", got)
	}
}

func TestParseProvidersErrors(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"list_version = \"x\"\n[[provider]]\nid = \"None\"\nkind = \"relay\"\n", []string{"lower-case token", `kind must be`, "no [[provider.domain]]"}},
		{"list_version = \"x\"\n[[provider]]\nid = \"a\"\nkind = \"forwarder\"\nfields=[\"to\"]\n[[provider.domain]]\nvalue=\"a@b\"\nmatch=\"exact\"\n[[provider.address]]\nlocal_regex='('\n", []string{`unknown field "to"`, "must be a domain name", "does not compile"}},
		{"list_version = \"x\"\nbogus = 1\n", []string{`unknown key "bogus"`}},
		{"list_version = \n", []string{"relays.toml:1:"}},
		{"[[provider]]\nid=\"a\"\nkind=\"forwarder\"\n[[provider.domain]]\nmatch=\"any\"\n[[provider]]\nid=\"a\"\nkind=\"forwarder\"\n[[provider.domain]]\nmatch=\"any\"\n", []string{"list_version is missing", "used twice"}},
	}
	for _, tt := range tests {
		_, err := ParseProviders([]byte(tt.in), "relays.toml")
		if err == nil {
			t.Errorf("ParseProviders(%q) = nil error", tt.in)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseProviders(%q) = %q, want it to say %q", tt.in, err, w)
			}
		}
	}
}

func TestProvidersWith(t *testing.T) {
	extra, err := ParseProviders([]byte(`list_version = "local-1"
[[provider]]
id = "corp-relay"
kind = "privacy_relay"
  [[provider.domain]]
  value = "relay.example.com"
  match = "suffix"
  role = "alias"
[[provider]]
id = "fastmail"
kind = "privacy_relay"
  [[provider.domain]]
  value = "masked.example.net"
  match = "exact"
  role = "alias"
`), "local.toml")
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultProviders().With(extra)
	if got := p.Classify(Addresses{From: "x@a.relay.example.com"}).Value(); got != "corp-relay; field=from; role=alias" {
		t.Errorf("added provider: got %q", got)
	}
	if got := p.Classify(Addresses{From: "x@masked.example.net"}).Value(); got != "fastmail; field=from; role=alias" {
		t.Errorf("replaced provider: got %q", got)
	}
	if !strings.HasSuffix(p.Version, "+local-1") {
		t.Errorf("Version = %q, want the local list named", p.Version)
	}
	if got := DefaultProviders().Classify(Addresses{From: "x@a.relay.example.com"}).Provider; got != "none" {
		t.Errorf("With changed the built-in list: %q", got)
	}
}

// FuzzParseProviders: any document gives a list or an error naming the
// file, and a parsed list classifies any address without panicking.
func FuzzParseProviders(f *testing.F) {
	f.Add(builtinRelays)
	f.Add([]byte("list_version = \"x\"\n[[provider]]\nid = \"a\"\nkind = \"forwarder\"\nfields = [\"envelope\"]\n[[provider.domain]]\nmatch = \"any\"\n[[provider.address]]\nlocal_regex = '^x'\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParseProviders(doc, "f.toml")
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.toml") {
					t.Fatalf("error line without the file: %q", line)
				}
			}
			return
		}
		p.Classify(Addresses{From: "x@example.org", ReplyTo: "SRS0=a=b=c=d@e", Envelope: "prvs=1234567890=a@b"})
	})
}

func TestSimpleAddress(t *testing.T) {
	for in, want := range map[string]string{
		"a@example.org":                      "a@example.org",
		"<a@example.org>":                    "a@example.org",
		"Alice Example <a@example.org>":      "a@example.org",
		"Alice <a.b+c@sub.example.org>":      "a.b+c@sub.example.org",
		`"Alice, Example" <a@ex.org>`:        "",
		"a@example.org, b@example.org":       "",
		"Alice <a@example.org> (work)":       "",
		"=?utf-8?q?Al?= <a@example.org>":     "",
		"<a@example.org> trailing":           "",
		"a@b@c":                              "",
		"no address":                         "",
		"<>":                                 "",
		"Service <Service <k9@mozmail.com>>": "",
	} {
		got, ok := simpleAddress(in)
		if (want == "") == ok || got != want {
			t.Errorf("simpleAddress(%q) = %q, %v; want %q", in, got, ok, want)
		}
		// whatever the fast path says, addressList agrees with the full parser
		if want != "" {
			if list := addressList(in); len(list) != 1 || list[0] != want {
				t.Errorf("addressList(%q) = %q", in, list)
			}
		}
	}
}
