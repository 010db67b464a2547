package mtatest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// Mail is one message to submit over SMTP.
type Mail struct {
	From     string   // envelope sender, without angle brackets ("" for the null sender)
	To       []string // envelope recipients, at least one
	Data     []byte   // the message, header and body; LF or CRLF line ends, no dot-stuffing
	StartTLS bool     // Send only: issue STARTTLS (and EHLO again) before MAIL
	HeloName string   // name given in EHLO; DefaultHeloName if empty
}

// DefaultHeloName is the EHLO name the client uses unless Mail.HeloName says otherwise.
const DefaultHeloName = "client.sealtag.test"

// Stages of an SMTP session, as Reply.Stage names them.
const (
	StageGreeting = "greeting" // the server's 220 banner
	StageEHLO     = "ehlo"     // EHLO (also the second one after STARTTLS)
	StageStartTLS = "starttls" // STARTTLS and the TLS handshake
	StageMail     = "mail"     // MAIL FROM
	StageRcpt     = "rcpt"     // RCPT TO
	StageData     = "data"     // the DATA command (354 expected)
	StageMessage  = "message"  // the reply after the final dot
)

// Reply is the last SMTP reply of a transaction: the final reply after the
// message's dot when it went through, or the reply of the stage where it
// failed.
type Reply struct {
	Stage string // one of the Stage* constants
	Code  int    // e.g. 250, 451, 550; 0 when no reply was read (I/O error)
	Text  string // the text after the code, lines joined with "\n", e.g. "5.7.1 Rejected"
}

// String renders the reply as "550 5.7.1 text".
func (r Reply) String() string {
	if r.Code == 0 {
		return "(no reply at " + r.Stage + ")"
	}
	return fmt.Sprintf("%d %s", r.Code, r.Text)
}

// Enhanced returns the enhanced status code (RFC 3463) at the start of Text,
// such as "5.7.1", or "".
func (r Reply) Enhanced() string {
	f, _, _ := strings.Cut(r.Text, " ")
	if parts := strings.Split(f, "."); len(parts) == 3 && len(f) >= 5 && (f[0] >= '2' && f[0] <= '5') {
		return f
	}
	return ""
}

// Temporary reports whether the reply is a 4xx.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports whether the reply is a 5xx.
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// ReplyError is the error Send and SendMany return for a message the server
// did not accept.
type ReplyError struct {
	Reply Reply
}

// Error renders the stage and the reply, "smtp message: 550 5.7.1 text".
func (e *ReplyError) Error() string {
	return fmt.Sprintf("smtp %s: %s", e.Reply.Stage, e.Reply)
}

// Send submits one message on its own connection to addr. The returned Reply
// is the server's final reply (250 … queued as …) or the reply at the stage
// where the transaction failed. err is nil only when the message was accepted;
// a rejection gives a *ReplyError (the same Reply), a network or TLS problem
// an error wrapping it, with Reply.Code 0 if no reply was read. ctx bounds the
// whole session.
func Send(ctx context.Context, addr string, m Mail) (Reply, error) {
	replies, err := sendMany(ctx, addr, []Mail{m}, m.StartTLS, m.HeloName)
	if len(replies) == 0 {
		return Reply{Stage: StageGreeting}, err
	}
	return replies[0], err
}

// SendMany submits several messages on ONE SMTP connection (MAIL FROM again
// after each message, RSET after a transaction that failed before DATA), with
// STARTTLS first when startTLS is set. The EHLO name is the first message's
// HeloName; each Mail's StartTLS field is ignored. It returns one Reply per
// message in order; fewer than len(ms) only when the connection failed. err
// joins a *ReplyError for every message not accepted and any I/O error.
func SendMany(ctx context.Context, addr string, ms []Mail, startTLS bool) ([]Reply, error) {
	helo := ""
	if len(ms) > 0 {
		helo = ms[0].HeloName
	}
	return sendMany(ctx, addr, ms, startTLS, helo)
}

