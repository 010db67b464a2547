package inspect

import (
	"sort"
	"strconv"
	"strings"
)

// param is one MIME parameter after RFC 2231 continuations were joined.
type param struct{ key, value string }

// mediaType is a parsed Content-Type or Content-Disposition value.
type mediaType struct {
	// value is the lower-cased "type/subtype" (or disposition type); empty when
	// the header was missing or not of that shape ("text plain").
	value  string
	params []param
}

// get returns the first parameter named key (lower case), or "".
func (m *mediaType) get(key string) string {
	for _, p := range m.params {
		if p.key == key {
			return p.value
		}
	}
	return ""
}

// parseMediaType parses a Content-Type or Content-Disposition value the way
// real clients write them, not the way RFC 2045 wishes: parameter names and
// the type in any case, spaces around '=' and ';', missing closing quotes,
// duplicate parameters (the first wins), raw 8-bit values, and RFC 2231
// continuations and extended values (`name*0*=utf-8”a%20b; name*1=c`).
// It never fails; what cannot be read is left out. withSlash requires a
// "type/subtype" value (Content-Type); Content-Disposition has none.
func parseMediaType(s string, withSlash bool) mediaType {
	var m mediaType
	head, rest, _ := strings.Cut(s, ";")
	head = strings.ToLower(strings.TrimSpace(stripComment(head)))
	if withSlash {
		t, sub, ok := strings.Cut(head, "/")
		t, sub = strings.TrimSpace(t), strings.TrimSpace(sub)
		if ok && isToken(t) && isToken(sub) {
			m.value = t + "/" + sub
		}
	} else if isToken(head) {
		m.value = head
	}

	// RFC 2231 §3: sections of one parameter, gathered and joined below.
	type section struct {
		n       int
		value   string
		encoded bool
	}
	var split map[string][]section
	seen := func(key string) bool {
		for _, p := range m.params {
			if p.key == key {
				return true
			}
		}
		return false
	}

	for rest != "" {
		var key, value string
		key, value, rest = nextParam(rest)
		if key == "" {
			continue
		}
		name, sect, hasStar := strings.Cut(key, "*")
		if !hasStar {
			if !seen(key) {
				m.params = append(m.params, param{key, value})
			}
			continue
		}
		// name*  (extended, single), name*N (continuation), name*N* (both)
		encoded := strings.HasSuffix(sect, "*") || sect == ""
		num := strings.TrimSuffix(sect, "*")
		n := 0
		if num != "" {
			var err error
			if n, err = strconv.Atoi(num); err != nil || n < 0 || n > 999 {
				continue
			}
		}
		if split == nil {
			split = make(map[string][]section)
		}
		if len(split[name]) < 64 {
			split[name] = append(split[name], section{n, value, encoded})
		}
	}
	if len(split) == 0 {
		return m
	}
	names := make([]string, 0, len(split))
	for name := range split {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		secs := split[name]
		sort.SliceStable(secs, func(i, j int) bool { return secs[i].n < secs[j].n })
		var b strings.Builder
		for i, s := range secs {
			v := s.value
			if s.encoded {
				if i == 0 {
					// charset'language'value: the charset is not needed to
					// compare ASCII names, so it is dropped.
					if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
						v = parts[2]
					}
				}
				v = percentDecode(v)
			}
			b.WriteString(v)
		}
		// An RFC 2231 value replaces a plain one of the same name: clients
		// that send both put the faithful value in the extended form.
		replaced := false
		for i := range m.params {
			if m.params[i].key == name {
				m.params[i].value = b.String()
				replaced = true
				break
			}
		}
		if !replaced {
			m.params = append(m.params, param{name, b.String()})
		}
	}
	return m
}

// nextParam reads one `key=value` from s (after a ';'), returning the lower-case
// key, the unquoted value and what follows the next ';'.
func nextParam(s string) (key, value, rest string) {
	s = strings.TrimLeft(s, " \t\r\n;")
	eq := strings.IndexAny(s, "=;")
	if eq < 0 || s[eq] == ';' {
		// a bare word without '=': skip it
		if eq < 0 {
			return "", "", ""
		}
		return "", "", s[eq+1:]
	}
	key = strings.ToLower(strings.TrimSpace(s[:eq]))
	s = strings.TrimLeft(s[eq+1:], " \t\r\n")
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		i := 1
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
				continue
			}
			if c == '"' {
				i++
				break
			}
			b.WriteByte(c)
		}
		value = b.String()
		s = s[min(i, len(s)):]
		if semi := strings.IndexByte(s, ';'); semi >= 0 {
			return key, value, s[semi+1:]
		}
		return key, value, ""
	}
	if semi := strings.IndexByte(s, ';'); semi >= 0 {
		return key, strings.TrimSpace(s[:semi]), s[semi+1:]
	}
	return key, strings.TrimSpace(s), ""
}

// stripComment removes a trailing RFC 822 comment: `text/plain (utf-8)`.
func stripComment(s string) string {
	if i := strings.IndexByte(s, '('); i >= 0 {
		return s[:i]
	}
	return s
}

// percentDecode decodes RFC 2231 %XX escapes; a broken escape stays as it is.
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if h, ok := unhex(s[i+1]); ok {
				if l, ok := unhex(s[i+2]); ok {
					b = append(b, h<<4|l)
					i += 2
					continue
				}
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// unhex returns the value of one hexadecimal digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
