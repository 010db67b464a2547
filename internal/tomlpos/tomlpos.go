// Package tomlpos finds the line of each key in a TOML document, so that a
// configuration loader can report `sealtag.toml:12: unknown action "rejct"`
// for problems found after parsing (BurntSushi/toml gives positions only
// for syntax errors). It reads a document the TOML parser has already
// accepted; on anything it does not understand it just records less.
package tomlpos

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ParseError returns the line and a one-line message for a syntax error of
// BurntSushi/toml. The line is counted from the error's byte offset
// (Position.Line can be one late: an unclosed "[policy" reports the next
// line); control characters of the message are escaped, so that each
// problem stays on one FILE:LINE: line.
func ParseError(pe toml.ParseError, doc []byte) (int, string) {
	line := pe.Position.Line
	if pe.Position.Start > 0 && pe.Position.Start <= len(doc) {
		line = 1 + strings.Count(string(doc[:pe.Position.Start]), "\n")
	}
	msg := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(pe.Message))
	return line, msg
}

// Index maps key paths to 1-based line numbers. Paths name array-of-tables
// elements by index: "policy.rules[2].match.encryption".
type Index struct {
	lines map[string]int
}

// Line returns the line of path, or of its nearest ancestor that has one
// (a value inside an inline table, a key of a table header), or 0.
func (x *Index) Line(path string) int {
	for path != "" {
		if n, ok := x.lines[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Build indexes a TOML document.
func Build(doc string) *Index {
	x := &Index{lines: map[string]int{}}
	arrays := map[string]int{} // array-of-tables path (resolved) → elements seen
	prefix := ""
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || line[0] == '#' {
			continue
		}
		switch {
		case strings.HasPrefix(line, "[["):
			keys, _ := parseKey(line[2:])
			name := resolve(keys, arrays)
			n := arrays[name]
			arrays[name] = n + 1
			prefix = name + "[" + strconv.Itoa(n) + "]"
			x.set(prefix, i+1)
			continue
		case strings.HasPrefix(line, "["):
			keys, _ := parseKey(line[1:])
			prefix = resolve(keys, arrays)
			x.set(prefix, i+1)
			continue
		}
		keys, rest := parseKey(line)
		if len(keys) == 0 || !strings.HasPrefix(strings.TrimSpace(rest), "=") {
			continue
		}
		path := join(prefix, strings.Join(keys, "."))
		x.set(path, i+1)
		value := strings.TrimSpace(rest)[1:]
		// Values that span lines: multi-line strings and arrays. Keys inside
		// inline tables and arrays of inline tables keep the key's line.
		i = skipValue(lines, i, value)
	}
	return x
}

func (x *Index) set(path string, line int) {
	if _, ok := x.lines[path]; !ok {
		x.lines[path] = line
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// resolve turns a table header's keys into a path, naming the current
// element of every array of tables on the way ([policy.rules.match] inside
// the third [[policy.rules]] is policy.rules[2].match). The header's own
// last key is left bare: for [[x]] the caller adds the new index.
func resolve(keys []string, arrays map[string]int) string {
	path := ""
	for i, k := range keys {
		path = join(path, k)
		if n := arrays[path]; n > 0 && i < len(keys)-1 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

// parseKey reads a dotted key (bare or quoted parts) at the start of s and
// returns its parts and what follows.
func parseKey(s string) ([]string, string) {
	var keys []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return keys, s
		}
		var k string
		switch s[0] {
		case '"', '\'':
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				return nil, ""
			}
			k, s = s[1:1+end], s[2+end:]
		default:
			end := 0
			for end < len(s) && isBare(s[end]) {
				end++
			}
			if end == 0 {
				return keys, s
			}
			k, s = s[:end], s[end:]
		}
		keys = append(keys, k)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return keys, s
		}
		s = s[1:]
	}
}

func isBare(c byte) bool {
	return c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// skipValue returns the index of the last line of a value that starts on
// line i with text v: it follows strings (basic, literal, multi-line) and
// the nesting of arrays and inline tables, and stops at a comment.
func skipValue(lines []string, i int, v string) int {
	depth := 0
	inMulti := ""
	for {
		for j := 0; j < len(v); j++ {
			if inMulti != "" {
				if strings.HasPrefix(v[j:], inMulti) {
					j += 2
					inMulti = ""
				} else if inMulti == `"""` && v[j] == '\\' {
					j++
				}
				continue
			}
			switch c := v[j]; c {
			case '#':
				j = len(v)
			case '[', '{':
				depth++
			case ']', '}':
				depth--
			case '"', '\'':
				q := string(c)
				if strings.HasPrefix(v[j:], q+q+q) {
					inMulti = q + q + q
					j += 2
					continue
				}
				for j++; j < len(v) && v[j] != c; j++ {
					if c == '"' && v[j] == '\\' {
						j++
					}
				}
			}
		}
		if (depth <= 0 && inMulti == "") || i+1 >= len(lines) {
			return i
		}
		i++
		v = lines[i]
	}
}
