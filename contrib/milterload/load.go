package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-milter"
)

// The masks Postfix offers, cut to the version-2 set: go-milter's client
// announces protocol version 6 but downgrades to a version-2 server (the
// go-milter server is one) only when no mask bit beyond version 2 is set
// (client.go negotiate). SMFIP_SKIP stays off as well: the client cannot
// parse SMFIR_SKIP.
const (
	v2Actions  = milter.OptAddHeader | milter.OptChangeBody | milter.OptAddRcpt | milter.OptRemoveRcpt | milter.OptChangeHeader | milter.OptQuarantine
	v2Protocol = milter.OptNoConnect | milter.OptNoHelo | milter.OptNoMailFrom | milter.OptNoRcptTo | milter.OptNoBody | milter.OptNoHeaders | milter.OptNoEOH
)

// options drive one load run.
type options struct {
	network, address string
	conns            int           // concurrent milter connections
	perConn          int           // messages per connection before QUIT
	n                int           // messages to send; 0 with duration > 0
	duration         time.Duration // send until then (in-flight messages finish)
	timeout          time.Duration // per message, connection setup included
	tls              bool          // send TLS macros as for a TLS session
}

// changeCounts are the modifications returned at end of message.
type changeCounts struct {
	Added      int `json:"added"`
	Changed    int `json:"changed"`
	Deleted    int `json:"deleted"`
	Quarantine int `json:"quarantine"`
	Other      int `json:"other"`
}

func (c *changeCounts) add(o changeCounts) {
	c.Added += o.Added
	c.Changed += o.Changed
	c.Deleted += o.Deleted
	c.Quarantine += o.Quarantine
	c.Other += o.Other
}

// tally is what one worker (and, merged, the run) counted.
type tally struct {
	latencies   []time.Duration // MAIL to the end-of-message reply, completed messages
	verdicts    map[string]int
	byMessage   map[string]map[string]int // message file name -> verdict (and "+quarantine") -> count
	changes     changeCounts
	errors      map[string]int // "stage: kind"
	errSamples  []string
	bytes       int64 // message bytes of completed messages
	completed   int
	connections int
}

func newTally() *tally {
	return &tally{verdicts: map[string]int{}, errors: map[string]int{}, byMessage: map[string]map[string]int{}}
}

func (t *tally) merge(o *tally) {
	t.latencies = append(t.latencies, o.latencies...)
	for k, v := range o.verdicts {
		t.verdicts[k] += v
	}
	for name, vs := range o.byMessage {
		if t.byMessage[name] == nil {
			t.byMessage[name] = map[string]int{}
		}
		for k, v := range vs {
			t.byMessage[name][k] += v
		}
	}
	for k, v := range o.errors {
		t.errors[k] += v
	}
	for _, s := range o.errSamples {
		if len(t.errSamples) < maxErrSamples {
			t.errSamples = append(t.errSamples, s)
		}
	}
	t.changes.add(o.changes)
	t.bytes += o.bytes
	t.completed += o.completed
	t.connections += o.connections
}

const maxErrSamples = 5

func (t *tally) fail(stage string, err error) {
	t.errors[stage+": "+errKind(err)]++
	if len(t.errSamples) < maxErrSamples {
		t.errSamples = append(t.errSamples, stage+": "+err.Error())
	}
}

// errKind names an error for counting: timeout, eof, reset, refused, other.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return "refused"
	}
	return "other"
}

// verdictName is the counting key of a milter reply.
func verdictName(a *milter.Action) string {
	switch a.Code {
	case milter.ActAccept:
		return "accept"
	case milter.ActContinue:
		return "continue"
	case milter.ActReject:
		return "reject"
	case milter.ActTempFail:
		return "tempfail"
	case milter.ActDiscard:
		return "discard"
	case milter.ActReplyCode:
		return "replycode " + strconv.Itoa(a.SMTPCode)
	case milter.ActSkip:
		return "skip"
	}
	return fmt.Sprintf("code %q", rune(a.Code))
}

// run sends the load and returns what it counted and how long it took.
func run(ctx context.Context, o options, corpus []*message) (*tally, time.Duration) {
	var next atomic.Int64
	var qids atomic.Uint64
	var end time.Time
	start := time.Now()
	if o.duration > 0 {
		end = start.Add(o.duration)
	}
	workers := make([]*worker, o.conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{id: i, o: &o, corpus: corpus, next: &next, qids: &qids, end: end, ctx: ctx, t: newTally()}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					w.t.fail("worker", fmt.Errorf("panic: %v", v))
					w.drop()
				}
			}()
			w.loop()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := newTally()
	for _, w := range workers {
		total.merge(w.t)
	}
	return total, elapsed
}

// worker is one MTA-side milter connection at a time, as one smtpd
// process that keeps its milter connection for an SMTP session.
type worker struct {
	id     int
	o      *options
	corpus []*message
	next   *atomic.Int64
	qids   *atomic.Uint64
	end    time.Time
	ctx    context.Context
	t      *tally

	conn       net.Conn
	stopCancel func() bool // undoes the context.AfterFunc of conn
	sess       *milter.ClientSession
	onConn     int // messages sent on this connection
	deadline   time.Time
}

