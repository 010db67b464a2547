package milter

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	gomilter "github.com/emersion/go-milter"

	"sealtag/inspect"
	"sealtag/policy"
)

// maxRcpts bounds the recipients kept per message (Postfix's default
// smtpd_recipient_limit is 1000).
const maxRcpts = 1000

// session is the go-milter backend of one MTA connection. go-milter calls
// its methods one at a time from the connection's goroutine, in protocol
// order (NOTES §1). It keeps the connection's state — client, HELO, the
// macros of the connect and HELO stages, TLS — across all messages of the
// SMTP connection, and the message's state from MAIL to the end of message
// or an abort.
//
// Body chunks go straight into a push-style classifier (inspect.Scanner):
// each chunk is parsed as it arrives and dropped, so a session holds a
// bounded amount of memory whatever the message size, needs no goroutine
// or pipe per message, and has nothing to clean up when the MTA aborts or
// vanishes mid-body. (A pipe to a pull parser would cost a goroutine per
// message and its recovery; a spill buffer, disk I/O and temp files.)
//
// go-milter replaces the backend after a reply that ends processing
// (accept, reject, discard, tempfail). sealtag therefore answers an accepted
// message with SMFIR_CONTINUE and a refused one with SMFIR_REPLYCODE,
// neither of which resets it; only discard does, and the next message then
// learns TLS and client from the MAIL-stage macros sealtag asks for.
type session struct {
	srv *Server

	client     string // address of the SMTP client, "local" for non-SMTP mail
	clientName string
	helo       string
	connMacros map[string]string // connect and HELO stages
	macrosSeen bool

	msg     *message
	msgBuf  message // reused for every message of the connection
	scanner *inspect.Scanner
	scanCfg *policy.Config
	line    []byte
	tlsBuf  map[string]string
	attrs   []slog.Attr
}

// message is the state of the message in progress.
type message struct {
	cfg      *policy.Config
	start    time.Time
	from     string
	rcpts    []string
	macros   map[string]string // MAIL to end-of-message stages
	counts   map[string]int    // header instances seen, per lower-case name
	forged   []forgedHeader
	subject  string // the first Subject's value
	hasSubj  bool
	bytes    int64
	busy     time.Duration // time spent in sealtag's callbacks
	err      error         // the first internal error
	errStack []byte
}

// forgedHeader is an incoming header in sealtag's namespace.
type forgedHeader struct {
	name  string // as received
	key   string // lower case
	index int    // 1-based among the headers of that name (any case)
}

func (s *Server) newSession() gomilter.Milter {
	return &session{srv: s, connMacros: map[string]string{}}
}

var _ gomilter.Milter = (*session)(nil)

// merge copies the macros of one stage into dst. go-milter hands each
// callback only the macros of the last macro packet (NOTES §1).
func (s *session) merge(dst map[string]string, macros map[string]string) {
	if len(macros) > 0 {
		s.macrosSeen = true
	}
	for k, v := range macros {
		dst[k] = v
	}
}

// guard runs f and turns a panic into an internal error of the message,
// so that the verdict becomes on_error and the daemon carries on.
func (s *session) guard(stage string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			s.fail(fmt.Errorf("panic in %s: %v", stage, v), debug.Stack())
		}
	}()
	if h := s.srv.faultHook.Load(); h != nil {
		(*h)(stage)
	}
	if s.msg != nil {
		start := time.Now()
		defer func() {
			if s.msg != nil {
				s.msg.busy += time.Since(start)
			}
		}()
	}
	f()
}

// fail records the first internal error of the message in progress.
func (s *session) fail(err error, stack []byte) {
	if s.msg == nil {
		s.srv.log.Error("internal error outside a message", "client", s.client, "error", err, "stack", string(stack))
		return
	}
	if s.msg.err == nil {
		s.msg.err, s.msg.errStack = err, stack
	}
}

