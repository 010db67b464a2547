// Package policy reads sealtag's TOML configuration (SPEC §4), validates it
// strictly — every problem reported at once as FILE:LINE: message — and
// turns a classification into a verdict: accept, tempfail, reject, discard
// or quarantine, with the rule that decided and the reply the sender sees.
package policy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"sealtag/inspect"
	"sealtag/internal/tomlpos"
)

// DefaultListen is where `sealtag serve` listens without a configuration.
const DefaultListen = "inet:127.0.0.1:8894"

// Config is a validated configuration. Build it with Load, Parse or
// Defaults; it is immutable afterwards and safe to share between sessions.
type Config struct {
	// File is where the configuration was read from; "" for the built-in defaults.
	File string `toml:"-"`

	// Listen is the milter socket: "unix:/path", "inet:host:port",
	// "inet:port@host" (Postfix's spelling) or "inet6:[::1]:port".
	Listen string `toml:"listen"`
	// SocketMode is the permission of a unix socket (Postfix's smtpd and
	// cleanup connect as user postfix: 0660 with SocketGroup postfix).
	SocketMode FileMode `toml:"socket_mode"`
	// SocketGroup is the group of a unix socket; "" keeps sealtag's own.
	SocketGroup string `toml:"socket_group"`
	// MetricsListen serves Prometheus metrics at /metrics; "" is off.
	MetricsListen string `toml:"metrics_listen"`
	// ShutdownTimeout is how long SIGTERM waits for open sessions.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// IdleTimeout closes an MTA connection that sends nothing for this long
	// — between packets or inside one — so a vanished MTA host (half-open
	// TCP) or a stalled client cannot hold a session forever. Postfix's own
	// limits are shorter (milter_content_timeout 300s, smtpd_timeout 300s).
	IdleTimeout Duration `toml:"idle_timeout"`

	Log     LogConfig     `toml:"log"`
	Headers HeadersConfig `toml:"headers"`
	Limits  LimitsConfig  `toml:"limits"`
	Relays  RelaysConfig  `toml:"relays"`
	Policy  PolicyConfig  `toml:"policy"`

	// Providers is the relay provider list: the built-in one with the
	// files of [relays] added.
	Providers *inspect.Providers `toml:"-"`

	rules     []rule
	defReply  Reply
	listenNet string
	listenAdr string
}

// LogConfig is the [log] table.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// HeadersConfig is the [headers] table.
type HeadersConfig struct {
	// Prefix names sealtag's header namespace (SPEC §2). Every incoming
	// header that starts with it is removed before sealtag adds its own.
	Prefix string `toml:"prefix"`
}

// LimitsConfig is the [limits] table: how far the classifier walks.
type LimitsConfig struct {
	MaxDepth int `toml:"max_depth"`
	MaxParts int `toml:"max_parts"`
}

// RelaysConfig is the [relays] table: provider lists added to the built-in one.
type RelaysConfig struct {
	// Files are paths or glob patterns of TOML provider lists (the schema
	// of the built-in relays.toml). A provider whose id exists replaces it.
	Files StringList `toml:"files"`
	// ReplaceBuiltin drops the built-in list: only Files count.
	ReplaceBuiltin bool `toml:"replace_builtin"`
}

// PolicyConfig is the [policy] table.
type PolicyConfig struct {
	// Mode "enforce" applies verdicts; "monitor" decides, logs and tags
	// X-Sealtag-Policy with mode=monitor, and always accepts.
	Mode string `toml:"mode"`
	// Default is the action when no rule matches.
	Default string `toml:"default"`
	// DefaultReply is the reply for a default of reject or tempfail.
	DefaultReply string `toml:"default_reply"`
	// OnError is what an internal error returns: tempfail (nothing is
	// lost: the client retries), accept (fail open) or reject.
	OnError string       `toml:"on_error"`
	Rules   []RuleConfig `toml:"rules"`
}

// RuleConfig is one [[policy.rules]] entry. The first rule whose given
// match keys all hold decides.
type RuleConfig struct {
	Name   string      `toml:"name"`
	Match  MatchConfig `toml:"match"`
	Action string      `toml:"action"`
	// Reply is the SMTP reply for reject and tempfail, "550 5.7.1 text".
	Reply string `toml:"reply"`
	// Mode overrides the policy's mode for this rule: try a new rule in
	// monitor mode while the others enforce.
	Mode string `toml:"mode"`
	// SubjectTag is put in front of the Subject of a message this rule
	// accepts or quarantines ("[encrypted] "), once: a subject that already
	// carries it (a reply) is left alone. For help desks whose triggers
	// see the subject but not the headers.
	SubjectTag string `toml:"subject_tag"`
}

// MatchConfig is the match table of a rule (SPEC §4). Each key holds when
// any of its values does; a rule without keys matches every message.
type MatchConfig struct {
	Encryption StringList `toml:"encryption"`
	Scope      string     `toml:"scope"`
	Recipient  StringList `toml:"recipient"`
	Sender     StringList `toml:"sender"`
	TLS        StringList `toml:"tls"`
	Relay      StringList `toml:"relay"`
	Thread     StringList `toml:"thread"`
}

