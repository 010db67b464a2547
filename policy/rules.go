package policy

import (
	"fmt"
	"slices"
	"strings"

	"sealtag/inspect"
)

// Action is what sealtag tells the MTA to do with a message.
type Action string

// The actions of SPEC §2.
const (
	Accept     Action = "accept"
	TempFail   Action = "tempfail"
	Reject     Action = "reject"
	Discard    Action = "discard"
	Quarantine Action = "quarantine"
)

// Modes of the policy and of single rules.
const (
	ModeEnforce = "enforce"
	ModeMonitor = "monitor"
)

const actionList = "accept, tempfail, reject, discard, quarantine"

func actionNames() []string {
	return []string{string(Accept), string(TempFail), string(Reject), string(Discard), string(Quarantine)}
}

func isAction(s string) bool { return slices.Contains(actionNames(), s) }

// Rule names that are not rules of the configuration.
const (
	RuleDefault = "default"  // no rule matched
	RuleOnError = "on_error" // sealtag failed on the message
)

// rule is a compiled [[policy.rules]] entry.
type rule struct {
	name       string
	action     Action
	reply      Reply
	monitor    bool
	subjectTag string
	encryption []inspect.Class
	scope      inspect.Scope
	recipients []string // lower case; "@domain" for a domain
	senders    []string
	tls        []string // lower case
	relays     []string
	threads    []string
}

// compileRule validates one rule.
func (c *Config) compileRule(p *problems, i int, rc RuleConfig, names map[string]int) rule {
	path := fmt.Sprintf("policy.rules[%d]", i)
	r := rule{name: rc.Name, action: Action(rc.Action)}
	label := fmt.Sprintf("rule %d", i+1)
	switch {
	case rc.Name == "":
		if !p.failed[path+".name"] {
			p.at(path, "%s: name is missing", label)
		}
	case !isRuleName(rc.Name):
		p.at(path+".name", "%s: name %q: use letters, digits, '.', '_' and '-' only", label, rc.Name)
	default:
		label = fmt.Sprintf("rule %q", rc.Name)
		if first, dup := names[rc.Name]; dup {
			p.at(path+".name", "%s: the name is used by rule %d too", label, first+1)
		}
		names[rc.Name] = i
	}
	if rc.Action == "" {
		if !p.failed[path+".action"] {
			p.at(path, "%s: action is missing (%s)", label, actionList)
		}
	} else if !isAction(rc.Action) {
		p.at(path+".action", "%s: unknown action %q (%s)%s", label, rc.Action, actionList, suggest(rc.Action, actionNames()))
	}
	if isAction(rc.Action) {
		r.reply = replyFor(p, path+".reply", label+": reply", r.action, rc.Reply)
	}
	if rc.SubjectTag != "" {
		r.subjectTag = rc.SubjectTag
		switch {
		case r.action != Accept && r.action != Quarantine && isAction(rc.Action):
			p.at(path+".subject_tag", "%s: subject_tag only applies to messages that are delivered (accept, quarantine), not %s", label, r.action)
		case strings.TrimSpace(rc.SubjectTag) == "" || len(rc.SubjectTag) > 64 || strings.ContainsAny(rc.SubjectTag, "\r\n\t"):
			p.at(path+".subject_tag", "%s: subject_tag %q: want a short tag on one line, e.g. \"[encrypted] \"", label, rc.SubjectTag)
		}
	}
	switch rc.Mode {
	case "", ModeEnforce:
	case ModeMonitor:
		r.monitor = true
	default:
		p.at(path+".mode", "%s: mode %q: want enforce or monitor", label, rc.Mode)
	}

	m := rc.Match
	mpath := path + ".match"
	classes := inspect.Classes()
	classNames := make([]string, len(classes))
	for j, cl := range classes {
		classNames[j] = string(cl)
	}
	for _, v := range m.Encryption {
		if !slices.Contains(classNames, v) {
			p.at(mpath+".encryption", "%s: unknown encryption class %q%s", label, v, suggest(v, classNames))
		}
		r.encryption = append(r.encryption, inspect.Class(v))
	}
	switch m.Scope {
	case "":
	case string(inspect.ScopeOuter), string(inspect.ScopeNested):
		if len(m.Encryption) == 0 {
			p.at(mpath+".scope", "%s: match.scope narrows match.encryption, which is missing", label)
		}
		r.scope = inspect.Scope(m.Scope)
	default:
		p.at(mpath+".scope", "%s: match.scope %q: want outer or nested", label, m.Scope)
	}
	r.recipients = addresses(p, mpath+".recipient", label, m.Recipient)
	r.senders = addresses(p, mpath+".sender", label, m.Sender)
	for _, v := range m.TLS {
		if !validTLS(v) {
			p.at(mpath+".tls", "%s: match.tls %q: want a TLS version as the MTA names it (TLSv1.2, TLSv1.3), none, unknown or any", label, v)
		}
		r.tls = append(r.tls, strings.ToLower(v))
	}
	ids := append(c.Providers.IDs(), "any", inspect.RelayNone)
	for _, v := range m.Relay {
		if !slices.Contains(ids, v) {
			p.at(mpath+".relay", "%s: unknown relay %q (%s)%s", label, v, strings.Join(ids, ", "), suggest(v, ids))
		}
		r.relays = append(r.relays, v)
	}
	threads := []string{inspect.ThreadNew, inspect.ThreadReply, inspect.ThreadBroken}
	for _, v := range m.Thread {
		if !slices.Contains(threads, v) {
			p.at(mpath+".thread", "%s: match.thread %q: want new, reply or broken%s", label, v, suggest(v, threads))
		}
		r.threads = append(r.threads, v)
	}
	return r
}

