// Package inspect classifies one mail message: what protects its content
// (encryption class), how the last hop reached the MTA (TLS), whether the
// sender hides behind a private relay or a rewriting forwarder, and whether
// the message can be threaded. It reads structure only — content types,
// armor markers, magic numbers, address shapes — and never decrypts, never
// decodes a relay token and never does I/O beyond the bytes it is handed.
//
// The values it produces are the external contract of SPEC.md §2; Result.Fields
// renders them as the X-Sealtag-* header lines.
package inspect

import (
	"strings"
)

// Class is an encryption class of SPEC §2, the first token of X-Sealtag-Encryption.
type Class string

// The encryption classes, in the order SPEC §2 lists them.
const (
	ClassNone                Class = "none"
	ClassSMIMEEncrypted      Class = "smime-encrypted"
	ClassSMIMESigned         Class = "smime-signed"
	ClassSMIMESignedOpaque   Class = "smime-signed-opaque"
	ClassPGPEncrypted        Class = "pgp-encrypted"
	ClassPGPSigned           Class = "pgp-signed"
	ClassPGPInlineEncrypted  Class = "pgp-inline-encrypted"
	ClassPGPInlineSigned     Class = "pgp-inline-signed"
	ClassProprietaryOME      Class = "proprietary-ome"
	ClassProprietaryOther    Class = "proprietary-other"
	ClassEncryptedAttachment Class = "encrypted-attachment"
)

// Classes returns every encryption class, `none` first, in SPEC order.
// The policy uses it to reject unknown class names in a configuration.
func Classes() []Class {
	return []Class{
		ClassNone, ClassSMIMEEncrypted, ClassSMIMESigned, ClassSMIMESignedOpaque,
		ClassPGPEncrypted, ClassPGPSigned, ClassPGPInlineEncrypted, ClassPGPInlineSigned,
		ClassProprietaryOME, ClassProprietaryOther, ClassEncryptedAttachment,
	}
}

// Encrypted reports whether the class hides content from the reader: the four
// *-encrypted classes, the proprietary wrappers and encrypted attachments.
func (c Class) Encrypted() bool {
	switch c {
	case ClassSMIMEEncrypted, ClassPGPEncrypted, ClassPGPInlineEncrypted,
		ClassProprietaryOME, ClassProprietaryOther, ClassEncryptedAttachment:
		return true
	}
	return false
}

// Signed reports whether the class only signs content (the reader can read it).
func (c Class) Signed() bool {
	switch c {
	case ClassSMIMESigned, ClassSMIMESignedOpaque, ClassPGPSigned, ClassPGPInlineSigned:
		return true
	}
	return false
}

// Scope says where a class was found: in the message itself or inside an
// enclosed message/rfc822 part (a forwarded or attached message).
type Scope string

// The two scopes of SPEC §2.
const (
	ScopeOuter  Scope = "outer"
	ScopeNested Scope = "nested"
)

// Finding is one crypto layer found in the message.
type Finding struct {
	Class Class `json:"class"`
	Scope Scope `json:"scope"`
	// Depth is the MIME depth of the part that earned the class: 0 for the
	// message itself, 1 for its children, and so on through nested messages.
	Depth int `json:"depth"`
	// Part is the part's position in the order parts were seen (0 = the message).
	Part int `json:"part"`
	// Why names the structure that earned the class, for logs and -json
	// output, e.g. `multipart/encrypted protocol=application/pgp-encrypted`.
	// It never carries message content.
	Why string `json:"why"`
}

// Encryption is the verdict of the encryption classifier.
type Encryption struct {
	Class Class `json:"class"`
	// Scope is empty when Class is none.
	Scope Scope `json:"scope,omitempty"`
	// Also lists every further class found, in the order of importance.
	Also []Class `json:"also,omitempty"`
	// Partial is set when a bound (depth, part count, header size) stopped
	// the walk: what was found before stays, more may exist.
	Partial bool `json:"partial,omitempty"`
	// Findings are all layers found, most important first.
	Findings []Finding `json:"findings,omitempty"`
}

// Has reports whether class c was found, as first token or in Also,
// optionally only in the given scope ("" = any scope).
func (e Encryption) Has(c Class, scope Scope) bool {
	if c == ClassNone {
		return e.Class == ClassNone
	}
	for _, f := range e.Findings {
		if f.Class == c && (scope == "" || f.Scope == scope) {
			return true
		}
	}
	return false
}

// Value renders the X-Sealtag-Encryption header value.
func (e Encryption) Value() string {
	var v valueBuilder
	v.token(string(e.Class))
	if e.Class != ClassNone && e.Scope != "" {
		v.param("scope", string(e.Scope))
	}
	if len(e.Also) > 0 {
		also := make([]string, len(e.Also))
		for i, c := range e.Also {
			also[i] = string(c)
		}
		v.param("also", strings.Join(also, ","))
	}
	if e.Partial {
		v.param("partial", "yes")
	}
	return v.String()
}

// TLS describes how the last hop reached the MTA, from the MTA's macros.
type TLS struct {
	// Version is the protocol as the MTA names it ("TLSv1.3"), "none" when
	// the session carried macros but no TLS, "unknown" when no macros came.
	Version    string `json:"version"`
	Cipher     string `json:"cipher,omitempty"`
	Bits       string `json:"bits,omitempty"`
	ClientCert string `json:"client_cert,omitempty"`
	// Verify is Sendmail's {verify} result for a presented client certificate.
	Verify string `json:"verify,omitempty"`
}