// Defaults returns the built-in configuration `sealtag serve` runs on when
// no file exists (SPEC §3): accept everything, add the headers, listen on
// inet:127.0.0.1:8894.
func Defaults() *Config {
	c := &Config{
		Listen:          DefaultListen,
		SocketMode:      0o660,
		ShutdownTimeout: Duration(30 * time.Second),
		IdleTimeout:     Duration(10 * time.Minute),
		Log:             LogConfig{Level: "info", Format: "text"},
		Headers:         HeadersConfig{Prefix: inspect.DefaultPrefix},
		Limits:          LimitsConfig{MaxDepth: inspect.DefaultMaxDepth, MaxParts: inspect.DefaultMaxParts},
		Policy:          PolicyConfig{Mode: ModeEnforce, Default: string(Accept), OnError: string(TempFail)},
	}
	// The defaults are valid by construction; compiling them cannot fail.
	if err := c.compile(&problems{file: "defaults"}, nil); err != nil {
		panic(err)
	}
	return c
}

// Load reads and validates the configuration file at path. Relay lists the
// file names are read too. On any problem it returns Errors, all of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: errorText(err)}}
	}
	return Parse(data, path, os.ReadFile)
}

// Parse validates a configuration document. name is the file name used in
// messages and to resolve relative relay list paths; readFile reads those
// lists (nil: relay files are an error).
func Parse(data []byte, name string, readFile func(string) ([]byte, error)) (*Config, error) {
	p := &problems{file: name}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line, msg := tomlpos.ParseError(pe, data)
			return nil, Errors{{File: name, Line: line, Msg: "syntax error: " + msg}}
		}
		return nil, Errors{{File: name, Msg: err.Error()}}
	}
	p.idx = tomlpos.Build(string(data))
	c := Defaults()
	c.File = name
	p.decode("", raw, reflect.ValueOf(c).Elem())
	if err := c.compile(p, readFile); err != nil {
		return nil, err
	}
	return c, nil
}

// errorText drops Go's "open x: " prefix so the file is named once.
func errorText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// compile validates every value and builds the rules; problems found while
// decoding are reported with these.
func (c *Config) compile(p *problems, readFile func(string) ([]byte, error)) error {
	var err error
	if c.listenNet, c.listenAdr, err = ParseListen(c.Listen); err != nil {
		p.at("listen", "listen: %v", err)
	}
	if c.SocketMode > 0o777 {
		p.at("socket_mode", "socket_mode %o: want a permission like 0660", uint32(c.SocketMode))
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			p.at("metrics_listen", "metrics_listen %q: want host:port, e.g. 127.0.0.1:9894", c.MetricsListen)
		}
	}
	if d := time.Duration(c.ShutdownTimeout); d <= 0 || d > 10*time.Minute {
		p.at("shutdown_timeout", "shutdown_timeout %s: want a duration between 1s and 10m", d)
	}
	if d := time.Duration(c.IdleTimeout); d < time.Second || d > 24*time.Hour {
		p.at("idle_timeout", "idle_timeout %s: want a duration between 1s and 24h", d)
	}
	oneOf(p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(p, "log.format", c.Log.Format, "text", "json")
	if err := checkPrefix(c.Headers.Prefix); err != nil {
		p.at("headers.prefix", "headers.prefix %q: %v", c.Headers.Prefix, err)
	}
	if c.Limits.MaxDepth < 1 || c.Limits.MaxDepth > 256 {
		p.at("limits.max_depth", "limits.max_depth %d: want 1 to 256", c.Limits.MaxDepth)
	}
	if c.Limits.MaxParts < 1 || c.Limits.MaxParts > 100000 {
		p.at("limits.max_parts", "limits.max_parts %d: want 1 to 100000", c.Limits.MaxParts)
	}
	c.loadRelays(p, readFile)

	oneOf(p, "policy.mode", c.Policy.Mode, ModeEnforce, ModeMonitor)
	if !isAction(c.Policy.Default) {
		p.at("policy.default", "policy.default: unknown action %q (%s)%s", c.Policy.Default, actionList, suggest(c.Policy.Default, actionNames()))
	}
	if isAction(c.Policy.Default) {
		c.defReply = replyFor(p, "policy.default_reply", "policy.default_reply", Action(c.Policy.Default), c.Policy.DefaultReply)
	}
	switch Action(c.Policy.OnError) {
	case Accept, TempFail, Reject:
	default:
		p.at("policy.on_error", "policy.on_error %q: want tempfail (nothing is lost), accept (fail open) or reject", c.Policy.OnError)
	}

	c.rules = c.rules[:0]
	names := map[string]int{}
	for i, rc := range c.Policy.Rules {
		c.rules = append(c.rules, c.compileRule(p, i, rc, names))
	}
	if len(p.errs) > 0 {
		return p.sorted()
	}
	return nil
}

