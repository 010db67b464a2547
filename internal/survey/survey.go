// Package survey sums up the classification of many messages — a mail
// archive an admin runs `sealtag classify` over before switching the policy
// from monitor to enforce: how many messages fall in each encryption class,
// relay, TLS state and thread state, and what each rule would have done.
package survey

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"sealtag/inspect"
	"sealtag/policy"
)

// Survey counts classified messages. The zero value is not usable: use New.
type Survey struct {
	Messages int   `json:"messages"`
	Bytes    int64 `json:"bytes"`
	// Skipped counts files of a directory that were not messages.
	Skipped int `json:"skipped"`
	// Encryption counts first tokens; AnyClass counts every class found
	// (first token or also=), which is what a rule's match.encryption sees.
	Encryption map[string]int `json:"encryption"`
	AnyClass   map[string]int `json:"any_class"`
	Partial    int            `json:"partial"`
	Relay      map[string]int `json:"relay"`
	TLS        map[string]int `json:"tls"`
	Thread     map[string]int `json:"thread"`
	Rules      []*RuleCount   `json:"rules"`

	byRule map[string]*RuleCount
}

// RuleCount is what one rule (or the default) would have decided.
type RuleCount struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Count  int    `json:"count"`
	// Monitor counts decisions made in monitor mode (not applied).
	Monitor int `json:"monitor"`
}

// New returns an empty survey for a configuration, with its rules listed
// in order and the default last.
func New(cfg *policy.Config) *Survey {
	s := &Survey{
		Encryption: map[string]int{}, AnyClass: map[string]int{},
		Relay: map[string]int{}, TLS: map[string]int{}, Thread: map[string]int{},
		byRule: map[string]*RuleCount{},
	}
	for _, r := range cfg.Policy.Rules {
		s.rule(r.Name, r.Action)
	}
	s.rule(policy.RuleDefault, cfg.Policy.Default)
	return s
}

func (s *Survey) rule(name, action string) *RuleCount {
	if rc, ok := s.byRule[name]; ok {
		return rc
	}
	rc := &RuleCount{Rule: name, Action: action}
	s.byRule[name] = rc
	s.Rules = append(s.Rules, rc)
	return rc
}

// Add counts one message of size bytes.
func (s *Survey) Add(res inspect.Result, v policy.Verdict, size int64) {
	s.Messages++
	s.Bytes += size
	s.Encryption[string(res.Encryption.Class)]++
	seen := map[inspect.Class]bool{}
	for _, f := range res.Encryption.Findings {
		if !seen[f.Class] {
			seen[f.Class] = true
			s.AnyClass[string(f.Class)]++
		}
	}
	if res.Encryption.Partial {
		s.Partial++
	}
	s.Relay[res.Relay.Provider]++
	s.TLS[res.TLS.Version]++
	s.Thread[res.Thread.State]++
	rc := s.rule(v.Rule, string(v.Action))
	rc.Count++
	if v.Monitor {
		rc.Monitor++
	}
}

// WriteTable prints the survey as aligned tables.
func (s *Survey) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "%d messages, %.1f MB", s.Messages, float64(s.Bytes)/1e6)
	if s.Partial > 0 {
		fmt.Fprintf(tw, ", %d only partly inspected (limits)", s.Partial)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(tw, ", %d files skipped (not messages)", s.Skipped)
	}
	fmt.Fprintln(tw)
	s.section(tw, "encryption (first token)", s.Encryption, classOrder())
	s.section(tw, "encryption (any layer)", s.AnyClass, classOrder())
	s.section(tw, "relay", s.Relay, nil)
	s.section(tw, "tls", s.TLS, nil)
	s.section(tw, "thread", s.Thread, []string{inspect.ThreadNew, inspect.ThreadReply, inspect.ThreadBroken})
	fmt.Fprintln(tw, "\nrule\taction\tmessages\t%\t")
	for _, rc := range s.Rules {
		action := rc.Action
		if rc.Monitor > 0 && rc.Monitor == rc.Count {
			action += " (monitor)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", rc.Rule, action, rc.Count, s.percent(rc.Count))
	}
	return tw.Flush()
}

// section prints one count table: known keys in order, then the rest by count.
func (s *Survey) section(w io.Writer, title string, counts map[string]int, order []string) {
	if len(counts) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\tmessages\t%%\t\n", title)
	done := map[string]bool{}
	for _, k := range order {
		if n := counts[k]; n > 0 {
			fmt.Fprintf(w, "%s\t%d\t%s\t\n", k, n, s.percent(n))
		}
		done[k] = true
	}
	var rest []string
	for k := range counts {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		if counts[rest[i]] != counts[rest[j]] {
			return counts[rest[i]] > counts[rest[j]]
		}
		return rest[i] < rest[j]
	})
	for _, k := range rest {
		fmt.Fprintf(w, "%s\t%d\t%s\t\n", k, counts[k], s.percent(counts[k]))
	}
}

func (s *Survey) percent(n int) string {
	if s.Messages == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", 100*float64(n)/float64(s.Messages))
}

func classOrder() []string {
	var out []string
	for _, c := range inspect.Classes() {
		out = append(out, string(c))
	}
	return out
}