// TLS version tokens that are not protocol names.
const (
	TLSNone    = "none"
	TLSUnknown = "unknown"
)

// Encrypted reports whether the hop used any TLS version.
func (t TLS) Encrypted() bool {
	return t.Version != "" && t.Version != TLSNone && t.Version != TLSUnknown
}

// Value renders the X-Sealtag-TLS header value.
func (t TLS) Value() string {
	var v valueBuilder
	ver := t.Version
	if ver == "" {
		ver = TLSUnknown
	}
	v.token(ver)
	if t.Encrypted() {
		v.param("cipher", t.Cipher)
		v.param("bits", t.Bits)
		v.param("client-cert", t.ClientCert)
		if t.ClientCert != "" {
			v.param("verify", t.Verify)
		}
	}
	return v.String()
}

// Relay roles and fields of SPEC §2.
const (
	RoleAlias = "alias"
	RoleReply = "reply"

	FieldFrom     = "from"
	FieldReplyTo  = "reply-to"
	FieldSender   = "sender"
	FieldEnvelope = "envelope"

	// RelayNone is the relay token when no address matched.
	RelayNone = "none"
)

// RelayMatch is one address that matched a provider of the relay list. It
// deliberately holds no address: only where it was seen and what shape it had.
type RelayMatch struct {
	Provider string `json:"provider"`
	Field    string `json:"field"`
	Role     string `json:"role,omitempty"`
	// Kind is "privacy_relay" or "forwarder".
	Kind string `json:"kind"`
}

// Relay is the verdict of the relay classifier.
type Relay struct {
	// Provider is a provider id of the relay list (e.g. "firefox", "srs") or "none".
	Provider string `json:"provider"`
	Field    string `json:"field,omitempty"`
	Role     string `json:"role,omitempty"`
	// Also lists the other matching addresses, in reply order.
	Also []RelayMatch `json:"also,omitempty"`
	// ListVersion is the list_version of the provider list that decided.
	ListVersion string `json:"list_version,omitempty"`
}

// Has reports whether provider p matched any address ("any" = anything but none).
func (r Relay) Has(p string) bool {
	if p == "any" {
		return r.Provider != RelayNone && r.Provider != ""
	}
	if r.Provider == p {
		return true
	}
	for _, m := range r.Also {
		if m.Provider == p {
			return true
		}
	}
	return false
}

// Value renders the X-Sealtag-Relay header value.
func (r Relay) Value() string {
	var v valueBuilder
	p := r.Provider
	if p == "" {
		p = RelayNone
	}
	v.token(p)
	v.param("field", r.Field)
	v.param("role", r.Role)
	if len(r.Also) > 0 {
		also := make([]string, len(r.Also))
		for i, m := range r.Also {
			also[i] = m.Provider + ":" + m.Field
		}
		v.param("also", strings.Join(also, ","))
	}
	return v.String()
}

// Thread states of SPEC §2.
const (
	ThreadNew    = "new"
	ThreadReply  = "reply"
	ThreadBroken = "broken"
)

// Thread risks: a relay on the path is known to break threading.
const (
	RiskDropsInReplyTo    = "drops-in-reply-to"
	RiskRewritesMessageID = "rewrites-message-id"
)

// Thread is the verdict of the thread classifier.
type Thread struct {
	State string   `json:"state"`
	Risks []string `json:"risks,omitempty"`
}

// Value renders the X-Sealtag-Thread header value.
func (t Thread) Value() string {
	var v valueBuilder
	v.token(t.State)
	if len(t.Risks) > 0 {
		v.param("risk", strings.Join(t.Risks, ","))
	}
	return v.String()
}

// Result is everything sealtag says about one message.
type Result struct {
	Encryption Encryption `json:"encryption"`
	TLS        TLS        `json:"tls"`
	Relay      Relay      `json:"relay"`
	Thread     Thread     `json:"thread"`
}

// Field is one header line sealtag adds.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Header name suffixes, appended to the configured prefix (default "X-Sealtag-").
const (
	NameEncryption = "Encryption"
	NameTLS        = "TLS"
	NameRelay      = "Relay"
	NameThread     = "Thread"
	NamePolicy     = "Policy"
	DefaultPrefix  = "X-Sealtag-"
)

// Fields renders the result as header lines under prefix, in SPEC order
// (Encryption, TLS, Relay, Thread). The Policy header is the policy's to add.
func (r Result) Fields(prefix string) []Field {
	return []Field{
		{prefix + NameEncryption, r.Encryption.Value()},
		{prefix + NameTLS, r.TLS.Value()},
		{prefix + NameRelay, r.Relay.Value()},
		{prefix + NameThread, r.Thread.Value()},
	}
}

// valueBuilder writes `token; key=value; …` in MIME-parameter style (RFC 2045
// §5.1): a value that is not a token is quoted.
type valueBuilder struct{ b strings.Builder }

func (v *valueBuilder) token(t string) { v.b.WriteString(t) }

// param appends `; key=value`; empty values are skipped.
func (v *valueBuilder) param(key, value string) {
	if value == "" {
		return
	}
	v.b.WriteString("; ")
	v.b.WriteString(key)
	v.b.WriteByte('=')
	v.b.WriteString(QuoteValue(value))
}

func (v *valueBuilder) String() string { return v.b.String() }

// QuoteValue returns value as an RFC 2045 token when it is one, else as a
// quoted-string with `"` and `\` escaped and control characters dropped.
func QuoteValue(value string) string {
	if isToken(value) {
		return value
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			// never let a value break the header line
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isToken reports whether s is a non-empty RFC 2045 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}
