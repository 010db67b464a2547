// Command sealtag is a mail filter (milter) for Postfix and Sendmail that
// labels incoming mail for help desks: encryption class, TLS of the last
// hop, private-relay use and thread state, and applies a TOML policy.
//
// Usage:
//
//	sealtag serve    [-config FILE]
//	sealtag check    [-config FILE]
//	sealtag classify [-config FILE] [-tls-version V] [-from ADDR] [-rcpt ADDR]... [-json] [FILE|-]
//	sealtag version
//
// See sealtag(8) and README.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sealtag/inspect"
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
		fmt.Fprintln(stderr, "sealtag serve: not built yet (issue 3)")
		return 2
	case "check":
		fmt.Fprintln(stderr, "sealtag check: not built yet (issue 3)")
		return 2
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
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (default "+defaultConfig+" when present)")
	tlsVersion := fs.String("tls-version", "", "TLS version of the session, as the MTA names it (TLSv1.3, none); default unknown")
	tlsCipher := fs.String("tls-cipher", "", "TLS cipher of the session")
	tlsBits := fs.String("tls-bits", "", "TLS cipher bits of the session")
	from := fs.String("from", "", "envelope sender (default: the message's Return-Path)")
	var rcpts listFlag
	fs.Var(&rcpts, "rcpt", "envelope recipient (repeatable)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "sealtag classify: one message at a time")
		return 2
	}
	_ = configPath

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

	sc := inspect.NewScanner(inspect.Options{})
	if _, err := io.Copy(sc, in); err != nil {
		fmt.Fprintf(stderr, "sealtag classify: reading %s: %v\n", name, err)
		return 1
	}
	env := inspect.Envelope{From: *from}
	if env.From == "" {
		env.From = sc.ReturnPath()
	}
	env.TLS = inspect.TLS{Version: inspect.TLSUnknown}
	if *tlsVersion != "" {
		env.TLS = inspect.TLS{Version: *tlsVersion, Cipher: *tlsCipher, Bits: *tlsBits}
		if !env.TLS.Encrypted() {
			env.TLS = inspect.TLS{Version: *tlsVersion}
		}
	}
	res := sc.Finish(env)
	fields := res.Fields(inspect.DefaultPrefix)
	action, rule := "accept", "default"

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
