package inspect

import "testing"

func TestTLSFromMacros(t *testing.T) {
	tests := []struct {
		name   string
		macros map[string]string
		seen   bool
		want   string
	}{
		{"no macros at all", nil, false, "unknown"},
		{"macros but no TLS", map[string]string{"j": "mx.example.org", "{daemon_name}": "smtpd"}, true, "none"},
		{"seen, now empty (after a reset)", map[string]string{}, true, "none"},
		{"Postfix TLS 1.3", map[string]string{"{tls_version}": "TLSv1.3", "{cipher}": "TLS_AES_256_GCM_SHA384", "{cipher_bits}": "256"}, true,
			"TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256"},
		{"names without braces", map[string]string{"tls_version": "TLSv1.2", "cipher": "ECDHE-RSA-AES128-GCM-SHA256", "cipher_bits": "128"}, true,
			"TLSv1.2; cipher=ECDHE-RSA-AES128-GCM-SHA256; bits=128"},
		{"client certificate (Sendmail)", map[string]string{"{tls_version}": "TLSv1.3", "{cipher}": "TLS_AES_128_GCM_SHA256", "{cipher_bits}": "128",
			"{cert_subject}": "/C=DE/CN=mx.example.org", "{verify}": "OK"}, true,
			`TLSv1.3; cipher=TLS_AES_128_GCM_SHA256; bits=128; client-cert="/C=DE/CN=mx.example.org"; verify=OK`},
	}
	for _, tt := range tests {
		if got := TLSFromMacros(tt.macros, tt.seen).Value(); got != tt.want {
			t.Errorf("TLSFromMacros(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestQuoteValue(t *testing.T) {
	tests := map[string]string{
		"TLSv1.3":         "TLSv1.3",
		"a,b":             `"a,b"`,
		`say "hi"`:        `"say \"hi\""`,
		"line\r\nbreak":   `"linebreak"`,
		"/CN=x":           `"/CN=x"`,
		"smime-encrypted": "smime-encrypted",
	}
	for in, want := range tests {
		if got := QuoteValue(in); got != want {
			t.Errorf("QuoteValue(%q) = %s, want %s", in, got, want)
		}
	}
}
