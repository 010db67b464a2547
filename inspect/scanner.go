package inspect

import (
	"bytes"
	"slices"
	"strings"
)

// Options bounds the work the scanner does on one message. The zero value
// means the defaults.
type Options struct {
	// MaxDepth is the deepest MIME level inspected (the message is level 0).
	// Deeper parts are not looked into and the result says partial=yes.
	MaxDepth int
	// MaxParts is how many parts are inspected; later parts are skipped over
	// (their boundaries are still followed) and the result says partial=yes.
	MaxParts int
	// Providers is the relay provider list; nil means the built-in list.
	Providers *Providers
}

// Default bounds. Real mail rarely nests more than 8 levels (the RFC 2060
// example has 7) or carries more than a few hundred parts.
const (
	DefaultMaxDepth = 32
	DefaultMaxParts = 1000
)

const (
	maxLine       = 64 << 10 // a longer line is handled in pieces
	maxFieldValue = 16 << 10 // header field values kept for inspection
	maxBoundary   = 200      // RFC 2046 allows 70; be tolerant, but bounded
)

// Entity states.
const (
	stHeader   = iota // reading the part's header
	stBody            // a leaf's body, or a message/rfc822 part whose message is on the stack
	stPreamble        // a multipart before its first boundary
	stParts           // a multipart whose current child is on the stack
	stEpilogue        // a multipart after its close delimiter
)

// entity is one MIME entity on the scanner's stack.
type entity struct {
	depth   int
	part    int
	nested  bool // inside an enclosed message/rfc822
	message bool // a message (top level or enclosed): its header has From, Subject, …
	state   int

	ctype    mediaType
	disp     mediaType
	ctSeen   bool // a Content-Type field was read (the first one counts)
	dispSeen bool
	enc      transferEncoding
	boundary []byte // "--" + boundary while this multipart is followed; empty otherwise
	children int

	analyze    bool      // look at this entity's content (false past MaxParts or in ciphertext)
	opaqueKids bool      // the children are ciphertext: follow structure only
	signedKids bool      // multipart/signed: the second child is the signature
	protoKnown bool      // multipart/signed|encrypted whose protocol decided the class
	pgpMangled bool      // a PGP/MIME control part was seen among the children
	ome        omeNotice // (message) signs of Microsoft's legacy OME notice
	omeHTML    Finding   // (message) a message.html attachment, class set when seen

	sink byteSink // the content consumer of a leaf, nil when not looked at
}

// Scanner classifies one message fed to it in pieces through Write, in one
// pass and in memory that does not grow with the message: it keeps the
// current line (up to 64 KiB), the open MIME entities (at most MaxDepth),
// a few header fields (16 KiB each) and per-part sniffing state (at most
// 128 KiB for a ZIP's central directory). It never returns an error: any
// byte sequence gives a classification.
//
// The milter writes the header it received and the body chunks as they
// come; `sealtag classify` copies a file. Reset makes a Scanner reusable.
type Scanner struct {
	opts Options

	carry     []byte // an incomplete line from the previous Write
	carryCont bool   // the carried line is the continuation of an overlong one
	midLine   bool   // inside a line the fast path skips (it cannot be a boundary)
	lines     int

	stack    []*entity
	free     []*entity
	parts    int
	findings []Finding
	partial  bool
	finished bool

	// the header field being read
	field    string // lower-case name of a field of interest, "" to skip
	fieldVal []byte

	top topHeader

	dec    decoder
	text   textSink
	attach attachSink
}

// topHeader holds the fields of the message's own header that relay and
// thread classification need.
type topHeader struct {
	from, replyTo, sender, returnPath, subject string
	inReplyTo, references                      bool
	deliveredTo                                []string
}

// NewScanner returns a Scanner for one message.
func NewScanner(opts Options) *Scanner {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxParts <= 0 {
		opts.MaxParts = DefaultMaxParts
	}
	s := &Scanner{opts: opts}
	s.Reset()
	return s
}

// Reset prepares the Scanner for the next message, keeping its buffers.
func (s *Scanner) Reset() {
	for _, e := range s.stack {
		s.release(e)
	}
	s.stack = s.stack[:0]
	s.carry = s.carry[:0]
	s.carryCont = false
	s.midLine = false
	s.lines = 0
	s.parts = 0
	s.findings = s.findings[:0]
	s.partial = false
	s.finished = false
	s.field = ""
	s.fieldVal = s.fieldVal[:0]
	s.top = topHeader{}
	s.push(&entity{message: true, analyze: true})
}

// ReturnPath returns the address in the message's Return-Path header, the
// envelope sender `sealtag classify` falls back to.
func (s *Scanner) ReturnPath() string {
	return firstAddress(s.top.returnPath)
}

