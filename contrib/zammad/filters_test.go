// Package zammad holds the Zammad postmaster filter examples of contrib/
// and their test.
package zammad

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"sealtag/inspect"
)

type filter struct {
	Name    string
	Channel string
	Match   map[string]struct{ Operator, Value string }
	Perform map[string]struct{ Operator, Value string }
	Active  bool
}

// TestFilters checks the filters' shape and that each expression (the
// subset of Ruby regex they use is also RE2) matches what sealtag writes.
func TestFilters(t *testing.T) {
	b, err := os.ReadFile("postmaster-filters.json")
	if err != nil {
		t.Fatal(err)
	}
	var filters []filter
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&filters); err != nil {
		t.Fatal(err)
	}
	if len(filters) != 4 {
		t.Fatalf("%d filters", len(filters))
	}
	// values sealtag writes, by header, and which filter should fire
	samples := map[string]map[string]bool{
		"x-sealtag-encryption": {
			"smime-encrypted; scope=outer": true, "pgp-inline-encrypted; scope=nested": true,
			"encrypted-attachment; scope=outer; also=pgp-signed": true, "proprietary-ome; scope=outer": true,
			"none": false, "pgp-signed; scope=outer; also=pgp-encrypted": false, "smime-signed-opaque; scope=outer": false,
		},
		"x-sealtag-relay": {
			"firefox; field=reply-to; role=reply": true, "srs; field=envelope": true, "addy; field=from; role=alias": true,
			"none": false,
		},
		"x-sealtag-thread": {"broken": true, "broken; risk=drops-in-reply-to": true, "new; risk=drops-in-reply-to": false, "reply": false},
		"x-sealtag-tls":    {"none": true, "TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256": false, "unknown": false},
	}
	providers := inspect.DefaultProviders().IDs()
	for _, f := range filters {
		if f.Channel != "email" || !f.Active || len(f.Match) != 1 || len(f.Perform) == 0 {
			t.Errorf("%s: malformed: %+v", f.Name, f)
		}
		for header, cond := range f.Match {
			if cond.Operator != "matches regex" {
				t.Errorf("%s: operator %q", f.Name, cond.Operator)
			}
			re, err := regexp.Compile(cond.Value)
			if err != nil {
				t.Errorf("%s: %v", f.Name, err)
				continue
			}
			cases, ok := samples[header]
			if !ok {
				t.Errorf("%s: header %q is not one of sealtag's", f.Name, header)
			}
			for v, want := range cases {
				if re.MatchString(v) != want {
					t.Errorf("%s: %q on %q = %v, want %v", f.Name, cond.Value, v, !want, want)
				}
			}
			if header == "x-sealtag-relay" {
				for _, id := range providers {
					if !re.MatchString(id + "; field=from") {
						t.Errorf("%s: provider %s of the built-in list is missing", f.Name, id)
					}
				}
			}
		}
	}
}