// replyFor validates a reply for an action and returns it, or the default.
// label names the value in messages.
func replyFor(p *problems, path, label string, a Action, s string) Reply {
	if s == "" {
		switch a {
		case Reject:
			return DefaultRejectReply
		case TempFail:
			return DefaultTempFailReply
		}
		return Reply{}
	}
	if a != Reject && a != TempFail {
		p.at(path, "%s: a reply is only sent for reject and tempfail, not %s", label, a)
		return Reply{}
	}
	r, err := ParseReply(s)
	if err != nil {
		p.at(path, "%s: %v", label, err)
		return Reply{}
	}
	if a == Reject && r.Code/100 != 5 {
		p.at(path, "%s: reject needs a 5xx reply (the sender must not retry), not %d", label, r.Code)
	}
	if a == TempFail && r.Code/100 != 4 {
		p.at(path, "%s: tempfail needs a 4xx reply (the sender retries), not %d", label, r.Code)
	}
	return r
}

// addresses validates recipient/sender values: an address or "@domain".
func addresses(p *problems, path, label string, vs StringList) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		at := strings.LastIndexByte(v, '@')
		if at < 0 || at == len(v)-1 || strings.ContainsAny(v, " <>,") {
			p.at(path, "%s: %q: want an address (support@example.com) or a domain (@example.com)", label, v)
		}
		out = append(out, strings.ToLower(v))
	}
	return out
}

