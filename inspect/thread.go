package inspect

import (
	"strings"
	"unicode"
)

// replyPrefixes are the subject prefixes mail clients write on a reply, in
// lower case (SPEC §2 names Re, AW, SV, VS, Antw, Odp, YNT; the others are
// the localised forms of Outlook, Thunderbird and Apple Mail).
var replyPrefixes = map[string]bool{
	"re": true, "aw": true, "sv": true, "vs": true, "antw": true, "odp": true, "ynt": true,
	"r": true, "rif": true, "res": true, "ref": true, "réf": true, "odg": true, "atb": true,
	"ats": true, "vá": true, "απ": true, "σχετ": true, "השב": true, "回复": true,
	"回覆": true, "答复": true, "答覆": true, "відп": true, "отв": true, "ответ": true, "yanıt": true,
}

// forwardPrefixes start a new conversation (SPEC §2: Fwd, WG, TR, RV).
var forwardPrefixes = map[string]bool{
	"fwd": true, "fw": true, "wg": true, "tr": true, "rv": true, "enc": true, "doorst": true,
	"vl": true, "pd": true, "i": true, "ilt": true, "İlt": true, "fs": true, "προωθ": true, "转发": true, "轉寄": true,
}

// classifyThread decides the thread state (SPEC §2): reply when the
// message carries In-Reply-To or References, broken when its subject says
// it is a reply but neither header survived, new otherwise.
func classifyThread(subject string, threaded bool, risks []string) Thread {
	t := Thread{State: ThreadNew, Risks: risks}
	switch {
	case threaded:
		t.State = ThreadReply
	case subjectIsReply(decodeWords(subject)):
		t.State = ThreadBroken
	}
	return t
}

// subjectIsReply reports whether the first prefix of a subject is a reply
// prefix: "Re:", "RE :", "Re[2]:", "Re(2):", "Re^2:", "AW:", also after
// mailing-list tags like "[support]". A forward prefix first means a new
// conversation ("Fwd: Re: …").
func subjectIsReply(s string) bool {
	for i := 0; i < 8; i++ {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if strings.HasPrefix(s, "[") {
			// a list tag "[support]", unless it is a counter like "[2]"
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return false
			}
			s = s[end+1:]
			continue
		}
		break
	}
	word := s
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if end >= 0 {
		word = s[:end]
	} else {
		return false
	}
	if word == "" || end > 12 {
		return false
	}
	rest := s[end:]
	// an optional counter: [2], (2), ^2
	switch {
	case strings.HasPrefix(rest, "["), strings.HasPrefix(rest, "("):
		close := "]"
		if rest[0] == '(' {
			close = ")"
		}
		k := strings.Index(rest, close)
		if k < 0 || k > 6 {
			return false
		}
		rest = rest[k+1:]
	case strings.HasPrefix(rest, "^"):
		rest = strings.TrimLeft(rest[1:], "0123456789")
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, ":") && !strings.HasPrefix(rest, "：") {
		return false
	}
	w := strings.ToLower(word)
	if forwardPrefixes[w] || forwardPrefixes[word] {
		return false
	}
	return replyPrefixes[w]
}
