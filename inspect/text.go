package inspect

import (
	"bytes"
	"strings"
)

const (
	maxTextLine    = 16 << 10 // longer decoded lines are read in pieces
	omeNoticeLines = 100      // lines of a text part searched for the OME notice
)

// textSink reads a text part after transfer decoding: it finds inline
// OpenPGP armor at the start of a line (quoted lines and HTML blockquotes
// do not count) and Microsoft's encrypted-message notice.
type textSink struct {
	s   *Scanner
	e   *entity
	msg *entity

	wide    wideCharset // UTF-16/32 text is narrowed to ASCII first
	wideBuf []byte
	odd     [4]byte
	nodd    int

	html bool
	h    htmlFilter

	line     []byte
	lines    int  // lines flushed so far
	lineCont bool // the line being built continues an overlong one
	quoted   bool // the line started inside an HTML blockquote
	lower    []byte

	armor      armor
	encrypted  bool
	signed     bool
	omeWrapper bool // this is the legacy OME message.html wrapper itself
}

// wideCharset is a text charset whose code units are wider than a byte.
type wideCharset int

const (
	narrow wideCharset = iota
	utf16Unknown
	utf16LE
	utf16BE
	utf32LE
	utf32BE
)

// start prepares the sink for the text part e.
func (t *textSink) start(s *Scanner, e *entity, ct, charset string) byteSink {
	*t = textSink{
		s: s, e: e, msg: s.message(),
		wideBuf: t.wideBuf[:0], line: t.line[:0], lower: t.lower[:0],
		html: ct == "text/html",
	}
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "utf-16", "ucs-2", "unicode":
		t.wide = utf16Unknown
	case "utf-16le", "ucs-2le":
		t.wide = utf16LE
	case "utf-16be", "ucs-2be":
		t.wide = utf16BE
	case "utf-32", "utf-32be", "ucs-4":
		t.wide = utf32BE
	case "utf-32le":
		t.wide = utf32LE
	}
	return t
}

func (t *textSink) write(p []byte) bool {
	if t.wide != narrow {
		p = t.narrow(p)
	}
	if t.html {
		t.writeHTML(p)
		return true
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.add(p)
			break
		}
		t.add(p[:i])
		t.endLine()
		p = p[i+1:]
	}
	return true
}

// writeLine takes a line of text sent without transfer encoding.
func (t *textSink) writeLine(l []byte, eol bool) {
	if t.wide != narrow || t.html {
		t.write(l)
		if eol {
			t.write([]byte{'\n'})
		}
		return
	}
	t.add(l)
	if eol {
		t.endLine()
	}
}

func (t *textSink) end() {
	if len(t.line) > 0 {
		t.endLine()
	}
	t.armor.line(nil, true) // a block cut off by the end of the part
	t.report(t.armor.result)
}

// add appends text to the current line; an overlong line is handed on in pieces.
func (t *textSink) add(p []byte) {
	for len(t.line)+len(p) > maxTextLine {
		k := maxTextLine - len(t.line)
		t.line = append(t.line, p[:k]...)
		p = p[k:]
		t.flushLine(true)
	}
	t.line = append(t.line, p...)
}

// writeHTML passes HTML through the filter: runs of plain text are added
// whole, markup and entities byte by byte.
func (t *textSink) writeHTML(p []byte) {
	for len(p) > 0 {
		if t.h.state == htmlText {
			i := indexHTMLSpecial(p)
			if i != 0 {
				run := p
				if i > 0 {
					run = p[:i]
				}
				t.addRun(run)
				if i < 0 {
					return
				}
				p = p[i:]
			}
		}
		t.h.feed(t, p[0])
		p = p[1:]
	}
}

