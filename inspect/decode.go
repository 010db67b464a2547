package inspect

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
)

// lineSink is a byteSink that can take whole lines, saving the identity
// transfer encoding a copy and a second search for line ends.
type lineSink interface {
	byteSink
	// writeLine takes one line without its line ending; eol says whether
	// the line ended (false for a piece of an overlong line).
	writeLine(l []byte, eol bool)
}

// byteSink consumes the decoded content of one part, in pieces.
type byteSink interface {
	// write takes the next piece of content; it returns false once it has
	// decided and wants no more (the decoder then stops decoding).
	write(p []byte) bool
	// end is called once, after the last piece.
	end()
}

// transferEncoding is a Content-Transfer-Encoding (RFC 2045 §6).
type transferEncoding int

const (
	encIdentity transferEncoding = iota // 7bit, 8bit, binary, absent or unknown
	encBase64
	encQuotedPrintable
)

// parseTransferEncoding reads a Content-Transfer-Encoding value. Unknown
// values (x-uuencode, typos) are read as identity: the bytes as they are.
func parseTransferEncoding(v string) transferEncoding {
	switch strings.ToLower(strings.TrimSpace(stripComment(v))) {
	case "base64":
		return encBase64
	case "quoted-printable":
		return encQuotedPrintable
	}
	return encIdentity
}

// b64val maps a byte to its base64 value; -1 for bytes outside the alphabet.
var b64val = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// decoder turns the raw body lines of one part into its content, streaming:
// it keeps at most one base64 quantum and one decoded line between calls.
// Malformed input is decoded as far as it goes (a stray '*' in base64 is
// skipped, a broken '=XY' in quoted-printable stays literal), never an error.
type decoder struct {
	enc     transferEncoding
	dst     byteSink
	lines   lineSink // dst, when it takes whole lines
	stopped bool
	q       [4]byte // base64 quantum in progress
	nq      int
	out     []byte // scratch for one decoded line, reused
}

// reset prepares the decoder for a new part.
func (d *decoder) reset(enc transferEncoding, dst byteSink) {
	d.enc, d.dst, d.stopped, d.nq = enc, dst, false, 0
	d.lines, _ = dst.(lineSink)
	d.out = d.out[:0]
}

// line takes one raw body line without its line ending; eol is false for a
// piece of an overlong line that continues in the next call.
func (d *decoder) line(l []byte, eol bool) {
	if d.stopped {
		return
	}
	if d.enc == encIdentity && d.lines != nil {
		d.lines.writeLine(l, eol)
		return
	}
	out := d.out[:0]
	switch d.enc {
	case encBase64:
		out = d.base64(out, l)
	case encQuotedPrintable:
		out = quotedPrintable(out, l, eol)
	default:
		out = append(out, l...)
		if eol {
			out = append(out, '\n')
		}
	}
	d.out = out
	if len(out) > 0 && !d.dst.write(out) {
		d.stopped = true
	}
}

// finish flushes a dangling base64 quantum and ends the sink.
func (d *decoder) finish() {
	if d.dst == nil {
		return
	}
	if !d.stopped && d.enc == encBase64 && d.nq > 1 {
		out := d.flushQuantum(d.out[:0])
		if len(out) > 0 {
			d.dst.write(out)
		}
	}
	d.dst.end()
	d.dst = nil
}

// base64 decodes one line, appending to out. Whole 4-character groups go
// through the standard library; anything irregular (whitespace, padding in
// the middle, stray characters, quanta split across lines) byte by byte.
func (d *decoder) base64(out, l []byte) []byte {
	if d.nq == 0 && len(l) > 0 && len(l)%4 == 0 {
		n := base64.StdEncoding.DecodedLen(len(l))
		start := len(out)
		out = slices.Grow(out, n)[:start+n]
		if m, err := base64.StdEncoding.Decode(out[start:], l); err == nil {
			return out[:start+m]
		}
		out = out[:start]
	}
	for _, c := range l {
		v := b64val[c]
		if v < 0 {
			if c == '=' {
				out = d.flushQuantum(out)
			}
			continue
		}
		d.q[d.nq] = byte(v)
		d.nq++
		if d.nq == 4 {
			out = append(out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
			d.nq = 0
		}
	}
	return out
}

// flushQuantum emits the bytes of a partial quantum at padding or at the end.
func (d *decoder) flushQuantum(out []byte) []byte {
	switch d.nq {
	case 2:
		out = append(out, d.q[0]<<2|d.q[1]>>4)
	case 3:
		out = append(out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.nq = 0
	return out
}

// quotedPrintable decodes one line (RFC 2045 §6.7): trailing whitespace is
// transport padding, a final '=' is a soft line break.
func quotedPrintable(out, l []byte, eol bool) []byte {
	if eol {
		for len(l) > 0 && (l[len(l)-1] == ' ' || l[len(l)-1] == '\t') {
			l = l[:len(l)-1]
		}
	}
	soft := len(l) > 0 && l[len(l)-1] == '='
	if soft {
		l = l[:len(l)-1]
	}
	for len(l) > 0 {
		i := bytes.IndexByte(l, '=')
		if i < 0 {
			out = append(out, l...)
			break
		}
		out = append(out, l[:i]...)
		l = l[i:]
		if len(l) >= 3 {
			if h, ok := unhex(l[1]); ok {
				if lo, ok := unhex(l[2]); ok {
					out = append(out, h<<4|lo)
					l = l[3:]
					continue
				}
			}
		}
		out = append(out, '=') // a broken escape stays literal
		l = l[1:]
	}
	if eol && !soft {
		out = append(out, '\n')
	}
	return out
}
