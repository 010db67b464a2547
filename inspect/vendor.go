package inspect

import (
	"bytes"
	"regexp"
	"strings"
)

// Vendor wrappers: encrypted envelopes of commercial products, recognised
// by attachment name or content type. VENDORS.md lists each signature with
// its source; the README has the summary table.

// omeLegacyWrapper is the Why of the legacy OME wrapper; it only counts
// beside Microsoft's notice text (or its own portal markers).
const omeLegacyWrapper = "message.html attachment beside Microsoft's encrypted-message notice"

// ciscoSecureDoc matches Cisco Secure Email Encryption's envelope names:
// securedoc_20261125T101010.html, securedoc20100615193043.html, Securedoc.html.
var ciscoSecureDoc = regexp.MustCompile(`^securedoc(_?[0-9]{8}t?[0-9]{6})?\.html?$`)

// vendorWrapper returns the class a part earns by its name or type alone
// (name is lower-case).
func vendorWrapper(ct, name string) (Class, string) {
	switch {
	case ct == "application/x-microsoft-rpmsg-message": // MS-OXORMMS §2.2.3.2
		return ClassProprietaryOME, ct
	case name == "message.rpmsg" || name == "message_v2.rpmsg":
		return ClassProprietaryOME, "attachment " + name
	case strings.HasSuffix(name, ".rpmsg"):
		return ClassProprietaryOME, "attachment *.rpmsg"
	case name == "message.html":
		return ClassProprietaryOME, omeLegacyWrapper
	case name == "securemessageatt.html":
		return ClassProprietaryOther, "Proofpoint Encryption attachment SecureMessageAtt.html"
	case strings.HasPrefix(name, "securedoc") && ciscoSecureDoc.MatchString(name):
		return ClassProprietaryOther, "Cisco Secure Email Encryption attachment securedoc*.html"
	case strings.HasSuffix(name, ".tdf.html") || strings.HasSuffix(name, ".tdf"):
		return ClassProprietaryOther, "Virtru/OpenTDF attachment *.tdf(.html)"
	case name == "encrypted_message.htm" || name == "encrypted_message.html":
		return ClassProprietaryOther, "Trend Micro Email Encryption attachment Encrypted_Message.htm"
	case name == "gpgol_mime_structure.mime" || name == "gpgol_mime_structure.txt" || name == "gpgol_original_openpgp_message.txt":
		return ClassProprietaryOther, "GpgOL internal attachment " + name
	}
	return "", ""
}

// omeNotice tracks, for one message, the signs of Microsoft's legacy OME
// notice in its text parts and of the portal in the message.html wrapper.
// The notice is tenant-brandable, so besides the default phrases a text
// that names both "message.html" and an "encrypted message" counts.
type omeNotice struct {
	phrase, namesFile, namesEncrypted, wrapperMarker bool
}

var (
	omePhrases = [][]byte{
		[]byte("open the attachment (message.html)"),
		[]byte("message encryption by microsoft office 365"),
	}
	omeWrapperMarkers = [][]byte{
		[]byte("office365.com/encryption"),
		[]byte("view your encrypted message"),
	}
)

// line looks at one lower-cased text line; wrapper says it is from the
// message.html attachment itself.
func (o *omeNotice) line(lower []byte, wrapper bool) {
	if wrapper {
		for _, m := range omeWrapperMarkers {
			o.wrapperMarker = o.wrapperMarker || bytes.Contains(lower, m)
		}
		return
	}
	for _, p := range omePhrases {
		o.phrase = o.phrase || bytes.Contains(lower, p)
	}
	o.namesFile = o.namesFile || bytes.Contains(lower, []byte("message.html"))
	o.namesEncrypted = o.namesEncrypted || bytes.Contains(lower, []byte("encrypted message"))
}

// confirmed reports whether a message.html attachment is the OME wrapper.
func (o *omeNotice) confirmed() bool {
	return o.phrase || (o.namesFile && o.namesEncrypted) || o.wrapperMarker
}
