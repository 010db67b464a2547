package inspect

import (
	"bytes"
	"encoding/binary"
)

// sniffHint is what a part's header says its content may be.
type sniffHint int

const (
	hintNone       sniffHint = iota
	hintCMS                  // application/pkcs7-mime without smime-type, or *.p7m
	hintPGPControl           // application/pgp-encrypted outside multipart/encrypted
	hintPGPFile              // *.gpg, *.pgp, *.asc
)

const (
	headSize   = 1024      // bytes looked at for magic numbers and CMS/OpenPGP headers
	zipTailMax = 128 << 10 // a ZIP's end: central directory of up to ~1000 entries
)

// attachSink sniffs a non-text part: S/MIME blobs by their CMS content type,
// OpenPGP files by their first packet, and the containers that can be
// encrypted on their own — ZIP (general-purpose flag bit 0, APPNOTE 4.4.4),
// PDF (/Encrypt in the trailer, ISO 32000-1 §7.5.5, see pdfScan), OLE2 compound files
// holding an EncryptedPackage stream (MS-OFFCRYPTO §2.3.4, encrypted OOXML).
// It stops decoding as soon as the content cannot matter.
type attachSink struct {
	s    *Scanner
	e    *entity
	hint sniffHint
	why  string

	mode  int
	head  []byte
	total int64

	tail   []byte // ZIP: the last zipTailMax bytes, as a ring
	tailAt int
	flat   []byte // the ring in order, for reading the central directory
	search streamSearch
	pdf    pdfScan
	armor  armor
	line   []byte
}

const (
	modeHead  = iota // collecting the first headSize bytes
	modeZIP          // keeping the tail for the central directory
	modePDF          // looking for /Encrypt
	modeOLE          // looking for the EncryptedPackage stream name
	modeArmor        // an armored OpenPGP file
	modeDone
)

var (
	magicZIP = []byte("PK\x03\x04")
	magicPDF = []byte("%PDF-")
	magicOLE = []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}
	// "EncryptedPackage" as an OLE2 directory entry name (UTF-16LE).
	oleEncryptedPackage = []byte("E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e\x00")
)

// start prepares the sink for part e.
func (a *attachSink) start(s *Scanner, e *entity, hint sniffHint, why string) byteSink {
	*a = attachSink{s: s, e: e, hint: hint, why: why, head: a.head[:0], tail: a.tail[:0], flat: a.flat[:0], line: a.line[:0], search: a.search}
	return a
}

func (a *attachSink) write(p []byte) bool {
	a.total += int64(len(p))
	switch a.mode {
	case modeHead:
		n := min(len(p), headSize-len(a.head))
		a.head = append(a.head, p[:n]...)
		if len(a.head) < headSize {
			return true
		}
		if !a.decide(false) {
			return false
		}
		// the head was consumed by decide; go on with the rest of p
		return a.more(p[n:], false)
	case modeDone:
		return false
	}
	return a.more(p, false)
}

// more feeds content after the head to the mode's scanner; final says the
// part ends here.
func (a *attachSink) more(p []byte, final bool) bool {
	switch a.mode {
	case modeZIP:
		a.keepTail(p)
		if final && a.zipEncrypted() {
			a.found(ClassEncryptedAttachment, "ZIP archive with encrypted entries")
		}
	case modePDF:
		if a.pdf.feed(p) {
			a.found(ClassEncryptedAttachment, "PDF with an /Encrypt dictionary")
		}
	case modeOLE:
		if a.search.feed(p, final, func([]byte) bool { return true }) {
			a.found(ClassEncryptedAttachment, "OLE2 compound file with an EncryptedPackage stream (encrypted Office document)")
		}
	case modeArmor:
		a.armorLines(p, final)
	}
	if final {
		a.mode = modeDone
	}
	return a.mode != modeDone
}

func (a *attachSink) end() {
	if a.mode == modeHead {
		a.decide(true)
		return
	}
	if a.mode != modeDone {
		a.more(nil, true)
	}
}