// Dial is the milter.Dialer of the worker's client: it honours the run's
// context and the message deadline, and keeps the conn for later deadlines.
func (w *worker) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithDeadline(w.ctx, w.deadline)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(w.deadline); err != nil {
		c.Close()
		return nil, err
	}
	w.conn = c
	// Cancelling the run interrupts any read or write in progress.
	w.stopCancel = context.AfterFunc(w.ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

func (w *worker) loop() {
	defer w.quit()
	for w.ctx.Err() == nil {
		i := w.next.Add(1) - 1
		if w.o.n > 0 && i >= int64(w.o.n) {
			return
		}
		if !w.end.IsZero() && !time.Now().Before(w.end) {
			return
		}
		w.one(w.corpus[i%int64(len(w.corpus))])
	}
}

// one sends a message, on a new connection when there is none.
func (w *worker) one(m *message) {
	if w.sess != nil && w.onConn >= w.o.perConn {
		w.quit()
	}
	w.deadline = time.Now().Add(w.o.timeout)
	if w.sess == nil {
		verdict, stage, err := w.open()
		if err != nil {
			w.t.fail(stage, err)
			w.drop()
			return
		}
		if verdict != nil { // the milter refused the connection or the HELO
			w.t.verdicts[verdictName(verdict)]++
			w.t.completed++
			w.drop()
			return
		}
	} else if err := w.conn.SetDeadline(w.deadline); err != nil {
		w.t.fail("deadline", err)
		w.drop()
		return
	}
	w.onConn++
	start := time.Now()
	act, mods, stage, err := w.transact(m)
	lat := time.Since(start)
	if err == nil {
		// Postfix ends every transaction with SMFIC_ABORT (smtpd's
		// mail_reset), also after an accepted message; no reply comes.
		if err = w.sess.Abort(); err != nil {
			stage = "abort"
		}
	}
	if err != nil {
		if w.ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", context.Canceled, err)
		}
		w.t.fail(stage, err)
		w.drop()
		return
	}
	w.t.latencies = append(w.t.latencies, lat)
	w.t.verdicts[verdictName(act)]++
	key := verdictName(act)
	for _, a := range mods {
		if a.Code == milter.ActQuarantine {
			key += "+quarantine"
		}
	}
	if w.t.byMessage[m.name] == nil {
		w.t.byMessage[m.name] = map[string]int{}
	}
	w.t.byMessage[m.name][key]++
	w.t.completed++
	w.t.bytes += int64(m.size)
	for _, a := range mods {
		switch a.Code {
		case milter.ActAddHeader, milter.ActInsertHeader:
			w.t.changes.Added++
		case milter.ActChangeHeader:
			if a.HeaderValue == "" {
				w.t.changes.Deleted++
			} else {
				w.t.changes.Changed++
			}
		case milter.ActQuarantine:
			w.t.changes.Quarantine++
		default:
			w.t.changes.Other++
		}
	}
}

// Postfix-like connection data. The client address is from TEST-NET-3
// (RFC 5737): it is only a string in the protocol, nothing is sent there.
func (w *worker) client() (name, addr string, port uint16) {
	return fmt.Sprintf("mail%d.sender.example", w.id), fmt.Sprintf("203.0.113.%d", w.id%254+1), uint16(40000 + w.id%20000)
}

func (w *worker) tlsMacros() []string {
	if !w.o.tls {
		return nil
	}
	return []string{"{tls_version}", "TLSv1.3", "{cipher}", "TLS_AES_256_GCM_SHA384", "{cipher_bits}", "256"}
}

// open connects, negotiates and sends CONNECT and HELO with the macros
// Postfix's defaults (postconf -d milter_connect_macros, milter_helo_macros)
// and sealtag's macro request would give. verdict is set when the milter
// ends the session there.
func (w *worker) open() (verdict *milter.Action, stage string, err error) {
	w.t.connections++
	w.onConn = 0
	cl := milter.NewClientWithOptions(w.o.network, w.o.address, milter.ClientOptions{
		Dialer:       w,
		ActionMask:   v2Actions,
		ProtocolMask: v2Protocol,
		// ReadTimeout and WriteTimeout stay 0: with them the client sets and
		// clears a deadline per packet, which would undo the message deadline.
	})
	sess, err := cl.Session()
	if err != nil {
		if w.conn == nil {
			return nil, "dial", err
		}
		return nil, "negotiate", err
	}
	w.sess = sess
	name, addr, port := w.client()
	if !sess.ProtocolOption(milter.OptNoConnect) {
		if err := sess.Macros(milter.CodeConn,
			"j", "mx.load.test", "{daemon_name}", "smtpd", "{daemon_addr}", "127.0.0.1", "v", "Postfix 3.7.11",
			"_", name+" ["+addr+"]", "{client_addr}", addr, "{client_name}", name); err != nil {
			return nil, "connect", err
		}
	}
	act, err := sess.Conn(name, milter.FamilyInet, port, addr)
	if err != nil {
		return nil, "connect", err
	}
	if act.Code != milter.ActContinue {
		return act, "", nil
	}
	if !sess.ProtocolOption(milter.OptNoHelo) {
		if err := sess.Macros(milter.CodeHelo, w.tlsMacros()...); err != nil {
			return nil, "helo", err
		}
	}
	if act, err = sess.Helo(name); err != nil {
		return nil, "helo", err
	}
	if act.Code != milter.ActContinue {
		return act, "", nil
	}
	return nil, "", nil
}

