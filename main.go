// Command sealtag is a mail filter (milter) for Postfix and Sendmail that
// labels incoming mail for help desks: encryption class, TLS of the last
// hop, private-relay use and thread state, and applies a TOML policy.
//
// Usage:
//
//	sealtag serve    [-config FILE]
//	sealtag check    [-config FILE]
//	sealtag classify [-config FILE] [-tls-version V] [-from ADDR] [-rcpt ADDR]... [-json] [FILE|-]
//	sealtag classify [flags] [-v] DIR|MAILDIR|MBOX
//	sealtag relays
//	sealtag version
//
// See sealtag(8) and README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"sealtag/inspect"
	"sealtag/internal/archive"
	"sealtag/internal/logbuf"
	"sealtag/internal/metrics"
	"sealtag/internal/survey"
	"sealtag/milter"
	"sealtag/policy"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// defaultConfig is where the Debian package installs the configuration.
const defaultConfig = "/etc/sealtag/sealtag.toml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit status: 0 success,
// 1 a failure the command reports (an invalid configuration), 2 a usage error.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr)
	case "check":
		return check(args, stdout, stderr)
	case "relays":
		stdout.Write(inspect.BuiltinRelays())
		return 0
	case "classify":
		return classify(args, stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "sealtag", version)
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "sealtag: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  sealtag serve    [-config FILE]      run the milter (default command)
  sealtag check    [-config FILE]      validate the configuration
  sealtag classify [-config FILE] [-tls-version V] [-from ADDR] [-rcpt ADDR]... [-json] [FILE|-]
  sealtag classify [same flags] [-v] DIR|MAILDIR|MBOX   survey an archive: counts and what each rule would do
  sealtag relays                       print the built-in relay provider list
  sealtag version