// found records the class and stops.
func (a *attachSink) found(c Class, why string) {
	a.s.addFinding(a.e, c, why)
	a.mode = modeDone
}

// decide looks at the head (final: the part ended within it) and picks a
// mode. It returns false when nothing more needs to be read.
func (a *attachSink) decide(final bool) bool {
	h := a.head
	switch a.hint {
	case hintCMS:
		switch classifyCMS(h) {
		case cmsEnveloped:
			a.found(ClassSMIMEEncrypted, a.why+": CMS enveloped-data")
		case cmsSignedContent:
			a.found(ClassSMIMESignedOpaque, a.why+": CMS signed-data")
		}
		if a.mode == modeDone {
			return false
		}
		// certs-only, a detached signature, or not CMS: a file like others
	case hintPGPControl:
		// RFC 3156 §4: the control part holds "Version: 1". A client that
		// split multipart/encrypted into attachments (Exchange, Apple Mail)
		// leaves it beside the ciphertext.
		if bytes.HasPrefix(bytes.ToLower(bytes.TrimLeft(h, " \t\r\n")), []byte("version:")) {
			if p := a.s.parent(); p != nil {
				p.pgpMangled = true
			}
			a.found(ClassPGPEncrypted, "application/pgp-encrypted control part outside multipart/encrypted")
			return false
		}
	}

	trimmed := bytes.TrimLeft(h, " \t\r\n")
	switch {
	case bytes.HasPrefix(trimmed, beginMessage[:22]): // "-----BEGIN PGP MESSAGE"
		a.mode = modeArmor
		return a.more(h, final)
	case a.hint == hintPGPFile || a.hint == hintPGPControl:
		if classifyPGP(h) == pgpEncrypted {
			a.encryptedPGP("OpenPGP encrypted file")
		}
	case bytes.HasPrefix(h, magicZIP):
		if len(h) >= 8 && binary.LittleEndian.Uint16(h[6:8])&1 != 0 {
			a.found(ClassEncryptedAttachment, "ZIP archive with encrypted entries")
			return false
		}
		a.mode = modeZIP
		return a.more(h, final)
	case bytes.HasPrefix(h, magicOLE):
		a.mode = modeOLE
		a.search.reset(oleEncryptedPackage)
		return a.more(h, final)
	case bytes.Contains(h, magicPDF):
		a.mode = modePDF
		a.pdf = pdfScan{carry: a.pdf.carry[:0]}
		return a.more(h, final)
	}
	a.mode = modeDone
	return false
}

// encryptedPGP records an OpenPGP-encrypted file, unless it is the payload of
// a PGP/MIME message whose structure a client took apart (counted already).
func (a *attachSink) encryptedPGP(why string) {
	if p := a.s.parent(); p != nil && p.pgpMangled {
		a.mode = modeDone
		return
	}
	a.found(ClassEncryptedAttachment, why)
}

// armorLines feeds an armored file to the armor reader.
func (a *attachSink) armorLines(p []byte, final bool) {
	for len(p) > 0 && a.mode == modeArmor {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(a.line)+len(p) <= maxTextLine {
				a.line = append(a.line, p...)
			}
			break
		}
		if len(a.line)+i <= maxTextLine {
			a.line = append(a.line, p[:i]...)
		}
		a.armor.line(bytes.TrimRight(a.line, " \t\r"), false)
		a.line = a.line[:0]
		p = p[i+1:]
		a.armorResult()
	}
	if final && a.mode == modeArmor {
		if len(a.line) > 0 {
			a.armor.line(bytes.TrimRight(a.line, " \t\r"), false)
		}
		a.armor.line(nil, true)
		a.armorResult()
	}
}

func (a *attachSink) armorResult() {
	switch a.armor.result {
	case pgpEncrypted:
		a.encryptedPGP("armored OpenPGP encrypted file")
		a.mode = modeDone
	case pgpSigned, pgpSignature:
		a.mode = modeDone // a signed file can be read
	}
	a.armor.result = pgpUnknown
}

