// Command noop is a go-milter server that accepts every message and changes
// nothing: the protocol floor that milterload measures other milters
// against. It negotiates as sealtag does (OptNoUnknown, OptNoData; no
// OptNo*Reply flag, NOTES §1) so the exchange is the same.
//
//	noop -listen unix:/tmp/noop.sock      (or inet:127.0.0.1:10030, host:port, /path)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/emersion/go-milter"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stderr))
}

func mainErr(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "inet:127.0.0.1:10030", "unix:/path, /path, inet:host:port or host:port")
	mode := fs.String("mode", "0660", "permissions of a unix socket")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	perm, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	ln, cleanup, err := listenOn(*listen, os.FileMode(perm))
	if err != nil {
		fmt.Fprintln(stderr, "noop:", err)
		return 1
	}
	defer cleanup()
	log.SetOutput(stderr)
	srv := newServer()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		srv.Close()
	}()
	fmt.Fprintf(stderr, "noop: listening on %s (pid %d)\n", *listen, os.Getpid())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, milter.ErrServerClosed) {
		fmt.Fprintln(stderr, "noop:", err)
		return 1
	}
	return 0
}

// newServer: milter.NoOpMilter continues at every stage and accepts at end
// of message; one value serves every connection.
func newServer() *milter.Server {
	return &milter.Server{
		NewMilter: func() milter.Milter { return milter.NoOpMilter{} },
		Actions:   milter.OptAddHeader | milter.OptChangeHeader,
		Protocol:  milter.OptNoUnknown | milter.OptNoData,
	}
}

// listenOn opens the socket; cleanup removes a unix socket file.
func listenOn(addr string, mode os.FileMode) (net.Listener, func(), error) {
	path, isUnix := strings.CutPrefix(addr, "unix:")
	if !isUnix && strings.HasPrefix(addr, "/") {
		path, isUnix = addr, true
	}
	if isUnix {
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.Dial("unix", path); err == nil {
				c.Close()
				return nil, nil, fmt.Errorf("%s: another process is serving this socket", path)
			}
			os.Remove(path) // stale
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, nil, err
		}
		if err := os.Chmod(path, mode); err != nil {
			ln.Close()
			return nil, nil, err
		}
		return ln, func() { os.Remove(path) }, nil
	}
	hostport := strings.TrimPrefix(strings.TrimPrefix(addr, "inet:"), "inet6:")
	ln, err := net.Listen("tcp", hostport)
	if err != nil {
		return nil, nil, err
	}
	return ln, func() {}, nil
}