// oneOf checks that a value is one of the allowed ones.
func oneOf(p *problems, path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.at(path, "%s %q: want one of %s%s", path, v, strings.Join(allowed, ", "), suggest(v, allowed))
}

// checkPrefix makes sure the header namespace cannot swallow headers that
// are not sealtag's: deleting every "X-" header would be a disaster.
func checkPrefix(prefix string) error {
	if !strings.HasPrefix(strings.ToLower(prefix), "x-") || len(prefix) < 4 {
		return errors.New(`want "X-" and a name of your own, e.g. "X-Sealtag-"`)
	}
	for _, c := range []byte(prefix) {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return errors.New("a header name has no spaces, colons or non-ASCII characters")
		}
	}
	return nil
}

// loadRelays builds the provider list from the built-in one and [relays].
func (c *Config) loadRelays(p *problems, readFile func(string) ([]byte, error)) {
	c.Providers = inspect.DefaultProviders()
	if len(c.Relays.Files) == 0 {
		if c.Relays.ReplaceBuiltin {
			p.at("relays.replace_builtin", "relays.replace_builtin needs relays.files")
		}
		return
	}
	var list *inspect.Providers
	if !c.Relays.ReplaceBuiltin {
		list = c.Providers
	}
	for _, pattern := range c.Relays.Files {
		if !filepath.IsAbs(pattern) && c.File != "" {
			pattern = filepath.Join(filepath.Dir(c.File), pattern)
		}
		files, err := filepath.Glob(pattern)
		if err != nil {
			p.at("relays.files", "relays.files %q: %v", pattern, err)
			continue
		}
		if len(files) == 0 && !strings.ContainsAny(pattern, "*?[") {
			p.at("relays.files", "relays.files: %s does not exist", pattern)
			continue
		}
		sort.Strings(files)
		for _, f := range files {
			if readFile == nil {
				p.at("relays.files", "relays.files: cannot read %s here", f)
				continue
			}
			data, err := readFile(f)
			if err != nil {
				p.at("relays.files", "relays.files: %s: %s", f, errorText(err))
				continue
			}
			extra, err := inspect.ParseProviders(data, f)
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					p.at("relays.files", "in relay list %s", line)
				}
				continue
			}
			if list == nil {
				list = extra
			} else {
				list = list.With(extra)
			}
		}
	}
	if list != nil {
		c.Providers = list
	}
}

// ScanOptions returns the classifier options of the configuration: its
// limits and its relay provider list.
func (c *Config) ScanOptions() inspect.Options {
	return inspect.Options{MaxDepth: c.Limits.MaxDepth, MaxParts: c.Limits.MaxParts, Providers: c.Providers}
}

// ListenAddr returns the network ("unix", "tcp") and address of Listen.
func (c *Config) ListenAddr() (network, address string) { return c.listenNet, c.listenAdr }

// ParseListen reads a milter socket specification: "unix:/path" (also
// "local:/path", Sendmail's word), "inet:host:port", Postfix's
// "inet:port@host", and "inet6:[::1]:port" or "inet6:port@host".
func ParseListen(s string) (network, address string, err error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%q: want unix:/path or inet:host:port", s)
	}
	switch kind {
	case "unix", "local":
		if !filepath.IsAbs(rest) {
			return "", "", fmt.Errorf("%q: the socket path must be absolute", s)
		}
		return "unix", rest, nil
	case "inet", "inet6":
		host, port := "", ""
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			port, host = rest[:at], rest[at+1:]
		} else if host, port, err = net.SplitHostPort(rest); err != nil {
			return "", "", fmt.Errorf("%q: want inet:host:port or inet:port@host", s)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
		}
		if host == "" {
			return "", "", fmt.Errorf("%q: name the address to listen on (127.0.0.1 keeps it on loopback)", s)
		}
		return "tcp", net.JoinHostPort(strings.Trim(host, "[]"), port), nil
	}
	return "", "", fmt.Errorf("%q: unknown socket type %q (unix, inet, inet6)", s, kind)
}

// FileMode is a permission written as an octal string ("0660") or a TOML
// octal integer (0o660).
type FileMode uint32

func (m *FileMode) decodeTOML(raw any) error {
	switch v := raw.(type) {
	case int64:
		*m = FileMode(v)
	case string:
		n, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			return fmt.Errorf("want an octal permission like \"0660\", not %q", v)
		}
		*m = FileMode(n)
	default:
		return fmt.Errorf("want an octal permission like \"0660\", not %s", typeName(raw))
	}
	return nil
}

// Duration is a time span written as "30s", "2m".
type Duration time.Duration

func (d *Duration) decodeTOML(raw any) error {
	s, ok := raw.(string)
	if !ok {
		return fmt.Errorf("want a duration like \"30s\", not %s", typeName(raw))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration like \"30s\", not %q", s)
	}
	*d = Duration(v)
	return nil
}