// keepTail remembers the last zipTailMax bytes of a ZIP archive.
func (a *attachSink) keepTail(p []byte) {
	if len(p) >= zipTailMax {
		a.tail = append(a.tail[:0], p[len(p)-zipTailMax:]...)
		a.tailAt = 0
		return
	}
	if len(a.tail) < zipTailMax {
		n := min(len(p), zipTailMax-len(a.tail))
		a.tail = append(a.tail, p[:n]...)
		p = p[n:]
	}
	for len(p) > 0 {
		n := copy(a.tail[a.tailAt:], p)
		a.tailAt = (a.tailAt + n) % zipTailMax
		p = p[n:]
	}
}

// zipEncrypted reads the end of central directory record and the central
// directory (APPNOTE 4.3.12, 4.3.16) from the tail and reports whether any
// entry has the encryption flag. An archive whose directory does not fit
// the tail is judged by the entries that do.
func (a *attachSink) zipEncrypted() bool {
	t := a.tail
	if len(t) == zipTailMax && a.tailAt != 0 {
		a.flat = append(append(a.flat[:0], t[a.tailAt:]...), t[:a.tailAt]...)
		t = a.flat
	}
	// The end of central directory record is the last 22 bytes plus a
	// comment of at most 65535 (APPNOTE 4.3.16); it is usually at the very end.
	eocd := -1
	for i := len(t) - 22; i >= 0 && i >= len(t)-22-65535; i-- {
		if t[i] == 'P' && t[i+1] == 'K' && t[i+2] == 5 && t[i+3] == 6 {
			eocd = i
			break
		}
	}
	if eocd < 0 {
		return false
	}
	size := int(binary.LittleEndian.Uint32(t[eocd+12:]))
	start := eocd - size
	if size <= 0 || size > eocd {
		start = 0 // directory larger than the tail: read what is there
	}
	for off := start; off+46 <= eocd; {
		if !bytes.Equal(t[off:off+4], []byte("PK\x01\x02")) {
			i := bytes.Index(t[off+1:eocd], []byte("PK\x01\x02"))
			if i < 0 {
				break
			}
			off += 1 + i
			continue
		}
		if binary.LittleEndian.Uint16(t[off+8:])&1 != 0 {
			return true
		}
		n := int(binary.LittleEndian.Uint16(t[off+28:])) + int(binary.LittleEndian.Uint16(t[off+30:])) + int(binary.LittleEndian.Uint16(t[off+32:]))
		off += 46 + n
	}
	return false
}

// streamSearch finds a pattern in a stream that arrives in pieces and hands
// each hit the bytes that follow it, so the caller can check the context.
type streamSearch struct {
	pat  []byte
	win  []byte // unjudged bytes: a possible split match and the context of a hit
	next int    // offset in win where the search goes on
}

// contextLen is how many bytes after a hit are handed to the hit function.
const contextLen = 32

func (s *streamSearch) reset(pat []byte) {
	s.pat, s.win, s.next = pat, s.win[:0], 0
}

// feed searches p; hit is called for each occurrence with what follows it
// (contextLen bytes, fewer at the end) and returns true to stop. final says
// no more bytes will come. feed returns true when hit stopped it.
func (s *streamSearch) feed(p []byte, final bool, hit func(after []byte) bool) bool {
	s.win = append(s.win, p...)
	limit := len(s.win) - len(s.pat) - contextLen // a hit starting before it has its full context
	if final {
		limit = len(s.win)
	}
	for s.next < len(s.win) {
		j := bytes.Index(s.win[s.next:], s.pat)
		if j < 0 {
			s.next = max(s.next, len(s.win)-len(s.pat)+1)
			break
		}
		at := s.next + j
		if at >= limit {
			s.next = at
			break
		}
		end := at + len(s.pat)
		if hit(s.win[end:min(len(s.win), end+contextLen)]) {
			return true
		}
		s.next = at + 1
	}
	// drop what was judged, keeping the window small
	if keep := max(0, min(s.next, limit)); keep > 0 {
		n := copy(s.win, s.win[keep:])
		s.win = s.win[:n]
		s.next -= keep
	}
	return false
}
