package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Reply codes sealtag sends (RFC 5321 §4.2.3) with their enhanced status
// codes (RFC 3463 §3.8: X.7.1 "delivery not authorized, message refused";
// §3.4: X.3.0 "other or undefined mail system status").
const (
	CodeTempFail = 451 // RFC 5321: requested action aborted, local error
	CodeReject   = 550 // RFC 5321: requested action not taken, policy

	EnhancedPolicyTempFail = "4.7.1"
	EnhancedPolicyReject   = "5.7.1"
	EnhancedInternalError  = "4.3.0"
)

// Default replies, used when a rule names none.
var (
	DefaultRejectReply   = Reply{CodeReject, EnhancedPolicyReject, "Message refused by the recipient's mail policy"}
	DefaultTempFailReply = Reply{CodeTempFail, EnhancedPolicyTempFail, "Message deferred by the recipient's mail policy, please try again later"}
	// InternalErrorReply is what the sender sees when sealtag fails and
	// on_error is tempfail: nothing about the cause.
	InternalErrorReply = Reply{CodeTempFail, EnhancedInternalError, "Temporary local problem, please try again later"}
)

// maxReplyText keeps a reply line within RFC 5321's 512 octets.
const maxReplyText = 400

// Reply is the SMTP reply a sender sees for a refused message. What the log
// says about the reason is kept apart, in Verdict.Reason.
type Reply struct {
	Code     int    // 4xx or 5xx
	Enhanced string // RFC 3463 class.subject.detail, e.g. 5.7.1
	Text     string
}

// String renders the reply as the milter sends it: "550 5.7.1 text".
func (r Reply) String() string {
	return strconv.Itoa(r.Code) + " " + r.Enhanced + " " + r.Text
}

// ParseReply reads "550 5.7.1 text". The reply must be a single line of
// printable ASCII, its code 4xx or 5xx, and its enhanced code of the same
// class (RFC 3463 §2: the first digit of both agree).
func ParseReply(s string) (Reply, error) {
	code, rest, _ := strings.Cut(s, " ")
	enh, text, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || (code[0] != '4' && code[0] != '5') || code[1] > '5' {
		return Reply{}, fmt.Errorf("reply %q must start with a 4xx or 5xx code, e.g. \"550 5.7.1 text\"", s)
	}
	if !validEnhanced(enh) {
		return Reply{}, fmt.Errorf("reply %q needs an enhanced status code after %s (RFC 3463), e.g. \"%c.7.1\"", s, code, code[0])
	}
	if enh[0] != code[0] {
		return Reply{}, fmt.Errorf("reply %q: enhanced code %s does not match the class of %s", s, enh, code)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return Reply{}, fmt.Errorf("reply %q has no text for the sender", s)
	}
	if len(text) > maxReplyText {
		return Reply{}, fmt.Errorf("reply text is %d characters, at most %d fit an SMTP reply line", len(text), maxReplyText)
	}
	for _, c := range []byte(text) {
		if c < 0x20 || c > 0x7e {
			return Reply{}, fmt.Errorf("reply %q: only printable ASCII on one line can be sent in an SMTP reply", s)
		}
		if c == '%' {
			return Reply{}, fmt.Errorf("reply %q: %% is not allowed (Sendmail reads reply text as a format string)", s)
		}
	}
	return Reply{Code: n, Enhanced: enh, Text: text}, nil
}

// validEnhanced checks class.subject.detail (RFC 3463 §2): class 2, 4 or 5,
// subject and detail of one to three digits.
func validEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for _, c := range []byte(p) {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}
