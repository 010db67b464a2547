package inspect

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"sealtag/internal/tomlpos"
)

// builtinRelays is the provider list shipped with sealtag (relays.toml).
//
//go:embed relays.toml
var builtinRelays []byte

// BuiltinRelays returns the text of the shipped provider list, for
// `sealtag` to print and for admins to copy.
func BuiltinRelays() []byte { return append([]byte(nil), builtinRelays...) }

// defaultProviders parses the shipped list once; the result is never modified.
var defaultProviders = sync.OnceValue(func() *Providers {
	p, err := ParseProviders(builtinRelays, "relays.toml (built in)")
	if err != nil {
		panic("inspect: the built-in relays.toml is invalid: " + err.Error())
	}
	return p
})

// DefaultProviders returns the built-in relay provider list.
func DefaultProviders() *Providers { return defaultProviders() }

// Providers is a list of private relays and rewriting forwarders, matched
// against the addresses of a message. It is data (TOML) so that admins can
// extend it without a rebuild; it is immutable once parsed.
type Providers struct {
	// Version names the lists it was made of, for logs and -json output.
	Version string
	list    []provider
}

// provider is one [[provider]] of the list.
type provider struct {
	ID        string        `toml:"id"`
	Name      string        `toml:"name"`
	Kind      string        `toml:"kind"`
	Sources   []string      `toml:"sources"`
	Fields    []string      `toml:"fields"`
	Threading threading     `toml:"threading"`
	Domains   []domainRule  `toml:"domain"`
	Addresses []addressRule `toml:"address"`
	Notes     string        `toml:"notes"`
}

type threading struct {
	DropsInReplyTo    bool `toml:"drops_in_reply_to"`
	RewritesMessageID bool `toml:"rewrites_message_id"`
}

// domainRule says which domains belong to a provider.
type domainRule struct {
	Value string `toml:"value"`
	// Match is "exact", "suffix" (the domain or any subdomain, on a label
	// boundary) or "any" (every domain: forwarders known by shape alone).
	Match string `toml:"match"`
	// Role is given when the domain alone identifies an address of the
	// provider; "" for domains shared with ordinary mailboxes (icloud.com).
	Role  string `toml:"role"`
	Notes string `toml:"notes"`
}

// addressRule is a documented address shape of a provider.
type addressRule struct {
	Domain     string `toml:"domain"`
	LocalRegex string `toml:"local_regex"`
	Role       string `toml:"role"`
	TokenShape string `toml:"token_shape"`
	Notes      string `toml:"notes"`
	re         *regexp.Regexp
}

// relayFile is the TOML document of a provider list.
type relayFile struct {
	ListVersion string     `toml:"list_version"`
	Providers   []provider `toml:"provider"`
}

// Provider kinds.
const (
	KindPrivacyRelay = "privacy_relay"
	KindForwarder    = "forwarder"
)