func isRuleName(s string) bool {
	for _, c := range []byte(s) {
		if !(c == '-' || c == '_' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// validTLS accepts the first tokens of X-Sealtag-TLS and "any".
func validTLS(v string) bool {
	switch strings.ToLower(v) {
	case "any", inspect.TLSNone, inspect.TLSUnknown, "sslv2", "sslv3", "tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3":
		return true
	}
	return false
}

// Input is what the policy decides on.
type Input struct {
	Result     inspect.Result
	Sender     string   // envelope sender
	Recipients []string // envelope recipients
}

// Verdict is the policy's decision for one message.
type Verdict struct {
	// Action is what the policy decided; Effective says what the MTA is told.
	Action Action
	// Rule names the rule that decided, "default" or "on_error".
	Rule string
	// Reply is what the sender sees for reject and tempfail.
	Reply Reply
	// Reason says why, for the log only: never sent to the sender.
	Reason string
	// Monitor is set when the decision was made in monitor mode: it is
	// logged and tagged, and the message is accepted.
	Monitor bool
	// SubjectTag is the rule's subject_tag, for a message that is delivered.
	SubjectTag string
}

// Effective returns the action the MTA is told: accept in monitor mode.
func (v Verdict) Effective() Action {
	if v.Monitor {
		return Accept
	}
	return v.Action
}

// TagSubject returns the subject with the verdict's tag in front, and
// whether it changed: not in monitor mode (nothing is applied there), not
// for a message that is not delivered, and not when the subject carries
// the tag already (a reply to a tagged message). decoded is the subject
// with RFC 2047 words decoded, for that comparison; the tag is put in
// front of the raw value, which keeps encoded words intact.
func (v Verdict) TagSubject(raw, decoded string) (string, bool) {
	if v.SubjectTag == "" || v.Monitor || (v.Action != Accept && v.Action != Quarantine) {
		return raw, false
	}
	tag := strings.TrimSpace(v.SubjectTag)
	if strings.Contains(strings.ToLower(decoded), strings.ToLower(tag)) {
		return raw, false
	}
	return v.SubjectTag + raw, true
}

// HeaderValue renders X-Sealtag-Policy: "reject; rule=no-encrypted; mode=monitor".
func (v Verdict) HeaderValue() string {
	s := string(v.Action) + "; rule=" + inspect.QuoteValue(v.Rule)
	if v.Monitor {
		s += "; mode=" + ModeMonitor
	}
	return s
}

// Decide applies the rules to a classified message; the first rule whose
// match keys all hold decides, else the default.
func (c *Config) Decide(in Input) Verdict {
	for _, r := range c.rules {
		if why, ok := r.matches(in); ok {
			return Verdict{Action: r.action, Rule: r.name, Reply: r.reply, Reason: why,
				Monitor: r.monitor || c.Policy.Mode == ModeMonitor, SubjectTag: r.subjectTag}
		}
	}
	return Verdict{Action: Action(c.Policy.Default), Rule: RuleDefault, Reply: c.defReply,
		Reason: "no rule matched", Monitor: c.Policy.Mode == ModeMonitor}
}

// OnError returns the verdict for a message sealtag failed on.
func (c *Config) OnError(reason string) Verdict {
	v := Verdict{Action: Action(c.Policy.OnError), Rule: RuleOnError, Reason: reason}
	switch v.Action {
	case TempFail:
		v.Reply = InternalErrorReply
	case Reject:
		v.Reply = DefaultRejectReply
	}
	return v
}

// matches reports whether every match key of the rule holds, and why.
func (r *rule) matches(in Input) (string, bool) {
	var why []string
	res := in.Result
	if len(r.encryption) > 0 {
		hit := ""
		for _, cl := range r.encryption {
			if res.Encryption.Has(cl, r.scope) {
				hit = string(cl)
				break
			}
		}
		if hit == "" {
			return "", false
		}
		why = append(why, "encryption="+hit)
	}
	if len(r.recipients) > 0 {
		if !slices.ContainsFunc(in.Recipients, func(rc string) bool { return addressMatches(r.recipients, rc) }) {
			return "", false
		}
		why = append(why, "recipient matched")
	}
	if len(r.senders) > 0 {
		if !addressMatches(r.senders, in.Sender) {
			return "", false
		}
		why = append(why, "sender matched")
	}
	if len(r.tls) > 0 {
		v := strings.ToLower(res.TLS.Version)
		ok := false
		for _, t := range r.tls {
			ok = ok || t == v || (t == "any" && res.TLS.Encrypted())
		}
		if !ok {
			return "", false
		}
		why = append(why, "tls="+res.TLS.Version)
	}
	if len(r.relays) > 0 {
		ok := false
		for _, rl := range r.relays {
			if rl == inspect.RelayNone {
				ok = ok || res.Relay.Provider == inspect.RelayNone
			} else {
				ok = ok || res.Relay.Has(rl)
			}
		}
		if !ok {
			return "", false
		}
		why = append(why, "relay="+res.Relay.Provider)
	}
	if len(r.threads) > 0 {
		if !slices.Contains(r.threads, res.Thread.State) {
			return "", false
		}
		why = append(why, "thread="+res.Thread.State)
	}
	if len(why) == 0 {
		return "rule without match keys", true
	}
	return strings.Join(why, " "), true
}

// addressMatches compares an address with a list of addresses and @domains.
func addressMatches(list []string, addr string) bool {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	at := strings.LastIndexByte(addr, '@')
	domain := ""
	if at >= 0 {
		domain = addr[at:]
	}
	for _, x := range list {
		if x == addr || (x[0] == '@' && x == domain) {
			return true
		}
	}
	return false
}