// Connect is called once per MTA connection (SMFIC_CONNECT): the client's
// host name, address family, port and address are valid here.
func (s *session) Connect(host string, family string, port uint16, addr net.IP, m *gomilter.Modifier) (gomilter.Response, error) {
	s.guard("connect", func() {
		s.clientName = host
		s.client = "local"
		if addr != nil {
			s.client = addr.String()
		}
		s.merge(s.connMacros, m.Macros)
	})
	return gomilter.RespContinue, nil
}

// Helo is called for HELO/EHLO, and again after STARTTLS: the TLS macros
// of the session arrive here (Postfix sends them at HELO, MAIL and RCPT).
func (s *session) Helo(name string, m *gomilter.Modifier) (gomilter.Response, error) {
	s.guard("helo", func() {
		s.helo = name
		s.merge(s.connMacros, m.Macros)
	})
	return gomilter.RespContinue, nil
}

// MailFrom starts a message: its state is reset here (and in Abort).
func (s *session) MailFrom(from string, m *gomilter.Modifier) (gomilter.Response, error) {
	if s.srv.shuttingDown() {
		// RFC 3463 X.3.2: system not accepting network messages.
		return gomilter.NewResponseStr(byte(gomilter.ActReplyCode), "451 4.3.2 Mail filter restarting, please try again later"), nil
	}
	s.startMessage()
	s.guard("mail", func() {
		s.msg.from = from
		s.merge(s.msg.macros, m.Macros)
		if s.client == "" {
			// a fresh backend after a discard: take what MAIL carries
			s.client = macro(m.Macros, "client_addr")
			s.clientName = macro(m.Macros, "client_name")
		}
	})
	return gomilter.RespContinue, nil
}

// startMessage resets the message state and readies the classifier.
func (s *session) startMessage() {
	cfg := s.srv.cfg.Load()
	m := &s.msgBuf
	if m.macros == nil {
		m.macros, m.counts = map[string]string{}, map[string]int{}
	}
	clear(m.macros)
	clear(m.counts)
	*m = message{cfg: cfg, start: time.Now(), macros: m.macros, counts: m.counts,
		rcpts: m.rcpts[:0], forged: m.forged[:0]}
	s.msg = m
	s.guard("mail", func() {
		if s.scanner == nil || s.scanCfg != cfg {
			s.scanner = inspect.NewScanner(cfg.ScanOptions())
			s.scanCfg = cfg
		} else {
			s.scanner.Reset()
		}
	})
}

// RcptTo collects the envelope recipients; sealtag never rejects here
// (go-milter would reset its state, NOTES §1).
func (s *session) RcptTo(rcpt string, m *gomilter.Modifier) (gomilter.Response, error) {
	if s.msg == nil {
		s.startMessage()
	}
	s.guard("rcpt", func() {
		if len(s.msg.rcpts) < maxRcpts {
			s.msg.rcpts = append(s.msg.rcpts, rcpt)
		}
		s.merge(s.msg.macros, m.Macros)
	})
	return gomilter.RespContinue, nil
}

// Header is called once per header field, in order. Fields in sealtag's
// namespace are noted for removal; every field is passed to the classifier.
func (s *session) Header(name, value string, m *gomilter.Modifier) (gomilter.Response, error) {
	if s.msg == nil {
		s.startMessage()
	}
	s.guard("header", func() {
		msg := s.msg
		// Postfix and Sendmail number a name's instances without regard
		// to case (cleanup_milter.c, milter.c). Only names of the
		// namespace are counted: their indexes are what removal needs.
		if prefix := msg.cfg.Headers.Prefix; len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
			key := strings.ToLower(name)
			msg.counts[key]++
			msg.forged = append(msg.forged, forgedHeader{name: name, key: key, index: msg.counts[key]})
		}
		if !msg.hasSubj && strings.EqualFold(name, "subject") {
			msg.subject, msg.hasSubj = value, true
		}
		if msg.err == nil {
			s.line = append(append(append(append(s.line[:0], name...), ": "...), value...), "\r\n"...)
			s.scanner.Write(s.line)
			msg.bytes += int64(len(s.line))
		}
	})
	return gomilter.RespContinue, nil
}

