package policy

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"sealtag/internal/tomlpos"
)

// Error is one problem in a configuration file, with the line it is on.
type Error struct {
	File string
	Line int // 0 when no line can be named
	Msg  string
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in a configuration, in file order. A
// configuration with any of them is rejected as a whole.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// problems collects errors for one file; positions come from its key index.
type problems struct {
	file   string
	idx    *tomlpos.Index
	errs   Errors
	failed map[string]bool // key paths whose value could not be decoded
}

// fail records a value that could not be decoded, so that checks made
// later do not report it a second time ("action is missing").
func (p *problems) fail(path, format string, args ...any) {
	if p.failed == nil {
		p.failed = map[string]bool{}
	}
	p.failed[path] = true
	p.at(path, format, args...)
}

// at records a problem with the value at key path.
func (p *problems) at(path, format string, args ...any) {
	line := 0
	if p.idx != nil {
		line = p.idx.Line(path)
	}
	p.errs = append(p.errs, Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// sorted returns the errors by line (errors without a line first).
func (p *problems) sorted() Errors {
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return p.errs
}

// tomlDecoder is implemented by types that read themselves from a raw TOML
// value (durations, file modes, string-or-list values).
type tomlDecoder interface {
	decodeTOML(raw any) error
}

// decode stores the raw TOML value (as BurntSushi/toml decodes into any)
// in dst, strictly: unknown keys and wrong types are problems, reported
// with their line, and decoding goes on so that all are found at once.
// Struct fields are named by their `toml` tags.
func (p *problems) decode(path string, raw any, dst reflect.Value) {
	if d, ok := dst.Addr().Interface().(tomlDecoder); ok {
		if err := d.decodeTOML(raw); err != nil {
			p.fail(path, "%s: %v", path, err)
		}
		return
	}
	switch dst.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			p.fail(path, "%s: want a table, not %s", path, typeName(raw))
			return
		}
		fields := map[string]int{}
		var names []string
		for i := 0; i < dst.NumField(); i++ {
			tag := dst.Type().Field(i).Tag.Get("toml")
			if tag != "" && tag != "-" {
				fields[tag] = i
				names = append(names, tag)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := join(path, k)
			i, ok := fields[k]
			if !ok {
				p.at(sub, "unknown key %s%s", describe(sub), suggest(k, names))
				continue
			}
			p.decode(sub, m[k], dst.Field(i))
		}
	case reflect.Slice:
		list, ok := tables(raw)
		if !ok {
			p.fail(path, "%s: want a list of tables ([[%s]]), not %s", path, path, typeName(raw))
			return
		}
		out := reflect.MakeSlice(dst.Type(), len(list), len(list))
		for i, m := range list {
			p.decode(fmt.Sprintf("%s[%d]", path, i), m, out.Index(i))
		}
		dst.Set(out)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			p.fail(path, "%s: want a string, not %s", path, typeName(raw))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			p.fail(path, "%s: want true or false, not %s", path, typeName(raw))
			return
		}
		dst.SetBool(b)
	case reflect.Int:
		n, ok := raw.(int64)
		if !ok {
			p.fail(path, "%s: want an integer, not %s", path, typeName(raw))
			return
		}
		dst.SetInt(n)
	default:
		p.fail(path, "%s: cannot be set from a configuration file", path)
	}
}

// describe names a key path for an admin: rules by their number, as they
// appear in the file ("match.colour" in rule 2).
func describe(path string) string {
	const rules = "policy.rules["
	if rest, ok := strings.CutPrefix(path, rules); ok {
		if i := strings.Index(rest, "]."); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return fmt.Sprintf("%q in rule %d", rest[i+2:], n+1)
			}
		}
	}
	return strconv.Quote(path)
}

// tables reads an array of tables, written as [[x]] sections or as an
// inline array of inline tables.
func tables(raw any) ([]map[string]any, bool) {
	switch v := raw.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, x := range v {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// typeName names a raw TOML value's type for messages.
func typeName(raw any) string {
	switch v := raw.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", raw)
}

// StringList is a value that may be written as one string or a list of
// strings: match.recipient = "support@example.com" or ["a@x", "b@x"].
type StringList []string

func (l *StringList) decodeTOML(raw any) error {
	switch v := raw.(type) {
	case string:
		*l = StringList{v}
		return nil
	case []any:
		out := make(StringList, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("want strings in the list, found %s", typeName(x))
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("want a string or a list of strings, not %s", typeName(raw))
}

// suggest returns `; did you mean "x"?` for the candidate closest to s, if
// it is close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
