// Package milter runs sealtag as a mail filter for Postfix and Sendmail on
// github.com/emersion/go-milter: it keeps the SMTP session's state, streams
// each message into the classifier (package inspect), asks the policy for
// a verdict, removes forged headers of sealtag's namespace, adds its own
// and answers the MTA.
package milter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gomilter "github.com/emersion/go-milter"

	"sealtag/policy"
)

// Server is sealtag's milter. Its configuration can be replaced while it
// runs (SIGHUP): each message uses the configuration it started with.
type Server struct {
	cfg atomic.Pointer[policy.Config]
	log *slog.Logger

	mu      sync.Mutex
	conns   map[*trackedConn]struct{}
	closing bool
	wg      sync.WaitGroup // open MTA connections

	milter *gomilter.Server
	// Observer, when set, is told about every finished message (metrics).
	Observer Observer
	// faultHook lets tests inject an internal error at a stage.
	faultHook atomic.Pointer[func(stage string)]
}

// Observer receives one report per message; it must not block.
type Observer interface {
	Message(r Report)
	SessionOpened()
	SessionClosed()
}

// NewServer returns a Server with a configuration.
func NewServer(cfg *policy.Config, log *slog.Logger) *Server {
	s := &Server{log: log, conns: map[*trackedConn]struct{}{}}
	s.cfg.Store(cfg)
	s.milter = &gomilter.Server{
		NewMilter: s.newSession,
		Actions:   gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine | gomilter.OptSetSymList,
		// OptNoUnknown: go-milter has no handler for SMFIC_UNKNOWN and would
		// drop the connection (NOTES §1). OptNoData: nothing to do at DATA.
		// The OptNo*Reply flags stay off: go-milter always replies.
		Protocol: gomilter.OptNoUnknown | gomilter.OptNoData,
		SymList:  macroRequest,
	}
	return s
}

// Config returns the configuration new messages use.
func (s *Server) Config() *policy.Config { return s.cfg.Load() }

// SetConfig replaces the configuration for messages that start from now on.
func (s *Server) SetConfig(cfg *policy.Config) { s.cfg.Store(cfg) }

// macroRequest asks the MTA for the macros sealtag needs, stage by stage
// (SMFIF_SETSYMLIST), so TLS status does not depend on the admin's
// milter_*_macros. Postfix empties every stage's list once a milter sends
// one, so every stage sealtag uses is listed (NOTES §1). The TLS macros are
// asked for at MAIL too: the second message of a connection gets no HELO.
var macroRequest = map[gomilter.Stage][]string{
	gomilter.StageConnect:  {"j", "{daemon_name}", "{client_addr}", "{client_name}"},
	gomilter.StageHelo:     {"{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}", "{verify}"},
	gomilter.StageMailFrom: {"i", "{auth_type}", "{client_addr}", "{client_name}", "{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}", "{verify}"},
	gomilter.StageRcptTo:   {"i"},
	gomilter.StageEOH:      {"i"},
	gomilter.StageEOM:      {"i", "{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{verify}"},
}

// Serve accepts MTA connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.milter.Serve(&trackedListener{Listener: ln, srv: s})
	if errors.Is(err, gomilter.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, closes idle ones at once and waits
// for messages in flight until ctx ends; then it closes what is left (the
// MTA applies milter_default_action to those messages: nothing is lost).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	err := s.milter.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		open := 0
		for c := range s.conns {
			if !c.busy() {
				c.Conn.Close()
			} else {
				open++
			}
		}
		s.mu.Unlock()
		if open == 0 {
			break
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.Conn.Close()
			}
			s.mu.Unlock()
			s.wg.Wait()
			return fmt.Errorf("shutdown: %d message(s) still in flight after the deadline: %w", open, ctx.Err())
		case <-tick.C:
		}
	}
	s.wg.Wait()
	return err
}

// shuttingDown reports whether Shutdown has begun.
func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Listen opens the milter socket of the configuration. A unix socket left
// by a crashed run is removed; one that answers is not (another sealtag
// runs). The socket gets the configured mode and group.
func Listen(cfg *policy.Config) (net.Listener, error) {
	network, addr := cfg.ListenAddr()
	if network != "unix" {
		return net.Listen(network, addr)
	}
	if fi, err := os.Lstat(addr); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen %s: exists and is not a socket; not removing it", addr)
		}
		c, err := net.DialTimeout("unix", addr, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("listen %s: another process is serving this socket", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("listen %s: cannot tell whether the socket is in use: %w", addr, err)
		}
		if err := os.Remove(addr); err != nil {
			return nil, fmt.Errorf("listen %s: removing the stale socket: %w", addr, err)
		}
	}
	ln, err := net.Listen("unix", addr)
	if err != nil {
		return nil, err
	}
	if err := socketPermissions(addr, os.FileMode(cfg.SocketMode), cfg.SocketGroup); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// socketPermissions applies the configured mode and group to a unix socket.
func socketPermissions(path string, mode os.FileMode, group string) error {
	if group != "" {
		gid, err := lookupGroup(group)
		if err != nil {
			return fmt.Errorf("socket_group %q: %w", group, err)
		}
		// A set-group-ID socket directory (the Debian package's) already
		// gives the socket its group; chown would need membership.
		if fi, err := os.Stat(path); err != nil || !hasGID(fi, gid) {
			if err := os.Chown(path, -1, gid); err != nil {
				return fmt.Errorf("socket_group %q: %w (make sealtag a member of the group, or the socket directory set-group-ID with that group)", group, err)
			}
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("socket_mode %o: %w", mode, err)
	}
	return nil
}

// hasGID reports whether a file belongs to group gid.
func hasGID(fi os.FileInfo, gid int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Gid) == gid
}