// Headers is the end of the header (SMFIC_EOH).
func (s *session) Headers(h textproto.MIMEHeader, m *gomilter.Modifier) (gomilter.Response, error) {
	if s.msg == nil {
		s.startMessage()
	}
	s.guard("eoh", func() {
		s.merge(s.msg.macros, m.Macros)
		if s.msg.err == nil {
			s.scanner.Write([]byte("\r\n"))
		}
	})
	return gomilter.RespContinue, nil
}

// BodyChunk passes a piece of the body (at most 65535 bytes, CRLF line
// ends) to the classifier; nothing of it is kept.
func (s *session) BodyChunk(chunk []byte, m *gomilter.Modifier) (gomilter.Response, error) {
	if s.msg == nil {
		s.startMessage()
	}
	s.guard("body", func() {
		s.msg.bytes += int64(len(chunk))
		if s.msg.err == nil {
			s.scanner.Write(chunk)
		}
	})
	return gomilter.RespContinue, nil
}

// Abort ends the message in progress without a verdict (RSET, a client
// that went away, a rejection by another milter or by the MTA itself).
// The connection's state stays.
func (s *session) Abort(m *gomilter.Modifier) error {
	if s.msg != nil {
		s.srv.log.Debug("message aborted", "queue_id", s.queueID(), "client", s.client)
	}
	s.msg = nil
	return nil
}

// queueID returns the MTA's queue id ("i"), or "-" before the MTA has one.
func (s *session) queueID() string {
	if s.msg != nil {
		if id := macro(s.msg.macros, "i"); id != "" {
			return id
		}
	}
	return "-"
}

// macro returns a macro by name, given with or without braces.
func macro(macros map[string]string, name string) string {
	if v, ok := macros["{"+name+"}"]; ok {
		return v
	}
	return macros[name]
}

// Body is the end of the message (SMFIC_BODYEOB): classify, decide, and
// apply. All changes to the message happen here.
func (s *session) Body(m *gomilter.Modifier) (gomilter.Response, error) {
	if s.msg == nil {
		s.startMessage()
	}
	msg := s.msg
	defer func() { s.msg = nil }()

	var res inspect.Result
	var verdict policy.Verdict
	classified := false
	s.guard("end of message", func() {
		s.merge(msg.macros, m.Macros)
		if msg.err != nil {
			return
		}
		if s.tlsBuf == nil {
			s.tlsBuf = map[string]string{}
		}
		tlsMacros := s.tlsBuf
		clear(tlsMacros)
		s.merge(tlsMacros, s.connMacros)
		s.merge(tlsMacros, msg.macros)
		res = s.scanner.Finish(inspect.Envelope{
			From: msg.from,
			TLS:  inspect.TLSFromMacros(tlsMacros, s.macrosSeen),
		})
		verdict = msg.cfg.Decide(policy.Input{Result: res, Sender: msg.from, Recipients: msg.rcpts})
		classified = true
	})
	if !classified {
		verdict = msg.cfg.OnError(msg.err.Error())
	}

	resp, err := s.apply(m, msg, res, verdict, classified)
	s.report(msg, res, verdict, classified, err)
	return resp, err
}