// DeliveredTo returns the addresses of the message's Delivered-To and
// X-Original-To headers: the envelope recipients the delivering MTA wrote
// down, which `sealtag classify` uses for stored mail.
func (s *Scanner) DeliveredTo() []string {
	return append([]string(nil), s.top.deliveredTo...)
}

// Write feeds the next piece of the message. It always consumes all of p.
func (s *Scanner) Write(p []byte) (int, error) {
	n := len(p)
	if s.finished {
		return n, nil
	}
	for len(p) > 0 {
		if s.midLine {
			// the rest of a line the fast path below found to be of no interest
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				break
			}
			p = p[i+1:]
			s.midLine = false
			continue
		}
		if len(s.carry) == 0 && !s.carryCont && s.ignoringBody() {
			// Only a boundary can change anything now: jump to the next line
			// that starts with '-' (base64 has none, so a whole attachment
			// is crossed with one vectorised search).
			i := nextDashLine(p)
			if i < 0 {
				s.midLine = p[len(p)-1] != '\n'
				break
			}
			p = p[i:]
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.appendCarry(p)
			break
		}
		seg := p[:i]
		p = p[i+1:]
		if len(s.carry) > 0 || s.carryCont {
			s.appendCarry(seg)
			s.line(trimCR(s.carry), true, s.carryCont)
			s.carry = s.carry[:0]
			s.carryCont = false
			continue
		}
		s.line(trimCR(seg), true, false)
	}
	return n, nil
}

// ignoringBody reports whether the innermost entity has no use for its
// lines: a multipart's preamble or epilogue, a part not looked at, or one
// whose sink has decided.
func (s *Scanner) ignoringBody() bool {
	e := s.stack[len(s.stack)-1]
	switch e.state {
	case stPreamble, stEpilogue:
		return true
	case stBody:
		return e.sink == nil || s.dec.stopped
	}
	return false
}

// nextDashLine returns the offset of the first line of p that starts with
// '-', or -1; p starts at the beginning of a line.
func nextDashLine(p []byte) int {
	if p[0] == '-' {
		return 0
	}
	for off := 0; ; {
		k := bytes.IndexByte(p[off:], '-')
		if k < 0 {
			return -1
		}
		if pos := off + k; p[pos-1] == '\n' {
			return pos
		}
		off += k + 1
	}
}

// appendCarry keeps an incomplete line; a line longer than maxLine is passed
// on in pieces, the later ones marked as continuations.
func (s *Scanner) appendCarry(p []byte) {
	for len(s.carry)+len(p) > maxLine {
		k := maxLine - len(s.carry)
		s.carry = append(s.carry, p[:k]...)
		p = p[k:]
		s.line(s.carry, false, s.carryCont)
		s.carry = s.carry[:0]
		s.carryCont = true
	}
	s.carry = append(s.carry, p...)
}

// trimCR removes the CR of a CRLF line ending.
func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// line dispatches one line (without its line ending). eol is false when the
// line continues in the next call; cont is true for the second and later
// pieces of an overlong line, which can be neither a boundary nor a header.
func (s *Scanner) line(l []byte, eol, cont bool) {
	s.lines++
	if !cont && len(l) >= 2 && l[0] == '-' && l[1] == '-' && s.boundary(l) {
		return
	}
	e := s.stack[len(s.stack)-1]
	switch e.state {
	case stHeader:
		if cont {
			return // the rest of an overlong header line: its value is capped anyway
		}
		s.headerLine(e, l)
	case stBody:
		if e.sink != nil {
			s.dec.line(l, eol)
		}
	}
	// preamble and epilogue of a multipart carry nothing of interest
}

// boundary checks l against the boundaries of the open multiparts, innermost
// first (RFC 2046 §5.1.1: an outer boundary closes the inner parts). It
// returns true when l was a delimiter line and has been acted on.
func (s *Scanner) boundary(l []byte) bool {
	for i := len(s.stack) - 1; i >= 0; i-- {
		m := s.stack[i]
		if len(m.boundary) == 0 || m.state == stEpilogue || !bytes.HasPrefix(l, m.boundary) {
			continue
		}
		rest := l[len(m.boundary):]
		closing := bytes.HasPrefix(rest, []byte("--"))
		if closing {
			rest = rest[2:]
		}
		if len(bytes.TrimRight(rest, " \t")) != 0 {
			continue // "--b_alt" is not "--b" (enmime similar-boundary)
		}
		for len(s.stack)-1 > i {
			s.pop()
		}
		if closing {
			m.state = stEpilogue
			return true
		}
		m.state = stParts
		m.children++
		child := s.newEntity(m)
		s.push(child)
		return true
	}
	return false
}

