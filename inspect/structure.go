package inspect

import "strings"

// This file holds the structural rules: which MIME shapes earn which class
// (SPEC §2). The scanner calls them at the end of each part's header.

// encryptedProtocol maps the protocol parameter of multipart/encrypted.
func encryptedProtocol(p string) Class {
	switch normalizeType(p) {
	case "application/pgp-encrypted": // RFC 3156 §4
		return ClassPGPEncrypted
	case "application/pkcs7-mime": // not standard, but seen from gateways
		return ClassSMIMEEncrypted
	}
	return ""
}

// signedProtocol maps the protocol parameter of multipart/signed, or the
// content type of its second part when the parameter is missing.
func signedProtocol(p string) Class {
	switch normalizeType(p) {
	case "application/pgp-signature": // RFC 3156 §5
		return ClassPGPSigned
	case "application/pkcs7-signature": // RFC 8551 §3.5.3
		return ClassSMIMESigned
	}
	return ""
}

// normalizeType lower-cases a media type and drops the x- of application/x-…
// (RFC 8551 §3.7 tells agents to accept both spellings).
func normalizeType(t string) string {
	t = strings.ToLower(strings.Trim(strings.TrimSpace(t), `"'`))
	if rest, ok := strings.CutPrefix(t, "application/x-"); ok {
		return "application/" + rest
	}
	return t
}

// container classes a multipart at the end of its header.
func (s *Scanner) container(e *entity) {
	switch e.ctype.value {
	case "multipart/encrypted":
		e.opaqueKids = true // ciphertext and a control part: nothing readable inside
		proto := e.ctype.get("protocol")
		if c := encryptedProtocol(proto); c != "" {
			e.protoKnown = true
			s.addFinding(e, c, "multipart/encrypted protocol="+normalizeType(proto))
		}
	case "multipart/signed":
		e.signedKids = true
		proto := e.ctype.get("protocol")
		if c := signedProtocol(proto); c != "" {
			e.protoKnown = true
			s.addFinding(e, c, "multipart/signed protocol="+normalizeType(proto))
		}
	}
}

// childOf applies a parent's rules to a child whose header was just read.
func (s *Scanner) childOf(p, e *entity) {
	ct := normalizeType(e.ctype.value)
	switch {
	case p.ctype.value == "multipart/encrypted" && p.children == 1 && !p.protoKnown:
		// No usable protocol parameter: the control part names it.
		p.protoKnown = true
		switch ct {
		case "application/pgp-encrypted":
			s.addFinding(p, ClassPGPEncrypted, "multipart/encrypted with an application/pgp-encrypted part")
		case "application/pkcs7-mime":
			s.addFinding(p, ClassSMIMEEncrypted, "multipart/encrypted with an application/pkcs7-mime part")
		}
	case p.signedKids && p.children == 2:
		e.analyze = false // the signature itself
		if !p.protoKnown {
			p.protoKnown = true
			if c := signedProtocol(ct); c != "" {
				s.addFinding(p, c, "multipart/signed with an "+ct+" part")
			}
		}
	case p.signedKids && p.children > 2:
		e.analyze = false // not part of RFC 1847; never signed content
	}
}

// leaf sets up the inspection of a part that holds content.
func (s *Scanner) leaf(e *entity, ct string) {
	name := e.filename()
	if c, why := vendorWrapper(ct, name); c != "" {
		if why == omeLegacyWrapper {
			// Earns the class only beside Microsoft's notice (endMessage).
			msg := s.message()
			scope := ScopeOuter
			if e.nested {
				scope = ScopeNested
			}
			msg.omeHTML = Finding{Class: c, Scope: scope, Depth: e.depth, Part: e.part, Why: why}
			// read the wrapper as text: its portal markers confirm it too
			s.startSink(e, s.text.start(s, e, "text/html", e.ctype.get("charset")))
			s.text.omeWrapper = true
			return
		}
		s.addFinding(e, c, why)
		return
	}
	nct := normalizeType(ct)
	switch {
	case nct == "application/pkcs7-mime":
		switch t := strings.ToLower(strings.TrimSpace(e.ctype.get("smime-type"))); t {
		case "enveloped-data", "authenveloped-data": // RFC 8551 §3.2.2, RFC 5083
			s.addFinding(e, ClassSMIMEEncrypted, "application/pkcs7-mime smime-type="+t)
			return
		case "signed-data":
			s.addFinding(e, ClassSMIMESignedOpaque, "application/pkcs7-mime smime-type="+t)
			return
		case "certs-only", "compressed-data":
			return // nothing hidden, nothing signed
		}
		s.startSink(e, s.attach.start(s, e, hintCMS, "application/pkcs7-mime without smime-type"))
	case strings.HasSuffix(name, ".p7m") && !isTextType(nct):
		s.startSink(e, s.attach.start(s, e, hintCMS, "a part named *.p7m"))
	case nct == "application/pgp-encrypted":
		s.startSink(e, s.attach.start(s, e, hintPGPControl, "application/pgp-encrypted outside multipart/encrypted"))
	case isTextType(nct):
		s.startSink(e, s.text.start(s, e, nct, e.ctype.get("charset")))
	case isMessageType(nct) || strings.HasSuffix(name, ".eml"):
		// An enclosed message sent base64 or quoted-printable (Outlook
		// attaches .eml files so): decode it and walk it like rfc822.
		if ns := s.nestedSink(e); ns != nil {
			s.startSink(e, ns)
		}
	default:
		hint := hintNone
		switch {
		case strings.HasSuffix(name, ".gpg"), strings.HasSuffix(name, ".pgp"), strings.HasSuffix(name, ".asc"):
			hint = hintPGPFile
		}
		s.startSink(e, s.attach.start(s, e, hint, ""))
	}
}

// isTextType reports whether a part is text that a person reads, where
// inline OpenPGP lives: plain and HTML text, and the old application/pgp
// of "traditional" PGP clients.
func isTextType(ct string) bool {
	switch ct {
	case "text/plain", "text/html", "text/enriched", "text/richtext", "application/pgp", "text/x-pgp":
		return true
	}
	return false
}

// endMessage applies the rules that need a whole message: the legacy OME
// wrapper is a message.html attachment beside Microsoft's notice.
func (s *Scanner) endMessage(e *entity) {
	if e.ome.confirmed() && e.omeHTML.Class != "" {
		for _, f := range s.findings {
			if f.Class == e.omeHTML.Class && f.Part == e.omeHTML.Part {
				return
			}
		}
		s.findings = append(s.findings, e.omeHTML)
	}
}