func lookupGroup(name string) (int, error) {
	if gid, err := strconv.Atoi(name); err == nil {
		return gid, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// trackedListener keeps a record of the open MTA connections for Shutdown.
type trackedListener struct {
	net.Listener
	srv *Server
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, srv: l.srv}
	l.srv.mu.Lock()
	l.srv.conns[tc] = struct{}{}
	l.srv.wg.Add(1)
	l.srv.mu.Unlock()
	if o := l.srv.Observer; o != nil {
		o.SessionOpened()
	}
	return tc, nil
}

// trackedConn follows the milter packets the MTA sends (RFC-less, see
// milter-protocol.txt: a 4-byte length, a command byte, data) to know
// whether a message is in flight — between SMFIC_MAIL and the end of
// message or an abort — so that Shutdown can close idle connections at
// once and wait for busy ones. go-milter reads each packet with exactly
// two io.ReadFull calls, header then body, which keeps this simple.
type trackedConn struct {
	net.Conn
	srv  *Server
	once sync.Once

	deadlineSet time.Time // when the read deadline was last moved (go-milter reads from one goroutine)

	// I/O batching: go-milter reads each packet with two small reads and
	// writes each reply packet with its own flush, so the end of a message
	// (five added headers and the reply) cost seven write calls. Replies
	// now wait here until go-milter asks for the next command, and small
	// reads are served from a read-ahead buffer. Only go-milter's goroutine
	// uses these fields.
	rbuf       []byte
	rpos, rend int
	wbuf       []byte
	werr       error

	mu       sync.Mutex
	need     int  // bytes left of the current packet part
	inHeader bool // reading a length header
	hdr      [4]byte
	nhdr     int
	cmdNext  bool // the next body byte is a command
	inMsg    bool // between SMFIC_MAIL and the reply to SMFIC_BODYEOB/SMFIC_ABORT
	done     bool // the last command ended a message (E or A)
}

func (c *trackedConn) Read(p []byte) (int, error) {
	// The replies to the previous command go out before waiting for the next.
	if err := c.flush(); err != nil {
		return 0, err
	}
	// go-milter sets no deadlines: a silent MTA would hold the session
	// (and its goroutine and descriptor) forever. Moving the deadline costs
	// a timer update, so it moves only when a tenth of it has passed.
	if d := time.Duration(c.srv.cfg.Load().IdleTimeout); d > 0 {
		if now := time.Now(); now.Sub(c.deadlineSet) > d/10 {
			c.Conn.SetReadDeadline(now.Add(d))
			c.deadlineSet = now
		}
	}
	c.mu.Lock()
	if c.need == 0 && c.done {
		// go-milter asks for the next packet: the reply to the end of
		// message (or the abort) has been written.
		c.inMsg, c.done = false, false
	}
	c.mu.Unlock()
	var n int
	var err error
	switch {
	case c.rpos < c.rend:
		n = copy(p, c.rbuf[c.rpos:c.rend])
		c.rpos += n
	case len(p) >= readAhead:
		n, err = c.Conn.Read(p) // a body chunk: straight into go-milter's buffer
	default:
		if c.rbuf == nil {
			c.rbuf = make([]byte, readAhead)
		}
		var m int
		m, err = c.Conn.Read(c.rbuf)
		n = copy(p, c.rbuf[:m])
		c.rpos, c.rend = n, m
		if n > 0 {
			err = nil // data first; a pending error comes back on the next read
		}
	}
	if n > 0 {
		c.mu.Lock()
		c.follow(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// readAhead is the read-ahead buffer: several small packets (macros and
// their command, header fields) arrive in one read.
const readAhead = 16 << 10

// Write keeps a reply packet until go-milter reads the next command.
func (c *trackedConn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= 64<<10 {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush sends the replies kept by Write.
func (c *trackedConn) flush() error {
	if c.werr != nil || len(c.wbuf) == 0 {
		return c.werr
	}
	_, c.werr = c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return c.werr
}

// follow advances the packet state over bytes read from the MTA.
func (c *trackedConn) follow(b []byte) {
	for len(b) > 0 {
		if c.need == 0 {
			// start of a length header
			c.inHeader, c.nhdr = true, 0
			c.need = 4
		}
		if c.inHeader {
			k := min(c.need, len(b))
			copy(c.hdr[c.nhdr:], b[:k])
			c.nhdr += k
			c.need -= k
			b = b[k:]
			if c.need == 0 {
				c.inHeader = false
				c.need = int(uint32(c.hdr[0])<<24 | uint32(c.hdr[1])<<16 | uint32(c.hdr[2])<<8 | uint32(c.hdr[3]))
				c.cmdNext = true
				if c.need == 0 {
					continue
				}
			}
			continue
		}
		if c.cmdNext {
			c.cmdNext = false
			switch gomilter.Code(b[0]) {
			case gomilter.CodeMail:
				c.inMsg = true
			case gomilter.CodeEOB, gomilter.CodeAbort:
				c.done = true
			}
		}
		k := min(c.need, len(b))
		c.need -= k
		b = b[k:]
	}
}

// busy reports whether a message is in flight on this connection.
func (c *trackedConn) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inMsg
}

func (c *trackedConn) Close() error {
	c.flush() // best effort: the MTA may already be gone
	err := c.Conn.Close()
	c.once.Do(func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		c.srv.wg.Done()
		if o := c.srv.Observer; o != nil {
			o.SessionClosed()
		}
	})
	return err
}