// ParseProviders parses a provider list. name is used in error messages
// (a file name); every problem is reported, one per line, as
// "name: message" or "name:LINE: message".
func ParseProviders(data []byte, name string) (*Providers, error) {
	var f relayFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line, msg := tomlpos.ParseError(pe, data)
			return nil, fmt.Errorf("%s:%d: syntax error: %s", name, line, msg)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, name+": "+fmt.Sprintf(format, args...)) }
	for _, k := range md.Undecoded() {
		add("unknown key %q", k.String())
	}
	if f.ListVersion == "" {
		add("list_version is missing")
	}
	ids := map[string]bool{}
	for i := range f.Providers {
		p := &f.Providers[i]
		where := fmt.Sprintf("provider %d (id %q)", i+1, p.ID)
		if !isToken(p.ID) || strings.ToLower(p.ID) != p.ID || p.ID == RelayNone || p.ID == "any" {
			add("%s: id must be a lower-case token other than none and any", where)
		}
		if ids[p.ID] {
			add("%s: id is used twice", where)
		}
		ids[p.ID] = true
		if p.Kind != KindPrivacyRelay && p.Kind != KindForwarder {
			add("%s: kind must be %q or %q, not %q", where, KindPrivacyRelay, KindForwarder, p.Kind)
		}
		if len(p.Fields) == 0 {
			p.Fields = []string{FieldFrom, FieldReplyTo, FieldSender, FieldEnvelope}
		}
		for _, fl := range p.Fields {
			switch fl {
			case FieldFrom, FieldReplyTo, FieldSender, FieldEnvelope:
			default:
				add("%s: unknown field %q (from, reply-to, sender, envelope)", where, fl)
			}
		}
		if len(p.Domains) == 0 {
			add("%s: no [[provider.domain]]", where)
		}
		for j := range p.Domains {
			d := &p.Domains[j]
			d.Value = strings.ToLower(strings.TrimSuffix(d.Value, "."))
			switch d.Match {
			case "exact", "suffix":
				if d.Value == "" || strings.ContainsAny(d.Value, "@ *") {
					add("%s: domain %d: value must be a domain name, not %q", where, j+1, d.Value)
				}
			case "any":
			default:
				add("%s: domain %d: match must be exact, suffix or any, not %q", where, j+1, d.Match)
			}
			if d.Role != "" && d.Role != RoleAlias && d.Role != RoleReply {
				add("%s: domain %d: role must be alias, reply or empty, not %q", where, j+1, d.Role)
			}
		}
		for j := range p.Addresses {
			a := &p.Addresses[j]
			a.Domain = strings.ToLower(strings.TrimSuffix(a.Domain, "."))
			re, err := regexp.Compile("(?i)" + a.LocalRegex)
			if err != nil || a.LocalRegex == "" {
				add("%s: address %d: local_regex %q does not compile: %v", where, j+1, a.LocalRegex, err)
			}
			a.re = re
			if a.Role != "" && a.Role != RoleAlias && a.Role != RoleReply {
				add("%s: address %d: role must be alias, reply or empty, not %q", where, j+1, a.Role)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return &Providers{Version: f.ListVersion, list: f.Providers}, nil
}

// With returns a list with the providers of extra added; a provider whose
// id is already present replaces the earlier one (an admin's correction).
func (p *Providers) With(extra *Providers) *Providers {
	out := &Providers{Version: p.Version + "+" + extra.Version}
	out.list = append(out.list, p.list...)
	for _, x := range extra.list {
		replaced := false
		for i := range out.list {
			if out.list[i].ID == x.ID {
				out.list[i], replaced = x, true
			}
		}
		if !replaced {
			out.list = append(out.list, x)
		}
	}
	return out
}

// IDs returns the provider ids of the list, for validating a policy's
// `relay` match values.
func (p *Providers) IDs() []string {
	ids := make([]string, len(p.list))
	for i, x := range p.list {
		ids[i] = x.ID
	}
	return ids
}

// Addresses are the raw header values and the envelope sender that relay
// classification looks at.
type Addresses struct {
	From, ReplyTo, Sender string // header field values as received
	Envelope              string // the envelope sender (MAIL FROM)
}

// Classify finds the relays among the addresses (SPEC §2). The result
// describes the address a reply would go to — Reply-To, else From, else
// Sender, else the envelope — and lists the other matches in Also. No
// address or token is ever copied into the result.
func (p *Providers) Classify(a Addresses) Relay {
	r := Relay{Provider: RelayNone, ListVersion: p.Version}
	fields := [...]struct {
		name  string
		addrs []string
	}{
		{FieldReplyTo, addressList(a.ReplyTo)},
		{FieldFrom, addressList(a.From)},
		{FieldSender, addressList(a.Sender)},
		{FieldEnvelope, []string{strings.Trim(strings.TrimSpace(a.Envelope), "<>")}},
	}
	var matches []RelayMatch
	for _, f := range fields {
		for _, addr := range f.addrs {
			m, ok := p.match(addr, f.name)
			if !ok {
				continue
			}
			dup := false
			for _, x := range matches {
				dup = dup || (x.Provider == m.Provider && x.Field == m.Field)
			}
			if !dup {
				matches = append(matches, m)
			}
		}
	}
	if len(matches) == 0 {
		return r
	}
	r.Provider, r.Field, r.Role = matches[0].Provider, matches[0].Field, matches[0].Role
	r.Also = matches[1:]
	return r
}

// match finds the first provider that claims addr seen in field.
func (p *Providers) match(addr, field string) (RelayMatch, bool) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return RelayMatch{}, false
	}
	local := strings.Trim(addr[:at], `"`)
	domain := strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
	for i := range p.list {
		pr := &p.list[i]
		if !slices.Contains(pr.Fields, field) {
			continue
		}
		var dom *domainRule
		for j := range pr.Domains {
			if domainMatches(pr.Domains[j].Match, pr.Domains[j].Value, domain) {
				dom = &pr.Domains[j]
				break
			}
		}
		if dom == nil {
			continue
		}
		for _, ar := range pr.Addresses {
			if ar.Domain != "" && !domainMatches("suffix", ar.Domain, domain) {
				continue
			}
			if ar.re != nil && ar.re.MatchString(local) {
				return RelayMatch{Provider: pr.ID, Field: field, Role: ar.Role, Kind: pr.Kind}, true
			}
		}
		if dom.Role != "" {
			return RelayMatch{Provider: pr.ID, Field: field, Role: dom.Role, Kind: pr.Kind}, true
		}
	}
	return RelayMatch{}, false
}

// domainMatches compares a domain with a rule: exactly, or as the rule's
// domain or a subdomain of it on a label boundary (so mozmail.com matches
// x.mozmail.com but neither xmozmail.com nor mozmail.com.example.org).
func domainMatches(match, value, domain string) bool {
	switch match {
	case "any":
		return true
	case "exact":
		return domain == value
	case "suffix":
		return domain == value || strings.HasSuffix(domain, "."+value)
	}
	return false
}

// threadRisks returns the thread risks of the providers in a relay verdict,
// in a fixed order.
func (p *Providers) threadRisks(r Relay) []string {
	if r.Provider == RelayNone {
		return nil
	}
	var drops, rewrites bool
	check := func(id string) {
		for _, pr := range p.list {
			if pr.ID == id {
				drops = drops || pr.Threading.DropsInReplyTo
				rewrites = rewrites || pr.Threading.RewritesMessageID
			}
		}
	}
	check(r.Provider)
	for _, m := range r.Also {
		check(m.Provider)
	}
	var risks []string
	if drops {
		risks = append(risks, RiskDropsInReplyTo)
	}
	if rewrites {
		risks = append(risks, RiskRewritesMessageID)
	}
	return risks
}