// apply carries out a verdict: for a message that is delivered it removes
// every header of sealtag's namespace (highest index first: the MTA
// renumbers a name's instances after each removal, NOTES §1) and adds
// sealtag's own; refusals go back as SMTP replies.
func (s *session) apply(m *gomilter.Modifier, msg *message, res inspect.Result, v policy.Verdict, classified bool) (resp gomilter.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic applying the verdict: %v", r)
			msg.errStack = debug.Stack()
			resp = nil
		}
	}()
	switch v.Effective() {
	case policy.Reject, policy.TempFail:
		return gomilter.NewResponseStr(byte(gomilter.ActReplyCode), v.Reply.String()), nil
	case policy.Discard:
		return gomilter.RespDiscard, nil
	}

	forged := msg.forged // in removal order from here on
	sort.SliceStable(forged, func(i, j int) bool {
		if forged[i].key != forged[j].key {
			return forged[i].key < forged[j].key
		}
		return forged[i].index > forged[j].index
	})
	for _, f := range forged {
		if err := m.ChangeHeader(f.index, f.name, ""); err != nil {
			return nil, fmt.Errorf("removing %s[%d]: %w", f.name, f.index, err)
		}
	}
	prefix := msg.cfg.Headers.Prefix
	if classified {
		for _, f := range res.Fields(prefix) {
			if err := m.AddHeader(f.Name, f.Value); err != nil {
				return nil, fmt.Errorf("adding %s: %w", f.Name, err)
			}
		}
	}
	if err := m.AddHeader(prefix+inspect.NamePolicy, v.HeaderValue()); err != nil {
		return nil, fmt.Errorf("adding %s: %w", prefix+inspect.NamePolicy, err)
	}
	if subject, ok := v.TagSubject(msg.subject, inspect.DecodeHeader(msg.subject)); ok {
		if msg.hasSubj {
			err = m.ChangeHeader(1, "Subject", subject)
		} else {
			err = m.AddHeader("Subject", strings.TrimSpace(subject))
		}
		if err != nil {
			return nil, fmt.Errorf("tagging the subject: %w", err)
		}
	}
	if v.Effective() == policy.Quarantine {
		if err := m.Quarantine("sealtag rule " + v.Rule); err != nil {
			return nil, fmt.Errorf("quarantine: %w", err)
		}
	}
	// SMFIR_CONTINUE at the end of message accepts it (Postfix milter8.c,
	// Sendmail milter.c) without go-milter resetting the session.
	return gomilter.RespContinue, nil
}

// Report is what sealtag says about one message, for the log and metrics.
type Report struct {
	QueueID    string
	Client     string
	Result     inspect.Result
	Classified bool
	Verdict    policy.Verdict
	Bytes      int64
	// Duration is from MAIL to the end of message, waiting for the MTA
	// included; Busy is the time sealtag itself spent on the message.
	Duration time.Duration
	Busy     time.Duration
	Err      error
}

// report writes the one log line of a message (no addresses: a relay's
// envelope sender can embed one) and tells the observer.
func (s *session) report(msg *message, res inspect.Result, v policy.Verdict, classified bool, applyErr error) {
	r := Report{QueueID: s.queueID(), Client: s.client, Result: res, Classified: classified,
		Verdict: v, Bytes: msg.bytes, Duration: time.Since(msg.start), Busy: msg.busy, Err: msg.err}
	if r.Err == nil {
		r.Err = applyErr
	}
	attrs := append(s.attrs[:0],
		slog.String("queue_id", r.QueueID),
		slog.String("client", s.client),
	)
	if classified {
		attrs = append(attrs,
			slog.String("encryption", res.Encryption.Value()),
			slog.String("tls", res.TLS.Version),
			slog.String("relay", res.Relay.Value()),
			slog.String("thread", res.Thread.Value()),
		)
	}
	attrs = append(attrs,
		slog.String("action", string(v.Effective())),
		slog.String("rule", v.Rule),
	)
	if v.Monitor {
		attrs = append(attrs, slog.String("mode", policy.ModeMonitor), slog.String("would", string(v.Action)))
	}
	attrs = append(attrs,
		slog.String("reason", v.Reason),
		slog.Int("rcpts", len(msg.rcpts)),
		slog.Int("forged_removed", len(msg.forged)),
		slog.Int64("bytes", msg.bytes),
		slog.Float64("duration_ms", float64(r.Duration.Microseconds())/1000),
		slog.Float64("busy_ms", float64(r.Busy.Microseconds())/1000),
	)
	level := slog.LevelInfo
	if r.Err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", r.Err.Error()))
		if msg.errStack != nil {
			attrs = append(attrs, slog.String("stack", string(msg.errStack)))
		}
	}
	s.srv.log.LogAttrs(context.Background(), level, "message", attrs...)
	s.attrs = attrs
	if o := s.srv.Observer; o != nil {
		o.Message(r)
	}
}
