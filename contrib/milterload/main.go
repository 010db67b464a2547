// Command milterload plays Postfix's side of the milter protocol against a
// milter and reports throughput, latency, verdicts and the server's CPU time
// and memory per message.
//
//	milterload -addr unix:/run/sealtag.sock -corpus /tmp/sealtag-load -c 8 -n 2000 -pid 1234 [-json]
//
// Each connection negotiates version-2 masks (go-milter's client refuses
// anything else against a version-2 server), sends CONNECT and HELO with
// Postfix's macros, then up to -per-conn messages: MAIL, RCPT, the header
// fields as Postfix's cleanup sends them (one leading space stripped, folded
// lines joined with LF), end of header, the body in 65535-byte chunks, end of
// message, and ABORT after each transaction as smtpd does; then QUIT.
// Messages are the *.eml files of -corpus, cycled. Latency is per message,
// from MAIL to the end-of-message reply. With -pid, the server's CPU time
// (utime+stime with reaped children, summed over its process tree) is read
// from /proc before and after, and its memory is sampled meanwhile; -reset-peak
// makes the peak RSS (VmHWM) the run's own instead of the process's lifetime's.
//
// Exit status: 0 done, 1 could not run, 2 usage, 3 done with errors.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("milterload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "milter address: unix:/path, /path, inet:host:port, inet6:[::1]:port, port@host or host:port")
	corpusDir := fs.String("corpus", "/tmp/sealtag-load", "directory of *.eml messages, sent in name order and cycled")
	conns := fs.Int("c", 1, "concurrent milter connections")
	perConn := fs.Int("per-conn", 10, "messages per connection (ABORT between them), then QUIT and reconnect")
	n := fs.Int("n", 0, "messages to send (default: the corpus once, unless -d)")
	dur := fs.Duration("d", 0, "send for this long instead of -n messages")
	timeout := fs.Duration("timeout", 60*time.Second, "deadline for one message (and for connecting)")
	pid := fs.Int("pid", 0, "server PID: report its CPU time per message and its memory from /proc")
	sampleEvery := fs.Duration("sample", 100*time.Millisecond, "with -pid, how often memory is sampled")
	resetPeak := fs.Bool("reset-peak", false, "with -pid, reset the server's VmHWM first (clear_refs), so peak RSS is this run's")
	noTLS := fs.Bool("no-tls", false, "send no TLS macros (a plaintext SMTP session)")
	jsonOut := fs.Bool("json", false, "print one JSON object instead of the table")
	label := fs.String("label", "", "free text copied into the report")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: milterload -addr ADDR [-corpus DIR] [-c N] [-per-conn K] [-n N | -d DUR] [-timeout DUR] [-pid PID] [-json]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || *addr == "" || *conns < 1 || *perConn < 1 || *n < 0 || *dur < 0 || *timeout <= 0 {
		fs.Usage()
		return 2
	}
	network, address, err := parseAddr(*addr)
	if err != nil {
		fmt.Fprintln(stderr, "milterload:", err)
		return 2
	}
	corpus, err := loadCorpus(*corpusDir)
	if err != nil {
		fmt.Fprintln(stderr, "milterload:", err)
		return 1
	}
	o := options{network: network, address: address, conns: *conns, perConn: *perConn,
		n: *n, duration: *dur, timeout: *timeout, tls: !*noTLS}
	if o.n == 0 && o.duration == 0 {
		o.n = len(corpus)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var before procFigures
	var smp *sampler
	busy0, _, machineErr := cpuTimes()
	self0 := selfTicks()
	if *pid > 0 {
		if *resetPeak {
			if err := resetPeaks(*pid); err != nil {
				fmt.Fprintln(stderr, "milterload: -reset-peak:", err)
				return 1
			}
		}
		if before, err = measure(*pid); err != nil {
			fmt.Fprintln(stderr, "milterload:", err)
			return 1
		}
		smp = startSampler(*pid, *sampleEvery)
	}
	t, elapsed := run(ctx, o, corpus)
	busy1, _, _ := cpuTimes()
	self1 := selfTicks()
	rep := newReport(o, *addr, *corpusDir, corpus, t, elapsed)
	rep.Label = *label
	if smp != nil {
		peakRSS, peakPSS, samples := smp.finish()
		after, err := measure(*pid)
		if err != nil {
			fmt.Fprintln(stderr, "milterload:", err)
			rep.Server = &serverReport{PID: *pid, Gone: true}
		} else {
			rep.Server = newServerReport(*pid, before, after, peakRSS, peakPSS, samples, t.completed)
		}
	}
	if machineErr == nil {
		rep.Machine = newMachineReport(busy1-busy0, self1-self0, rep.Server, elapsed, t.completed)
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "milterload:", err)
			return 1
		}
	} else {
		rep.writeTable(stdout)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "milterload: interrupted")
		return 1
	}
	if rep.Errors > 0 {
		return 3
	}
	return 0
}

// parseAddr accepts sealtag's and Postfix's address forms.
func parseAddr(s string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		return "unix", strings.TrimPrefix(s, "unix:"), nil
	case strings.HasPrefix(s, "local:"):
		return "unix", strings.TrimPrefix(s, "local:"), nil
	case strings.HasPrefix(s, "/"):
		return "unix", s, nil
	}
	network = "tcp"
	if rest, ok := strings.CutPrefix(s, "inet6:"); ok {
		network, s = "tcp6", rest
	} else if rest, ok := strings.CutPrefix(s, "inet:"); ok {
		network, s = "tcp", rest
	}
	if port, host, ok := strings.Cut(s, "@"); ok { // Postfix: inet:port@host
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", "", fmt.Errorf("address %q: bad port", s)
		}
		return network, net.JoinHostPort(strings.Trim(host, "[]"), port), nil
	}
	if i := strings.LastIndexByte(s, ':'); i < 0 || i == len(s)-1 {
		return "", "", errors.New("address " + strconv.Quote(s) + ": want unix:/path or inet:host:port")
	}
	return network, s, nil
}