// newEntity makes the next child of parent.
func (s *Scanner) newEntity(parent *entity) *entity {
	e := s.alloc()
	e.depth = parent.depth + 1
	e.nested = parent.nested
	s.parts++
	e.part = s.parts
	e.analyze = parent.analyze && !parent.opaqueKids
	if s.parts > s.opts.MaxParts {
		e.analyze = false
		s.partial = true
	}
	return e
}

func (s *Scanner) alloc() *entity {
	if n := len(s.free); n > 0 {
		e := s.free[n-1]
		s.free = s.free[:n-1]
		return e
	}
	return new(entity)
}

func (s *Scanner) release(e *entity) {
	b := e.boundary[:0]
	*e = entity{boundary: b}
	if len(s.free) < 64 {
		s.free = append(s.free, e)
	}
}

func (s *Scanner) push(e *entity) { s.stack = append(s.stack, e) }

// pop finishes the innermost entity.
func (s *Scanner) pop() {
	e := s.stack[len(s.stack)-1]
	if e.state == stHeader {
		s.endField(e)
		s.endHeader(e) // a part that ended inside its header
	}
	if e.sink != nil {
		s.dec.finish()
		e.sink = nil
	}
	if e.message {
		s.endMessage(e)
	}
	s.stack = s.stack[:len(s.stack)-1]
	s.release(e)
}

// headerLine reads one line of a part's header.
func (s *Scanner) headerLine(e *entity, l []byte) {
	if len(l) == 0 {
		s.endField(e)
		s.endHeader(e)
		return
	}
	if l[0] == ' ' || l[0] == '\t' {
		if s.field != "" && len(s.fieldVal) < maxFieldValue {
			s.fieldVal = append(s.fieldVal, ' ')
			s.fieldVal = append(s.fieldVal, l[:min(len(l), maxFieldValue-len(s.fieldVal)+1)]...)
		}
		return
	}
	s.endField(e)
	colon := bytes.IndexByte(l, ':')
	if colon <= 0 || !isFieldName(bytes.TrimRight(l[:colon], " \t")) {
		if e.part == 0 && s.lines == 1 && bytes.HasPrefix(l, []byte("From ")) {
			return // an mbox separator line before the message
		}
		// Not a header field: the header ended without its empty line.
		// Postfix (cleanup) and most parsers read on as body; so do we.
		s.endHeader(e)
		s.line(l, true, true)
		return
	}
	name := bytes.TrimRight(l[:colon], " \t")
	s.field = fieldOfInterest(name, e.part == 0)
	if s.field != "" {
		s.fieldVal = append(s.fieldVal[:0], l[colon+1:min(len(l), colon+1+maxFieldValue)]...)
	}
}

// isFieldName reports whether b is an RFC 5322 field name (printable ASCII
// except ':'), as Postfix's is_header() accepts it.
func isFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// fieldOfInterest returns the lower-case name of a field the scanner reads,
// or "" for one it skips. The message's own header (top) also yields the
// address, subject and threading fields.
func fieldOfInterest(name []byte, top bool) string {
	for _, f := range [...]string{"content-type", "content-transfer-encoding", "content-disposition"} {
		if bytes.EqualFold(name, []byte(f)) {
			return f
		}
	}
	if top {
		for _, f := range [...]string{"from", "reply-to", "sender", "return-path", "subject", "in-reply-to", "references", "delivered-to", "x-original-to"} {
			if bytes.EqualFold(name, []byte(f)) {
				return f
			}
		}
	}
	return ""
}

// endField stores the header field just read. The first instance of a field
// wins, as in go-message and most mail readers.
func (s *Scanner) endField(e *entity) {
	if s.field == "" {
		return
	}
	v := strings.TrimSpace(string(s.fieldVal))
	switch s.field {
	case "content-type":
		if !e.ctSeen {
			e.ctype, e.ctSeen = parseMediaType(v, true), true
		}
	case "content-transfer-encoding":
		e.enc = parseTransferEncoding(v)
	case "content-disposition":
		if !e.dispSeen {
			e.disp, e.dispSeen = parseMediaType(v, false), true
		}
	case "from":
		setOnce(&s.top.from, v)
	case "reply-to":
		setOnce(&s.top.replyTo, v)
	case "sender":
		setOnce(&s.top.sender, v)
	case "return-path":
		setOnce(&s.top.returnPath, v)
	case "subject":
		setOnce(&s.top.subject, v)
	case "in-reply-to":
		s.top.inReplyTo = s.top.inReplyTo || v != ""
	case "references":
		s.top.references = s.top.references || v != ""
	case "delivered-to", "x-original-to":
		if a := firstAddress(v); a != "" && len(s.top.deliveredTo) < 16 && !slices.Contains(s.top.deliveredTo, a) {
			s.top.deliveredTo = append(s.top.deliveredTo, a)
		}
	}
	s.field = ""
}

