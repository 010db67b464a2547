package inspect

import "bytes"

// armor follows OpenPGP ASCII armor (RFC 9580 §6) line by line and decides
// each block from its first packet, not from its label: a "BEGIN PGP
// MESSAGE" may hold only a signature (gpg --sign --armor), and a tutorial
// line that merely shows an armor header decodes to nothing. A clearsigned
// block counts once its "BEGIN PGP SIGNATURE" decodes to a signature packet.
type armor struct {
	state  int
	lines  int // header lines read in the current block
	buf    [64]byte
	n      int
	q      [4]byte
	nq     int
	result pgpKind // the last decided block, for the caller to take
	why    string
}

const (
	arIdle         = iota
	arMsgHeaders   // after -----BEGIN PGP MESSAGE-----
	arMsgBody      // base64 of a message
	arClearHeaders // after -----BEGIN PGP SIGNED MESSAGE-----: Hash: lines
	arClearText    // the signed text
	arSigHeaders   // after -----BEGIN PGP SIGNATURE----- of a clearsigned text
	arSigBody      // base64 of that signature
	arSkip         // the rest of a decided block, up to -----END PGP
)

var (
	beginMessage     = []byte("-----BEGIN PGP MESSAGE-----")
	beginMessagePart = []byte("-----BEGIN PGP MESSAGE, PART ")
	beginSigned      = []byte("-----BEGIN PGP SIGNED MESSAGE-----")
	beginSignature   = []byte("-----BEGIN PGP SIGNATURE-----")
	armorEnd         = []byte("-----END PGP ")
)

// line takes one line (line ending and trailing white space removed); final
// marks the end of the text. A decided block is left in a.result.
func (a *armor) line(l []byte, final bool) {
	if final {
		switch a.state {
		case arMsgBody:
			a.decide(true, false)
		case arSigBody:
			a.decide(true, true)
		}
		a.state = arIdle
		return
	}
	switch a.state {
	case arIdle:
		a.begin(l)
	case arMsgHeaders, arSigHeaders:
		a.lines++
		switch {
		case len(l) == 0:
			a.state++ // to the body
		case isArmorHeader(l) && a.lines < 16:
		default:
			// No empty line after the headers: some writers omit it.
			a.state++
			a.line(l, false)
		}
	case arMsgBody, arSigBody:
		if bytes.HasPrefix(l, []byte("-----")) || (len(l) > 0 && l[0] == '=' && len(l) <= 5) {
			a.decide(true, a.state == arSigBody)
			if bytes.HasPrefix(l, armorEnd) {
				a.state = arIdle
			} else {
				a.state = arSkip
			}
			return
		}
		a.collect(l)
	case arClearHeaders:
		a.lines++
		switch {
		case len(l) == 0:
			a.state = arClearText
		case isArmorHeader(l) && a.lines < 16:
		default:
			a.state = arIdle // prose after a marker line: not a clearsigned text
			a.begin(l)
		}
	case arClearText:
		if bytes.Equal(l, beginSignature) {
			a.state, a.lines, a.n, a.nq = arSigHeaders, 0, 0, 0
		}
	case arSkip:
		if bytes.HasPrefix(l, armorEnd) {
			a.state = arIdle
		} else if bytes.HasPrefix(l, []byte("-----BEGIN PGP ")) {
			a.state = arIdle
			a.begin(l)
		}
	}
}

// begin starts a block when l is an armor header line.
func (a *armor) begin(l []byte) {
	switch {
	case bytes.Equal(l, beginMessage), bytes.HasPrefix(l, beginMessagePart):
		a.state, a.lines, a.n, a.nq = arMsgHeaders, 0, 0, 0
	case bytes.Equal(l, beginSigned):
		a.state, a.lines = arClearHeaders, 0
	}
}

// collect decodes the base64 of one armor line into buf; a line with
// anything but base64 ends the block undecided.
func (a *armor) collect(l []byte) {
	for _, c := range l {
		v := b64val[c]
		if v < 0 {
			switch c {
			case ' ', '\t':
				continue
			case '=':
				a.decide(true, a.state == arSigBody)
				a.state = arSkip
				return
			}
			a.state = arIdle // not base64: prose, not armor
			return
		}
		a.q[a.nq] = byte(v)
		a.nq++
		if a.nq == 4 {
			if a.n+3 <= len(a.buf) {
				a.buf[a.n], a.buf[a.n+1], a.buf[a.n+2] = a.q[0]<<2|a.q[1]>>4, a.q[1]<<4|a.q[2]>>2, a.q[2]<<6|a.q[3]
				a.n += 3
			}
			a.nq = 0
		}
	}
	if a.n >= 24 {
		a.decide(false, a.state == arSigBody)
	}
}

// decide classifies the packets collected so far. final says no more will come.
func (a *armor) decide(final, signature bool) {
	k := classifyPGP(a.buf[:a.n])
	if k == pgpNeedMore && !final {
		return
	}
	a.state = arSkip
	switch {
	case signature && k == pgpSignature:
		a.result, a.why = pgpSigned, "clearsigned OpenPGP text"
	case signature:
	case k == pgpEncrypted:
		a.result = pgpEncrypted
	case k == pgpSigned || k == pgpSignature:
		a.result, a.why = pgpSigned, "armored OpenPGP message with signed-data packets in a text part"
	}
}

// isArmorHeader reports whether l looks like an armor header ("Hash: SHA256").
func isArmorHeader(l []byte) bool {
	k, _, ok := bytes.Cut(l, []byte(": "))
	if !ok || len(k) == 0 || len(k) > 32 {
		return false
	}
	for _, c := range k {
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}