`)
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// classify reads one message and prints the headers sealtag would add and
// the verdict line (SPEC §3).
func classify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var tlsVersion, tlsCipher, tlsBits, from *string
	var asJSON, verbose *bool
	var rcpts listFlag
	fs, cfg, code := configFlags("classify", args, stderr, func(fs *flag.FlagSet) {
		tlsVersion = fs.String("tls-version", "", "TLS version of the session, as the MTA names it (TLSv1.3, none); default unknown")
		tlsCipher = fs.String("tls-cipher", "", "TLS cipher of the session")
		tlsBits = fs.String("tls-bits", "", "TLS cipher bits of the session")
		from = fs.String("from", "", "envelope sender (default: the message's Return-Path)")
		fs.Var(&rcpts, "rcpt", "envelope recipient (repeatable)")
		asJSON = fs.Bool("json", false, "print one JSON object")
		verbose = fs.Bool("v", false, "for a folder, Maildir or mbox: also one line per message")
	})
	if cfg == nil {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "sealtag classify: one message at a time")
		return 2
	}
	// The session's TLS as the flags give it: unknown without -tls-version,
	// no cipher for a session that was not encrypted.
	tls := inspect.TLS{Version: inspect.TLSUnknown}
	if *tlsVersion != "" {
		tls = inspect.TLS{Version: *tlsVersion}
		if tls.Encrypted() {
			tls.Cipher, tls.Bits = *tlsCipher, *tlsBits
		}
	}

	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		if kind, err := archive.Detect(fs.Arg(0)); err == nil && kind != archive.KindFile {
			return classifyArchive(fs.Arg(0), cfg, *from, rcpts, tls, *verbose, *asJSON, stdout, stderr)
		}
	}
	in := stdin
	name := "-"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		name = fs.Arg(0)
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "sealtag classify: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}

	sc := inspect.NewScanner(cfg.ScanOptions())
	if _, err := io.Copy(sc, in); err != nil {
		fmt.Fprintf(stderr, "sealtag classify: reading %s: %v\n", name, err)
		return 1
	}
	env := inspect.Envelope{From: *from, TLS: tls}
	if env.From == "" {
		env.From = sc.ReturnPath()
	}
	res := sc.Finish(env)
	fields := res.Fields(cfg.Headers.Prefix)
	verdict := cfg.Decide(policy.Input{Result: res, Sender: env.From, Recipients: rcpts})
	fields = append(fields, inspect.Field{Name: cfg.Headers.Prefix + inspect.NamePolicy, Value: verdict.HeaderValue()})
	action, rule := string(verdict.Action), verdict.Rule

	if *asJSON {
		out := struct {
			Headers []inspect.Field `json:"headers"`
			Result  inspect.Result  `json:"result"`
			Verdict struct {
				Action string `json:"action"`
				Rule   string `json:"rule"`
			} `json:"verdict"`
		}{Headers: fields, Result: res}
		out.Verdict.Action, out.Verdict.Rule = action, rule
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return 1
		}
		return 0
	}
	for _, f := range fields {
		fmt.Fprintf(stdout, "%s: %s\n", f.Name, f.Value)
	}
	fmt.Fprintf(stdout, "verdict: %s rule=%s\n", action, rule)
	return 0
}

// archiveRun classifies the messages of an archive one after the other,
// with one reused scanner.
type archiveRun struct {
	cfg      *policy.Config
	sc       *inspect.Scanner
	from     string
	rcpts    []string
	tls      inspect.TLS
	survey   *survey.Survey
	name     string
	size     int64
	perMsg   func(name string, res inspect.Result, v policy.Verdict)
	progress func()
}

func (a *archiveRun) Begin(name string) io.Writer {
	a.sc.Reset()
	a.name, a.size = name, 0
	return a
}

func (a *archiveRun) Skip(name string) { a.survey.Skipped++ }

func (a *archiveRun) Write(p []byte) (int, error) {
	a.size += int64(len(p))
	return a.sc.Write(p)
}

func (a *archiveRun) End() {
	env := inspect.Envelope{From: a.from, TLS: a.tls}
	if env.From == "" {
		env.From = a.sc.ReturnPath()
	}
	rcpts := a.rcpts
	if len(rcpts) == 0 {
		rcpts = a.sc.DeliveredTo()
	}
	res := a.sc.Finish(env)
	v := a.cfg.Decide(policy.Input{Result: res, Sender: env.From, Recipients: rcpts})
	a.survey.Add(res, v, a.size)
	if a.perMsg != nil {
		a.perMsg(a.name, res, v)
	}
	a.progress()
}

// classifyArchive classifies every message of a folder, Maildir or mbox
// and prints the survey: counts per class, relay, TLS, thread, and what
// each rule would have done (SPEC §3). Envelope recipients come from -rcpt,
// else from each message's Delivered-To/X-Original-To. Progress goes to
// stderr every few seconds.
func classifyArchive(path string, cfg *policy.Config, from string, rcpts []string, tls inspect.TLS, verbose, asJSON bool, stdout, stderr io.Writer) int {
	start, last := time.Now(), time.Now()
	run := &archiveRun{
		cfg: cfg, from: from, rcpts: rcpts, tls: tls, survey: survey.New(cfg),
		sc: inspect.NewScanner(cfg.ScanOptions()),
	}
	type line struct {
		Name    string          `json:"name"`
		Headers []inspect.Field `json:"headers"`
		Action  string          `json:"action"`
		Rule    string          `json:"rule"`
	}
	var lines []line
	if verbose {
		run.perMsg = func(name string, res inspect.Result, v policy.Verdict) {
			if asJSON {
				lines = append(lines, line{name, res.Fields(cfg.Headers.Prefix), string(v.Action), v.Rule})
				return
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%s rule=%s\n", name, res.Encryption.Value(), res.TLS.Value(),
				res.Relay.Value(), res.Thread.Value(), v.Action, v.Rule)
		}
	}
	run.progress = func() {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			el := time.Since(start).Seconds()
			fmt.Fprintf(stderr, "sealtag classify: %d messages, %.1f MB, %.0f msgs/s\n",
				run.survey.Messages, float64(run.survey.Bytes)/1e6, float64(run.survey.Messages)/el)
		}
	}
	err := archive.Read(path, run)
	if err != nil {
		fmt.Fprintf(stderr, "sealtag classify: %v\n", err)
	}
	if asJSON {
		out := struct {
			Survey   *survey.Survey `json:"survey"`
			Messages []line         `json:"messages,omitempty"`
		}{run.survey, lines}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		if verbose {
			fmt.Fprintln(stdout)
		}
		run.survey.WriteTable(stdout)
	}
	if err != nil {
		return 1
	}
	return 0
}

// loadConfig reads the configuration: path when given; else the default
// path when a file is there; else the built-in defaults (SPEC §3).
func loadConfig(path string) (*policy.Config, error) {
	if path == "" {
		if _, err := os.Stat(defaultConfig); errors.Is(err, fs.ErrNotExist) {
			return policy.Defaults(), nil
		}
		path = defaultConfig
	}
	return policy.Load(path)
}

// configFlags parses a command's flags, -config among them (setup adds the
// others), and loads the configuration. It returns the flag set, the
// configuration, and an exit status when the command cannot go on.
func configFlags(name string, args []string, stderr io.Writer, setup func(*flag.FlagSet)) (*flag.FlagSet, *policy.Config, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (default "+defaultConfig+" when present, else the built-in defaults)")
	if setup != nil {
		setup(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, 2
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, 1
	}
	return fs, cfg, 0
}

// check validates the configuration: exit 0 when valid, else 1 with every
// problem as FILE:LINE: message (SPEC §3).
func check(args []string, stdout, stderr io.Writer) int {
	_, cfg, code := configFlags("check", args, stderr, nil)
	if cfg == nil {
		return code
	}
	if cfg.File == "" {
		fmt.Fprintf(stdout, "no %s: sealtag serve runs on the built-in defaults (accept, tag, listen on %s)\n", defaultConfig, cfg.Listen)
		return 0
	}
	fmt.Fprintf(stdout, "%s: OK: %d rule(s), mode %s, listen %s, relay list %s\n",
		cfg.File, len(cfg.Policy.Rules), cfg.Policy.Mode, cfg.Listen, cfg.Providers.Version)
	return 0
}

// newLogger builds the daemon's logger: text or JSON on stderr (journald
// takes it from there), at a level a reload can change.
func newLogger(c policy.LogConfig, w io.Writer, level *slog.LevelVar) *slog.Logger {
	level.Set(parseLevel(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// serve runs the milter until SIGTERM or SIGINT; SIGHUP reloads the
// configuration, keeping the old one when the new file has errors.
func serve(args []string, stderr io.Writer) int {
	var cpuProfile *string
	fs, cfg, code := configFlags("serve", args, stderr, func(fs *flag.FlagSet) {
		cpuProfile = fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for benchmarks)")
	})
	if cfg == nil {
		return code
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	configPath := fs.Lookup("config").Value.String()
	// sealtag's live heap is small (a few KiB per session) while go-milter
	// allocates every body chunk afresh, so at Go's default (GOGC=100,
	// 4 MiB minimum heap) the collector ran about every 60 chunks; at 200
	// server CPU per message fell by a third in the benchmark (BENCHMARKS.md)
	// for a few MiB of heap. GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	level := new(slog.LevelVar)
	// One line per message: batch them (at most 200 ms late) rather than
	// pay a write system call each.
	logOut := logbuf.New(stderr, 200*time.Millisecond)
	defer logOut.Close()
	logger := newLogger(cfg.Log, logOut, level)
	// go-milter reports connection errors through the standard logger.
	log.SetFlags(0)
	log.SetOutput(slogWriter{logger})

	if os.Geteuid() == 0 {
		logger.Warn("running as root; run sealtag as an unprivileged user (the Debian package uses user sealtag)")
	}
	srv := milter.NewServer(cfg, logger)
	ln, err := milter.Listen(cfg)
	if err != nil {
		logger.Error("cannot listen", "listen", cfg.Listen, "error", err)
		return 1
	}
	var m *metrics.Metrics
	if cfg.MetricsListen != "" {
		m = metrics.New(version)
		srv.Observer = m
		mctx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		go func() {
			if err := m.Serve(mctx, cfg.MetricsListen); err != nil {
				logger.Error("metrics listener failed", "metrics_listen", cfg.MetricsListen, "error", err)
			}
		}()
	}
	source := cfg.File
	if source == "" {
		source = "built-in defaults"
	}
	logger.Info("sealtag started", "version", version, "listen", cfg.Listen, "config", source,
		"mode", cfg.Policy.Mode, "rules", len(cfg.Policy.Rules), "relay_list", cfg.Providers.Version)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	for {
		select {
		case err := <-served:
			if err != nil {
				logger.Error("milter stopped", "error", err)
				return 1
			}
			return 0
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				ok := reload(srv, configPath, logger, level)
				if m != nil {
					m.Reload(ok)
				}
				continue
			}
			cur := srv.Config()
			logger.Info("shutting down", "signal", sig.String(), "deadline", time.Duration(cur.ShutdownTimeout).String())
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cur.ShutdownTimeout))
			err := srv.Shutdown(ctx)
			cancel()
			<-served
			if err != nil {
				logger.Warn("shutdown deadline passed; the MTA applies milter_default_action to what was left", "error", err)
			}
			if network, addr := cur.ListenAddr(); network == "unix" {
				os.Remove(addr)
			}
			logger.Info("sealtag stopped")
			return 0
		}
	}
}

// reload reads the configuration again; a broken file keeps the old one and
// logs every problem. It reports whether the new configuration was taken.
func reload(srv *milter.Server, path string, logger *slog.Logger, level *slog.LevelVar) bool {
	old := srv.Config()
	cfg, err := loadConfig(path)
	if err != nil {
		var errs policy.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				logger.Error("reload refused, keeping the running configuration", "problem", e.Error())
			}
		} else {
			logger.Error("reload refused, keeping the running configuration", "problem", err.Error())
		}
		return false
	}
	if cfg.Listen != old.Listen || cfg.SocketMode != old.SocketMode || cfg.SocketGroup != old.SocketGroup {
		logger.Warn("listen and socket settings change only on restart", "running", old.Listen, "configured", cfg.Listen)
	}
	if cfg.Log.Format != old.Log.Format {
		logger.Warn("log.format changes only on restart")
	}
	if cfg.MetricsListen != old.MetricsListen {
		logger.Warn("metrics_listen changes only on restart")
	}
	level.Set(parseLevel(cfg.Log.Level))
	srv.SetConfig(cfg)
	logger.Info("configuration reloaded", "config", cfg.File, "mode", cfg.Policy.Mode, "rules", len(cfg.Policy.Rules), "relay_list", cfg.Providers.Version)
	return true
}

// slogWriter turns go-milter's standard-log lines into slog records.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("go-milter: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
