package tomlpos

import "testing"

func TestBuild(t *testing.T) {
	doc := `# comment
listen = "inet:127.0.0.1:8894"

[headers]
prefix = "X-Sealtag-"   # trailing comment

[policy]
mode = "enforce"
notes = """
a = 1
[not.a.table]
"""
default = "accept"

[[policy.rules]]
name = "first"
match.encryption = [
  "smime-encrypted",
  "pgp-encrypted",
]
action = "reject"

[[policy.rules]]
name = "second"
match = { relay = ["any"], thread = "broken" }
"quoted.key" = 1
action = "tempfail"

[policy.rules.extra]
x = 1
`
	x := Build(doc)
	tests := map[string]int{
		"listen":                           2,
		"headers":                          4,
		"headers.prefix":                   5,
		"policy.mode":                      8,
		"policy.default":                   13,
		"policy.rules[0]":                  15,
		"policy.rules[0].name":             16,
		"policy.rules[0].match.encryption": 17,
		"policy.rules[0].action":           21,
		"policy.rules[1].name":             24,
		"policy.rules[1].match.relay":      25, // inside an inline table: the key's line
		"policy.rules[1].quoted.key":       26,
		"policy.rules[1].action":           27,
		"policy.rules[1].extra.x":          30,
		"not.a.table":                      0,
		"policy.rules[5].action":           7, // nearest ancestor: [policy]
	}
	for path, want := range tests {
		if got := x.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}
