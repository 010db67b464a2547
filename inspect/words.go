package inspect

import (
	"encoding/base64"
	"mime"
	"strings"

	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
)

// DecodeHeader decodes the RFC 2047 encoded-words of a header value as
// leniently as the classifier does; for comparisons, not for display.
func DecodeHeader(s string) string { return decodeWords(s) }

// decodeWords decodes RFC 2047 encoded-words with go-message's charset
// tables. When the words are broken — unterminated, as Outlook truncates
// long subjects (`=?iso-8859-1?Q?AW:_2492_-_=`), or in an unknown charset —
// it decodes what it can and keeps the bytes of the charset as they are:
// the callers only compare ASCII prefixes and names.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d := mime.WordDecoder{CharsetReader: charset.Reader}
	if out, err := d.DecodeHeader(s); err == nil {
		if !strings.Contains(out, "=?") {
			return out
		}
		s = out // words the decoder left alone: malformed ones
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "=?")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		word := s[i+2:]
		parts := strings.SplitN(word, "?", 3)
		if len(parts) < 3 {
			b.WriteString(s[i:])
			return b.String()
		}
		text, rest, ok := strings.Cut(parts[2], "?=")
		if !ok {
			rest = ""
		}
		switch strings.ToLower(parts[1]) {
		case "b":
			if dec, err := base64.StdEncoding.DecodeString(text); err == nil {
				b.Write(dec)
			} else if dec, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(text, "=")); err == nil {
				b.Write(dec)
			}
		default:
			out := quotedPrintable(nil, []byte(strings.ReplaceAll(text, "_", " ")), false)
			b.Write(out)
		}
		s = strings.TrimLeft(rest, " \t")
	}
}

// addressList returns the addr-specs of an address-list header value. It
// uses go-message's parser and falls back, for the malformed values real
// mail carries (nested brackets, bare addresses, trailing commas), to
// whatever sits inside angle brackets or looks like local@domain.
func addressList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if a, ok := simpleAddress(v); ok {
		return []string{a}
	}
	if list, err := mail.ParseAddressList(v); err == nil && len(list) > 0 {
		out := make([]string, 0, len(list))
		for _, a := range list {
			if a.Address != "" {
				out = append(out, a.Address)
			}
		}
		return out
	}
	var out []string
	for rest := v; ; {
		i := strings.LastIndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			rest = rest[:i]
			continue
		}
		if a := strings.TrimSpace(rest[i+1 : i+j]); strings.Contains(a, "@") {
			out = append(out, a)
		}
		rest = rest[:i]
	}
	if len(out) > 0 {
		return out
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ';' }) {
		f = strings.Trim(f, `"'<>()`)
		if strings.Count(f, "@") == 1 && !strings.HasPrefix(f, "@") && !strings.HasSuffix(f, "@") {
			out = append(out, f)
		}
	}
	return out
}

// simpleAddress reads the shapes nearly all mail has — "local@domain",
// "<local@domain>", "Name <local@domain>" — without a full RFC 5322
// parser (which costs a few dozen allocations per header). Anything with
// quotes, comments, groups, lists or encoded words goes to addressList's
// parser.
func simpleAddress(v string) (string, bool) {
	if strings.ContainsAny(v, "\",;:()\\") || strings.Contains(v, "=?") {
		return "", false
	}
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 || i+j != len(v)-1 || strings.Count(v, "<") != 1 {
			return "", false
		}
		v = v[i+1 : i+j]
	}
	at := strings.IndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || strings.IndexByte(v[at+1:], '@') >= 0 || strings.ContainsAny(v, " \t<>[]") {
		return "", false
	}
	return v, true
}

// firstAddress returns the first addr-spec of v, or "" (also for "<>").
func firstAddress(v string) string {
	if l := addressList(v); len(l) > 0 {
		return l[0]
	}
	return ""
}