func setOnce(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// parent returns the entity below e on the stack, or nil.
func (s *Scanner) parent() *entity {
	if len(s.stack) < 2 {
		return nil
	}
	return s.stack[len(s.stack)-2]
}

// message returns the innermost message entity enclosing the top of the stack.
func (s *Scanner) message() *entity {
	for i := len(s.stack) - 1; i >= 0; i-- {
		if s.stack[i].message {
			return s.stack[i]
		}
	}
	return s.stack[0]
}

// endHeader decides, from the header just read, how to treat the body.
func (s *Scanner) endHeader(e *entity) {
	e.state = stBody
	parent := s.parent()
	ct := e.ctype.value
	if ct == "" {
		ct = "text/plain" // RFC 2045 §5.2, also for an unreadable Content-Type
		if parent != nil && parent.ctype.value == "multipart/digest" {
			ct = "message/rfc822" // RFC 2046 §5.1.5
		}
		e.ctype.value = ct
	}
	if parent != nil && parent.analyze {
		s.childOf(parent, e)
	}

	if strings.HasPrefix(ct, "multipart/") {
		b := e.ctype.get("boundary")
		if b != "" && len(b) <= maxBoundary {
			if e.depth >= s.opts.MaxDepth {
				s.partial = true // its parts would be too deep: skip them whole
				return
			}
			e.boundary = append(append(e.boundary[:0], "--"...), b...)
			e.state = stPreamble
			if e.analyze {
				s.container(e)
			}
			return
		}
		// A multipart without a boundary cannot be split: read it as text.
		ct = "text/plain"
	}
	if !e.analyze {
		return
	}
	if isMessageType(ct) && e.enc == encIdentity {
		if e.depth >= s.opts.MaxDepth {
			s.partial = true
			return
		}
		child := s.newEntity(e)
		child.message = true
		child.nested = true
		s.push(child)
		return
	}
	s.leaf(e, ct)
}

// isMessageType reports whether a part holds a whole enclosed message.
func isMessageType(ct string) bool {
	return ct == "message/rfc822" || ct == "message/global"
}

// startSink connects a leaf's content, transfer-decoded, to sink.
func (s *Scanner) startSink(e *entity, sink byteSink) {
	e.sink = sink
	s.dec.reset(e.enc, sink)
}

// filename returns the part's file name, lower-case: Content-Disposition's
// filename, else Content-Type's name (RFC 2231 and RFC 2047 forms decoded).
func (e *entity) filename() string {
	n := e.disp.get("filename")
	if n == "" {
		n = e.ctype.get("name")
	}
	if strings.Contains(n, "=?") {
		n = decodeWords(n)
	}
	return strings.ToLower(strings.TrimSpace(n))
}

// addFinding records a class earned by entity e.
func (s *Scanner) addFinding(e *entity, c Class, why string) {
	for _, f := range s.findings {
		if f.Class == c && f.Part == e.part {
			return
		}
	}
	if len(s.findings) >= 64 {
		s.partial = true
		return
	}
	scope := ScopeOuter
	if e.nested {
		scope = ScopeNested
	}
	s.findings = append(s.findings, Finding{Class: c, Scope: scope, Depth: e.depth, Part: e.part, Why: why})
}

// Finish ends the message: open parts are closed as if their boundaries had
// come (a truncated message keeps what was found), and the result is built.
// env gives what the message itself cannot: the envelope sender and the TLS
// state of the session.
func (s *Scanner) Finish(env Envelope) Result {
	s.close()
	providers := s.opts.Providers
	if providers == nil {
		providers = DefaultProviders()
	}
	relay := providers.Classify(Addresses{
		From:     s.top.from,
		ReplyTo:  s.top.replyTo,
		Sender:   s.top.sender,
		Envelope: env.From,
	})
	tls := env.TLS
	if tls.Version == "" {
		tls.Version = TLSUnknown
	}
	return Result{
		Encryption: rank(s.findings, s.partial),
		TLS:        tls,
		Relay:      relay,
		Thread:     classifyThread(s.top.subject, s.top.inReplyTo || s.top.references, providers.threadRisks(relay)),
	}
}

// close ends the walk: the last line is taken and every open entity closed.
func (s *Scanner) close() {
	if s.finished {
		return
	}
	if len(s.carry) > 0 || s.carryCont {
		s.line(trimCR(s.carry), false, s.carryCont)
		s.carry = s.carry[:0]
	}
	for len(s.stack) > 0 {
		s.pop()
	}
	s.finished = true
}

// Envelope is what the SMTP session knows about a message.
type Envelope struct {
	// From is the envelope sender (MAIL FROM), without angle brackets.
	From string
	// TLS is the TLS state of the session (see TLSFromMacros).
	TLS TLS
}
