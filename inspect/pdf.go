package inspect

import "bytes"

// pdfScan looks for the /Encrypt entry of a PDF's trailer (ISO 32000-1
// §7.5.5, §7.5.8 for cross-reference streams) with a small lexer: stream
// bodies, string literals and comments are skipped, so text that merely
// mentions "/Encrypt 7 0 R" does not count. A name /Encrypt followed by an
// indirect reference or a dictionary is the key.
type pdfScan struct {
	state        int
	depth        int  // string literal nesting
	escape       bool // after a backslash in a string
	tok          [16]byte
	ntok         int
	tokName      bool // the token being read is a name (/…)
	afterEncrypt bool
	carry        []byte // the last bytes of a stream body, for an "endstream" split across pieces
}

const (
	pdfNormal = iota
	pdfString
	pdfComment
	pdfStream
)

var pdfEndstream = []byte("endstream")

// feed reads the next bytes; it returns true once the key was found.
func (p *pdfScan) feed(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if p.state == pdfStream {
			end, ok := p.streamEnd(b[i:])
			if !ok {
				return false
			}
			i += end - 1
			p.state, p.ntok = pdfNormal, 0
			continue
		}
		c := b[i]
		switch p.state {
		case pdfString:
			switch {
			case p.escape:
				p.escape = false
			case c == '\\':
				p.escape = true
			case c == '(':
				p.depth++
			case c == ')':
				p.depth--
				if p.depth == 0 {
					p.state = pdfNormal
				}
			}
			continue
		case pdfComment:
			if c == '\r' || c == '\n' {
				p.state = pdfNormal
			}
			continue
		}
		if p.afterEncrypt && !isPDFWhite(c) {
			if '0' <= c && c <= '9' || c == '<' {
				return true
			}
			p.afterEncrypt = false
		}
		if isPDFRegular(c) {
			if p.ntok < len(p.tok) {
				p.tok[p.ntok] = c
			}
			p.ntok++
			continue
		}
		p.endToken()
		if p.state == pdfStream {
			if c == '\r' || c == '\n' {
				continue
			}
			// "stream" must end its line; anything else was not the keyword
			p.state = pdfNormal
		}
		switch c {
		case '(':
			p.state, p.depth = pdfString, 1
		case '%':
			p.state = pdfComment
		case '/':
			p.tokName = true
		}
	}
	return false
}

// streamEnd finds "endstream" in a stream body that continues with b,
// also when the word is split across pieces. It returns the offset in b
// just after it.
func (p *pdfScan) streamEnd(b []byte) (int, bool) {
	k := len(pdfEndstream) - 1
	if len(p.carry) > 0 {
		joined := append(p.carry, b[:min(len(b), k)]...)
		if j := bytes.Index(joined, pdfEndstream); j >= 0 {
			p.carry = p.carry[:0]
			return j + len(pdfEndstream) - (len(joined) - min(len(b), k)), true
		}
	}
	if j := bytes.Index(b, pdfEndstream); j >= 0 {
		p.carry = p.carry[:0]
		return j + len(pdfEndstream), true
	}
	if len(b) >= k {
		p.carry = append(p.carry[:0], b[len(b)-k:]...)
	} else {
		p.carry = append(p.carry, b...)
		if len(p.carry) > k {
			p.carry = append(p.carry[:0], p.carry[len(p.carry)-k:]...)
		}
	}
	return 0, false
}

// endToken acts on a finished keyword or name.
func (p *pdfScan) endToken() {
	tok := p.tok[:min(p.ntok, len(p.tok))]
	switch {
	case p.tokName && p.ntok == 7 && string(tok) == "Encrypt":
		p.afterEncrypt = true
	case !p.tokName && p.ntok == 6 && string(tok) == "stream":
		p.state = pdfStream
		p.carry = p.carry[:0]
	}
	p.ntok, p.tokName = 0, false
}

// isPDFWhite reports PDF white-space characters (§7.2.2).
func isPDFWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

// isPDFRegular reports characters that are neither white space nor delimiters.
func isPDFRegular(c byte) bool {
	return !isPDFWhite(c) && bytes.IndexByte([]byte("()<>[]{}/%"), c) < 0
}
