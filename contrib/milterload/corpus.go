package main

import (
	"bytes"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// header is one header field as Postfix's cleanup hands it to a milter:
// the name, and the value as written after the colon. Continuation lines
// are joined with LF ("a\n\tb"), line ends carry no CR.
type header struct {
	name, raw string
}

// value is what Postfix sends: one leading space stripped unless the milter
// asked for SMFIP_HDR_LEADSPC (Postfix milter8.c).
func (h header) value(leadingSpace bool) string {
	if !leadingSpace && strings.HasPrefix(h.raw, " ") {
		return h.raw[1:]
	}
	return h.raw
}

// message is a corpus file prepared once, before the clock starts.
type message struct {
	name    string
	size    int // bytes of the file
	from    string
	rcpts   []string
	headers []header
	body    []byte // CRLF line ends, as Postfix sends it
}

// maxRcpts bounds the envelope recipients taken from To/Cc.
const maxRcpts = 5

// loadCorpus reads every *.eml file directly in dir, sorted by name.
func loadCorpus(dir string) ([]*message, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("corpus %s: no *.eml files", dir)
	}
	sort.Strings(paths)
	msgs := make([]*message, 0, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, parseMessage(filepath.Base(p), raw))
	}
	return msgs, nil
}

// parseMessage splits a message into Postfix-style header fields and a
// CRLF body, and takes the envelope from Return-Path (which Postfix's
// message_drop_headers removes), From, To and Cc.
func parseMessage(name string, raw []byte) *message {
	m := &message{name: name, size: len(raw)}
	rest := raw
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if len(line) == 0 {
			rest = next // the empty line ends the header block
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(m.headers) > 0 {
			h := &m.headers[len(m.headers)-1]
			h.raw += "\n" + string(line)
			rest = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			break // not a header line: the body starts here (Postfix does the same)
		}
		m.headers = append(m.headers, header{
			name: string(bytes.TrimRight(line[:colon], " \t")),
			raw:  string(line[colon+1:]),
		})
		rest = next
	}
	m.body = toCRLF(rest)

	var kept []header
	var to []string
	var rp, fromAddr string
	rpSet := false
	for _, h := range m.headers {
		switch strings.ToLower(h.name) {
		case "return-path":
			if a := addrOf(h.raw); a != "" || strings.Contains(h.raw, "<>") {
				rp, rpSet = a, true // "<>" is the null sender of a bounce
			}
			continue
		case "from":
			if fromAddr == "" {
				fromAddr = addrOf(h.raw)
			}
		case "to", "cc":
			if list, err := mail.ParseAddressList(unfold(h.raw)); err == nil {
				for _, a := range list {
					to = append(to, a.Address)
				}
			}
		}
		kept = append(kept, h)
	}
	m.headers = kept
	if len(to) > maxRcpts {
		to = to[:maxRcpts]
	}
	if len(to) == 0 {
		to = []string{"postmaster@load.test"}
	}
	m.rcpts = to
	switch {
	case rpSet:
		m.from = rp
	case fromAddr != "":
		m.from = fromAddr
	default:
		m.from = "sender@load.test"
	}
	return m
}

// cutLine returns the first line without its LF or CRLF, and the rest.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte{'\r'}), nil
	}
	return bytes.TrimSuffix(b[:i], []byte{'\r'}), b[i+1:]
}

func unfold(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// addrOf is the address of a From or Return-Path value, "" if none.
func addrOf(v string) string {
	v = strings.TrimSpace(unfold(v))
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	if i, j := strings.IndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
		return v[i+1 : j]
	}
	return ""
}

// toCRLF converts bare LF line ends to CRLF and ends a non-empty body
// with a line end, as Postfix sends the body to a milter.
func toCRLF(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte{'\n'})+2)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			out = append(out, '\r', '\n')
			break
		}
		line := b[:i]
		out = append(out, line...)
		if len(line) == 0 || line[len(line)-1] != '\r' {
			out = append(out, '\r')
		}
		out = append(out, '\n')
		b = b[i+1:]
	}
	return out
}