// client is a minimal SMTP client (RFC 5321) on net/textproto: enough to
// drive an MTA in tests, with every reply kept.
type client struct {
	conn net.Conn
	text *textproto.Conn
}

func (c *client) cmd(stage string, format string, args ...any) (Reply, error) {
	if err := c.text.PrintfLine(format, args...); err != nil {
		return Reply{Stage: stage}, err
	}
	return c.read(stage)
}

func (c *client) read(stage string) (Reply, error) {
	code, msg, err := c.text.ReadResponse(0) // 0: any code, the caller judges it
	return Reply{Stage: stage, Code: code, Text: msg}, err
}

func sendMany(ctx context.Context, addr string, ms []Mail, startTLS bool, helo string) (replies []Reply, err error) {
	if helo == "" {
		helo = DefaultHeloName
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
	}()

	c := &client{conn: conn, text: textproto.NewConn(conn)}
	// fail records a failure that ends the session before any message.
	fail := func(r Reply, err error) ([]Reply, error) {
		if err == nil {
			err = &ReplyError{Reply: r}
		}
		return []Reply{r}, err
	}
	r, err := c.read(StageGreeting)
	if err != nil || r.Code != 220 {
		return fail(r, err)
	}
	r, err = c.cmd(StageEHLO, "EHLO %s", helo)
	if err != nil || r.Code != 250 {
		return fail(r, err)
	}
	if startTLS {
		r, err = c.cmd(StageStartTLS, "STARTTLS")
		if err != nil || r.Code != 220 {
			return fail(r, err)
		}
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true}) // the MTA's certificate is self-signed
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(Reply{Stage: StageStartTLS}, fmt.Errorf("TLS handshake: %w", err))
		}
		c.conn = tc
		c.text = textproto.NewConn(tc)
		r, err = c.cmd(StageEHLO, "EHLO %s", helo)
		if err != nil || r.Code != 250 {
			return fail(r, err)
		}
	}

	var errs []error
	for _, m := range ms {
		r, err := c.transaction(m)
		replies = append(replies, r)
		if err != nil {
			errs = append(errs, err)
			return replies, errors.Join(errs...)
		}
		if r.Stage != StageMessage || r.Code != 250 {
			errs = append(errs, &ReplyError{Reply: r})
		}
	}
	c.cmd("quit", "QUIT") // the reply does not matter
	return replies, errors.Join(errs...)
}

// transaction runs MAIL, RCPT…, DATA for one message. A non-nil error means
// the connection is unusable; a rejection is only in the Reply.
func (c *client) transaction(m Mail) (Reply, error) {
	if len(m.To) == 0 {
		return Reply{Stage: StageRcpt}, errors.New("mtatest: Mail has no recipient")
	}
	rset := func(r Reply) (Reply, error) {
		if _, err := c.cmd("rset", "RSET"); err != nil {
			return r, err
		}
		return r, nil
	}
	r, err := c.cmd(StageMail, "MAIL FROM:<%s>", m.From)
	if err != nil {
		return r, err
	}
	if r.Code != 250 {
		return rset(r)
	}
	for _, to := range m.To {
		r, err = c.cmd(StageRcpt, "RCPT TO:<%s>", to)
		if err != nil {
			return r, err
		}
		if r.Code != 250 && r.Code != 251 {
			return rset(r)
		}
	}
	r, err = c.cmd(StageData, "DATA")
	if err != nil {
		return r, err
	}
	if r.Code != 354 {
		return rset(r)
	}
	w := c.text.DotWriter()
	data := m.Data
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(append([]byte(nil), data...), '\n')
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(data); err != nil {
		return Reply{Stage: StageMessage}, err
	}
	if err := bw.Flush(); err != nil {
		return Reply{Stage: StageMessage}, err
	}
	if err := w.Close(); err != nil {
		return Reply{Stage: StageMessage}, err
	}
	return c.read(StageMessage)
}
