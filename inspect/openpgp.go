package inspect

// pgpKind is what the first OpenPGP packet of a message says about it.
type pgpKind int

const (
	pgpUnknown   pgpKind = iota // not OpenPGP, or nothing that decides
	pgpNeedMore                 // valid so far, but the data ends too early
	pgpEncrypted                // PKESK, SKESK, SED, SEIPD, OCB: encrypted content
	pgpSigned                   // one-pass signature, compressed or literal data: readable, signed
	pgpSignature                // a signature packet first (detached signature, or an old-style signed message)
	pgpKey                      // a key packet: a key, not a message
)

// OpenPGP packet tags, RFC 9580 §5 (tag 20 is LibrePGP's OCB encrypted data).
const (
	tagPKESK       = 1
	tagSignature   = 2
	tagSKESK       = 3
	tagOnePassSig  = 4
	tagSecretKey   = 5
	tagPublicKey   = 6
	tagSecretSub   = 7
	tagCompressed  = 8
	tagSED         = 9
	tagMarker      = 10
	tagLiteral     = 11
	tagPublicSub   = 14
	tagSEIPD       = 18
	tagOCBEncryted = 20
)

// classifyPGP decides from the first packet of binary OpenPGP data (RFC 9580
// §4.3) whether it is an encrypted or a signed message. A marker packet is
// skipped. The version octet after the header is checked where the packet
// has one, so random bytes or a base64-looking word rarely pass.
func classifyPGP(b []byte) pgpKind {
	for hops := 0; hops < 2; hops++ {
		if len(b) == 0 {
			return pgpNeedMore
		}
		if b[0]&0x80 == 0 {
			return pgpUnknown
		}
		tag, hdr, length, ok := pgpPacketHeader(b)
		if !ok {
			if len(b) < 6 {
				return pgpNeedMore
			}
			return pgpUnknown
		}
		body := b[hdr:]
		if tag == tagMarker {
			// RFC 9580 §5.8: the body is "PGP"; ignore it and read on.
			if length != 3 {
				return pgpUnknown
			}
			if len(body) < 3 {
				return pgpNeedMore
			}
			if string(body[:3]) != "PGP" {
				return pgpUnknown
			}
			b = body[3:]
			continue
		}
		if len(body) < 1 {
			return pgpNeedMore
		}
		v := body[0]
		switch tag {
		case tagPKESK:
			if v == 3 || v == 6 {
				return pgpEncrypted
			}
		case tagSKESK:
			if v == 4 || v == 5 || v == 6 {
				return pgpEncrypted
			}
		case tagSEIPD:
			if v == 1 || v == 2 {
				return pgpEncrypted
			}
		case tagOCBEncryted:
			if v == 1 {
				return pgpEncrypted
			}
		case tagSED:
			return pgpEncrypted // no version octet: ciphertext from the first byte
		case tagOnePassSig:
			if v == 3 || v == 6 {
				return pgpSigned
			}
		case tagCompressed:
			if v <= 3 { // uncompressed, ZIP, ZLIB, BZip2
				return pgpSigned
			}
		case tagLiteral:
			switch v {
			case 'b', 't', 'u', 'l', '1', 'm':
				return pgpSigned
			}
		case tagSignature:
			if v == 3 || v == 4 || v == 5 || v == 6 {
				return pgpSignature
			}
		case tagPublicKey, tagSecretKey, tagPublicSub, tagSecretSub:
			if v >= 2 && v <= 6 {
				return pgpKey
			}
		}
		return pgpUnknown
	}
	return pgpUnknown
}

// pgpPacketHeader parses a packet header in either format (RFC 9580 §4.2).
// It returns the tag, the header length and the body length (-1 when the
// length is partial or indeterminate).
func pgpPacketHeader(b []byte) (tag, hdr, length int, ok bool) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return 0, 0, 0, false
	}
	if b[0]&0x40 != 0 { // OpenPGP (new) format
		tag = int(b[0] & 0x3f)
		switch l := b[1]; {
		case l < 192:
			return tag, 2, int(l), tag != 0
		case l < 224:
			if len(b) < 3 {
				return 0, 0, 0, false
			}
			return tag, 3, (int(l)-192)<<8 + int(b[2]) + 192, tag != 0
		case l == 255:
			if len(b) < 6 {
				return 0, 0, 0, false
			}
			return tag, 6, int(b[2])<<24 | int(b[3])<<16 | int(b[4])<<8 | int(b[5]), tag != 0
		default: // partial body length
			return tag, 2, -1, tag != 0
		}
	}
	tag = int(b[0]>>2) & 0x0f // legacy format
	switch b[0] & 3 {
	case 0:
		return tag, 2, int(b[1]), tag != 0
	case 1:
		if len(b) < 3 {
			return 0, 0, 0, false
		}
		return tag, 3, int(b[1])<<8 | int(b[2]), tag != 0
	case 2:
		if len(b) < 5 {
			return 0, 0, 0, false
		}
		return tag, 5, int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]), tag != 0
	default:
		return tag, 1, -1, tag != 0
	}
}
