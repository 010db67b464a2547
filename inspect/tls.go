package inspect

import "strings"

// TLSFromMacros reads the TLS state of the session from the MTA's macros
// (SPEC §2): {tls_version}, {cipher}, {cipher_bits}, {cert_subject} and
// Sendmail's {verify}. Names are accepted with or without braces. Received
// headers are never consulted: they can be forged upstream.
//
// seen says whether the MTA sent any macros at all in this session: with
// none, nothing can be said and the version is "unknown"; with some but no
// {tls_version}, the client did not use TLS and the version is "none".
func TLSFromMacros(macros map[string]string, seen bool) TLS {
	get := func(name string) string {
		if v, ok := macros["{"+name+"}"]; ok {
			return strings.TrimSpace(v)
		}
		return strings.TrimSpace(macros[name])
	}
	if !seen && len(macros) == 0 {
		return TLS{Version: TLSUnknown}
	}
	v := get("tls_version")
	if v == "" || strings.EqualFold(v, "none") {
		return TLS{Version: TLSNone}
	}
	t := TLS{Version: v, Cipher: get("cipher"), Bits: get("cipher_bits")}
	if subj := get("cert_subject"); subj != "" {
		t.ClientCert = subj
		t.Verify = get("verify")
	}
	return t
}
