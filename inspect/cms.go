package inspect

import "bytes"

// cmsKind is what the ContentInfo at the start of a CMS blob says (RFC 5652 §3).
type cmsKind int

const (
	cmsUnknown       cmsKind = iota // not CMS, or a content type sealtag does not class
	cmsNeedMore                     // valid so far; more bytes are needed
	cmsEnveloped                    // enveloped-data, authEnveloped-data or encrypted-data
	cmsSignedContent                // signed-data that carries its content (opaque signed)
	cmsSignedEmpty                  // signed-data without content: certs-only or a detached signature
)

// Content type OIDs, DER-encoded without tag and length.
var (
	oidEnvelopedData     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}             // 1.2.840.113549.1.7.3
	oidSignedData        = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}             // 1.2.840.113549.1.7.2
	oidEncryptedData     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06}             // 1.2.840.113549.1.7.6
	oidAuthEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17} // 1.2.840.113549.1.9.16.1.23
)

// berReader walks BER/DER TLVs in a prefix of a blob. Definite and indefinite
// lengths are accepted (S/MIME agents send both).
type berReader struct {
	b   []byte
	off int
}

// next reads a tag and length; indefinite length is returned as -1. ok is
// false when the header is cut off or malformed.
func (r *berReader) next() (tag byte, length int, ok bool) {
	if r.off+2 > len(r.b) {
		return 0, 0, false
	}
	tag = r.b[r.off]
	if tag&0x1f == 0x1f { // multi-byte tags do not occur in ContentInfo
		return 0, 0, false
	}
	l := r.b[r.off+1]
	r.off += 2
	switch {
	case l < 0x80:
		return tag, int(l), true
	case l == 0x80:
		return tag, -1, true
	default:
		n := int(l & 0x7f)
		if n > 4 || r.off+n > len(r.b) {
			return 0, 0, false
		}
		length = 0
		for i := 0; i < n; i++ {
			length = length<<8 | int(r.b[r.off+i])
		}
		r.off += n
		return tag, length, true
	}
}

// skip moves past length bytes of content.
func (r *berReader) skip(length int) bool {
	if length < 0 || r.off+length > len(r.b) {
		return false
	}
	r.off += length
	return true
}

// classifyCMS reads the ContentInfo at the start of der. For signed-data it
// looks into EncapsulatedContentInfo to tell opaque-signed content from a
// certs-only message, which carries no eContent (RFC 8551 §3.6).
func classifyCMS(der []byte) cmsKind {
	r := berReader{b: der}
	if tag, _, ok := r.next(); !ok {
		return need(der)
	} else if tag != 0x30 {
		return cmsUnknown
	}
	tag, l, ok := r.next()
	if !ok {
		return need(der)
	}
	if tag != 0x06 || l <= 0 || l > 16 {
		return cmsUnknown
	}
	if r.off+l > len(der) {
		return cmsNeedMore
	}
	oid := der[r.off : r.off+l]
	r.off += l
	switch {
	case bytes.Equal(oid, oidEnvelopedData), bytes.Equal(oid, oidAuthEnvelopedData), bytes.Equal(oid, oidEncryptedData):
		return cmsEnveloped
	case !bytes.Equal(oid, oidSignedData):
		return cmsUnknown
	}
	// content [0] EXPLICIT SignedData
	if tag, _, ok := r.next(); !ok {
		return cmsNeedMore
	} else if tag != 0xa0 {
		return cmsUnknown
	}
	if tag, _, ok := r.next(); !ok { // SignedData SEQUENCE
		return cmsNeedMore
	} else if tag != 0x30 {
		return cmsUnknown
	}
	if tag, l, ok := r.next(); !ok { // version INTEGER
		return cmsNeedMore
	} else if tag != 0x02 {
		return cmsUnknown
	} else if !r.skip(l) {
		return cmsNeedMore
	}
	tag, l, ok = r.next() // digestAlgorithms SET
	if !ok {
		return cmsNeedMore
	}
	if tag != 0x31 {
		return cmsUnknown
	}
	if l < 0 {
		if !skipIndefinite(&r) {
			return cmsNeedMore
		}
	} else if !r.skip(l) {
		return cmsNeedMore
	}
	tag, l, ok = r.next() // encapContentInfo SEQUENCE
	if !ok {
		return cmsNeedMore
	}
	if tag != 0x30 {
		return cmsUnknown
	}
	start := r.off
	otag, ol, ok := r.next() // eContentType OID
	if !ok || otag != 0x06 || !r.skip(ol) {
		return cmsNeedMore
	}
	if l >= 0 && r.off-start >= l {
		return cmsSignedEmpty // the SEQUENCE holds the OID only
	}
	if r.off+2 > len(der) {
		return cmsNeedMore
	}
	switch der[r.off] {
	case 0xa0:
		return cmsSignedContent
	case 0x00:
		if l < 0 && der[r.off+1] == 0x00 { // end-of-contents: no eContent
			return cmsSignedEmpty
		}
	}
	return cmsUnknown
}

// need says whether a too-short blob could still be CMS.
func need(der []byte) cmsKind {
	if len(der) == 0 || der[0] == 0x30 {
		return cmsNeedMore
	}
	return cmsUnknown
}

// skipIndefinite skips TLVs up to and including an end-of-contents marker.
func skipIndefinite(r *berReader) bool {
	for depth := 0; depth < 64; depth++ {
		if r.off+2 > len(r.b) {
			return false
		}
		if r.b[r.off] == 0 && r.b[r.off+1] == 0 {
			r.off += 2
			return true
		}
		_, l, ok := r.next()
		if !ok {
			return false
		}
		if l < 0 {
			if !skipIndefinite(r) {
				return false
			}
			continue
		}
		if !r.skip(l) {
			return false
		}
	}
	return false
}