// transact sends one message from MAIL to end of message. It returns the
// milter's final reply for it (the first that is not "continue") and the
// modifications at end of message.
func (w *worker) transact(m *message) (act *milter.Action, mods []milter.ModifyAction, stage string, err error) {
	s := w.sess
	qid := fmt.Sprintf("%X", 0x1000000000+w.qids.Add(1)) // Postfix-like short queue id

	// MAIL: the queue id is not known yet (smtpd_delay_open_until_valid_rcpt).
	if !s.ProtocolOption(milter.OptNoMailFrom) {
		if err := s.Macros(milter.CodeMail, append([]string{"{mail_addr}", m.from}, w.tlsMacros()...)...); err != nil {
			return nil, nil, "mail", err
		}
	}
	if act, err = s.Mail(m.from, []string{"SIZE=" + strconv.Itoa(m.size)}); err != nil {
		return nil, nil, "mail", err
	}
	if act.Code != milter.ActContinue {
		return act, nil, "", nil
	}

	// RCPT: a reject or tempfail drops that recipient only; the message goes
	// on while one is left (Postfix). accept or discard end the message.
	var refused *milter.Action
	accepted := 0
	for _, rcpt := range m.rcpts {
		if !s.ProtocolOption(milter.OptNoRcptTo) {
			if err := s.Macros(milter.CodeRcpt, "i", qid, "{rcpt_addr}", rcpt); err != nil {
				return nil, nil, "rcpt", err
			}
		}
		a, err := s.Rcpt(rcpt, nil)
		if err != nil {
			return nil, nil, "rcpt", err
		}
		switch a.Code {
		case milter.ActContinue:
			accepted++
		case milter.ActReject, milter.ActTempFail, milter.ActReplyCode:
			refused = a
		default:
			return a, nil, "", nil
		}
	}
	if accepted == 0 {
		return refused, nil, "", nil
	}

	// Headers as Postfix's cleanup sends them; then end of header.
	lead := s.ProtocolOption(milter.OptHeaderLeadingSpace)
	for _, h := range m.headers {
		if act, err = s.HeaderField(h.name, h.value(lead)); err != nil {
			return nil, nil, "header", err
		}
		if act.Code != milter.ActContinue {
			return act, nil, "", nil
		}
	}
	if !s.ProtocolOption(milter.OptNoEOH) {
		if err := s.Macros(milter.CodeEOH, "i", qid); err != nil {
			return nil, nil, "eoh", err
		}
	}
	if act, err = s.HeaderEnd(); err != nil {
		return nil, nil, "eoh", err
	}
	if act.Code != milter.ActContinue {
		return act, nil, "", nil
	}

	// Body in chunks of at most 65535 bytes (MILTER_CHUNK_SIZE); the client
	// refuses a full 64 KiB.
	for b := m.body; len(b) > 0; {
		chunk := b[:min(len(b), milter.MaxBodyChunk)]
		b = b[len(chunk):]
		if act, err = s.BodyChunk(chunk); err != nil {
			return nil, nil, "body", err
		}
		if act.Code == milter.ActSkip {
			break
		}
		if act.Code != milter.ActContinue {
			return act, nil, "", nil
		}
	}
	if err := s.Macros(milter.CodeEOB, "i", qid); err != nil {
		return nil, nil, "eom", err
	}
	mods, act, err = s.End()
	if err != nil {
		return nil, nil, "eom", err
	}
	return act, mods, "", nil
}

// quitPacket is SMFIC_QUIT: length 1, command 'Q'.
var quitPacket = []byte{0, 0, 0, 1, byte(milter.CodeQuit)}

// quit ends the connection as Postfix does at the end of an SMTP session:
// QUIT alone, the transaction having been ended with ABORT already.
// (ClientSession.Close would send a second ABORT: End leaves its needAbort
// flag set.)
func (w *worker) quit() {
	if w.sess == nil {
		w.drop()
		return
	}
	if w.ctx.Err() == nil {
		w.conn.SetDeadline(time.Now().Add(w.o.timeout))
		if _, err := w.conn.Write(quitPacket); err != nil {
			w.t.fail("quit", err)
		}
	}
	w.drop()
}

// drop closes the connection without the protocol's goodbye.
func (w *worker) drop() {
	if w.stopCancel != nil {
		w.stopCancel()
		w.stopCancel = nil
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	w.sess = nil
	w.onConn = 0
}