// indexHTMLSpecial returns the offset of the next byte the HTML filter must
// see on its own ('<', '&', '\r', '\n'), or -1.
func indexHTMLSpecial(p []byte) int {
	for i, c := range p {
		if c == '<' || c == '&' || c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// addRun appends a run of HTML text to the line, with addByte's rules for
// the start of a line.
func (t *textSink) addRun(run []byte) {
	if len(t.line) == 0 && !t.lineCont {
		t.quoted = t.h.blockquote > 0
		run = bytes.TrimLeft(run, " \t")
		if len(run) == 0 {
			return
		}
	}
	t.add(run)
}

// addByte appends one character (from the HTML filter).
func (t *textSink) addByte(c byte) {
	if len(t.line) == 0 && !t.lineCont {
		t.quoted = t.h.blockquote > 0
		if t.html && (c == ' ' || c == '\t') {
			return // leading white space is not significant in HTML
		}
	}
	if len(t.line) >= maxTextLine {
		t.flushLine(true)
	}
	t.line = append(t.line, c)
}

func (t *textSink) endLine() { t.flushLine(false) }

// flushLine inspects the line built so far. overlong says it continues.
func (t *textSink) flushLine(overlong bool) {
	l := bytes.TrimRight(t.line, " \t\r")
	// armor lines start with '-' (or belong to a block being read)
	if !t.lineCont && !t.quoted && !t.omeWrapper && (t.armor.state != arIdle || (len(l) > 0 && l[0] == '-')) {
		t.armor.line(l, false)
		t.report(t.armor.result)
	}
	t.lines++
	// Microsoft's notice is the short body at the top of the message; the
	// wrapper carries its portal link anywhere.
	if t.omeWrapper || (t.lines <= omeNoticeLines && t.e.depth <= 2 && t.e.part <= 4) {
		t.checkOME(l)
	}
	t.line = t.line[:0]
	t.lineCont = overlong
	t.quoted = false
}

// report turns a decided armor block into a finding (once per class).
func (t *textSink) report(k pgpKind) {
	t.armor.result = pgpUnknown
	switch k {
	case pgpEncrypted:
		if !t.encrypted {
			t.encrypted = true
			t.s.addFinding(t.e, ClassPGPInlineEncrypted, "armored OpenPGP message with encrypted-data packets in a text part")
		}
	case pgpSigned, pgpSignature:
		if !t.signed {
			t.signed = true
			t.s.addFinding(t.e, ClassPGPInlineSigned, t.armor.why)
		}
	}
}

// checkOME looks for Microsoft's encrypted-message notice in a line.
func (t *textSink) checkOME(l []byte) {
	if t.msg.ome.confirmed() || len(l) >= 4096 || !mayBeOME(l) {
		return
	}
	t.lower = append(t.lower[:0], l...)
	lowerASCII(t.lower)
	t.msg.ome.line(t.lower, t.omeWrapper)
}

// mayBeOME is a cheap filter before the OME notice check lower-cases a line:
// one pass with a four-byte window for "ssag" or "ncry" in any case (every
// phrase of the notice and its markers has "message" or "encrypt").
func mayBeOME(l []byte) bool {
	const ssag, ncry = 's'<<24 | 's'<<16 | 'a'<<8 | 'g', 'n'<<24 | 'c'<<16 | 'r'<<8 | 'y'
	var w uint32
	for _, c := range l {
		w = w<<8 | uint32(c|0x20) // ASCII letters to lower case; others do not matter
		if w == ssag || w == ncry {
			return true
		}
	}
	return false
}

// narrow turns UTF-16/32 text into bytes, keeping ASCII and writing '?' for
// anything else: armor is ASCII, and nothing else of the text is needed.
func (t *textSink) narrow(p []byte) []byte {
	out := t.wideBuf[:0]
	for len(p) > 0 {
		unit := 2
		if t.wide == utf32LE || t.wide == utf32BE {
			unit = 4
		}
		n := copy(t.odd[t.nodd:unit], p)
		t.nodd += n
		p = p[n:]
		if t.nodd < unit {
			break
		}
		t.nodd = 0
		u := t.odd[:unit]
		if t.wide == utf16Unknown {
			// BOM first (RFC 2781 §4.3), else guess from where the zero byte is.
			switch {
			case u[0] == 0xff && u[1] == 0xfe:
				t.wide = utf16LE
				continue
			case u[0] == 0xfe && u[1] == 0xff:
				t.wide = utf16BE
				continue
			case u[0] != 0 && u[1] == 0:
				t.wide = utf16LE
			default:
				t.wide = utf16BE
			}
		}
		var r uint32
		switch t.wide {
		case utf16LE:
			r = uint32(u[0]) | uint32(u[1])<<8
		case utf16BE:
			r = uint32(u[1]) | uint32(u[0])<<8
		case utf32LE:
			r = uint32(u[0]) | uint32(u[1])<<8 | uint32(u[2])<<16 | uint32(u[3])<<24
		case utf32BE:
			r = uint32(u[3]) | uint32(u[2])<<8 | uint32(u[1])<<16 | uint32(u[0])<<24
		}
		switch {
		case r == 0xfeff:
		case r < 0x80:
			out = append(out, byte(r))
		default:
			out = append(out, '?')
		}
	}
	t.wideBuf = out
	return out
}

// lowerASCII lower-cases ASCII letters in place.
func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// htmlFilter turns HTML into lines of text, enough to find armor: tags are
// dropped, block tags and <br> end a line, a few entities are decoded, and
// the depth of <blockquote> (a quoted reply) is tracked.
type htmlFilter struct {
	state      int
	name       [12]byte
	nname      int
	nameDone   bool
	closing    bool
	quote      byte
	ent        [12]byte
	nent       int
	blockquote int
}

const (
	htmlText = iota
	htmlTag
	htmlEntity
	htmlComment
)

func (h *htmlFilter) feed(t *textSink, c byte) {
	switch h.state {
	case htmlText:
		switch c {
		case '<':
			h.state, h.nname, h.nameDone, h.closing, h.quote = htmlTag, 0, false, false, 0
		case '&':
			h.state, h.nent = htmlEntity, 0
		case '\n':
			t.endLine()
		case '\r':
		default:
			t.addByte(c)
		}
	case htmlTag:
		switch {
		case h.quote != 0:
			if c == h.quote {
				h.quote = 0
			}
		case c == '>':
			h.state = htmlText
			h.endTag(t)
		case c == '"' || c == '\'':
			h.quote = c
			h.nameDone = true
		case c == '/' && h.nname == 0 && !h.closing:
			h.closing = true
		case !h.nameDone && c > ' ' && c != '/':
			if h.nname < len(h.name) {
				h.name[h.nname] = c | 0x20
				h.nname++
			}
			if h.nname == 3 && string(h.name[:3]) == "!--" {
				h.state, h.nname = htmlComment, 0
			}
		default:
			h.nameDone = true
		}
	case htmlComment:
		// wait for "-->", remembering the last two bytes in name[0:2]
		if c == '>' && h.nname >= 2 && h.name[0] == '-' && h.name[1] == '-' {
			h.state = htmlText
			return
		}
		h.name[0], h.name[1] = h.name[1], c
		h.nname++
	case htmlEntity:
		if c == ';' || h.nent == len(h.ent) || !(c == '#' || isAlnum(c)) {
			h.state = htmlText
			r, ok := decodeEntity(h.ent[:h.nent])
			if ok {
				t.addByte(r)
			} else {
				t.addByte('&')
				for _, b := range h.ent[:h.nent] {
					t.addByte(b)
				}
			}
			if c != ';' {
				h.feed(t, c)
			}
			return
		}
		h.ent[h.nent] = c
		h.nent++
	}
}

// endTag acts on a complete tag: block elements break the line.
func (h *htmlFilter) endTag(t *textSink) {
	switch string(h.name[:h.nname]) {
	case "blockquote":
		t.endLine()
		if h.closing {
			if h.blockquote > 0 {
				h.blockquote--
			}
		} else {
			h.blockquote++
		}
	case "br", "p", "div", "pre", "tr", "li", "ul", "ol", "table", "hr", "h1", "h2", "h3", "h4", "h5", "h6":
		if len(t.line) > 0 {
			t.endLine()
		}
	}
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// decodeEntity decodes the HTML entities that can appear in armor or
// around it; anything non-ASCII becomes '?'.
func decodeEntity(e []byte) (byte, bool) {
	switch string(e) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	case "nbsp":
		return ' ', true
	}
	if len(e) < 2 || e[0] != '#' {
		return 0, false
	}
	n, base, digits := 0, 10, e[1:]
	if digits[0] == 'x' || digits[0] == 'X' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 7 {
		return 0, false
	}
	for _, c := range digits {
		v, ok := unhex(c)
		if !ok || int(v) >= base {
			return 0, false
		}
		n = n*base + int(v)
	}
	switch {
	case n == 0xa0:
		return ' ', true
	case n < 0x80:
		return byte(n), true
	}
	return '?', true
}
