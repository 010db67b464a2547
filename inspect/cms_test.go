package inspect

import "testing"

func TestClassifyCMS(t *testing.T) {
	oid := func(o []byte) []byte { return append([]byte{0x06, byte(len(o))}, o...) }
	seq := func(parts ...[]byte) []byte {
		var body []byte
		for _, p := range parts {
			body = append(body, p...)
		}
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	tagged := func(tag byte, body []byte) []byte { return append([]byte{tag, byte(len(body))}, body...) }
	indefinite := func(tag byte, parts ...[]byte) []byte {
		b := []byte{tag, 0x80}
		for _, p := range parts {
			b = append(b, p...)
		}
		return append(b, 0, 0)
	}
	oidData := []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}
	version := []byte{0x02, 0x01, 0x01}
	digests := tagged(0x31, seq(oid([]byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01})))
	signed := func(encap []byte) []byte {
		return seq(oid(oidSignedData), tagged(0xa0, seq(version, digests, encap, tagged(0x31, nil))))
	}
	tests := []struct {
		name string
		in   []byte
		want cmsKind
	}{
		{"enveloped-data", seq(oid(oidEnvelopedData), tagged(0xa0, seq(version))), cmsEnveloped},
		{"authEnveloped-data", seq(oid(oidAuthEnvelopedData), tagged(0xa0, seq(version))), cmsEnveloped},
		{"enveloped-data, indefinite length (BER)", indefinite(0x30, oid(oidEnvelopedData)), cmsEnveloped},
		{"enveloped-data, long-form length", append([]byte{0x30, 0x82, 0x01, 0x00}, oid(oidEnvelopedData)...), cmsEnveloped},
		{"signed-data with content", signed(seq(oid(oidData), tagged(0xa0, tagged(0x04, []byte("hi"))))), cmsSignedContent},
		{"certs-only: signed-data without content", signed(seq(oid(oidData))), cmsSignedEmpty},
		{"signed-data, BER, no content", seq(oid(oidSignedData), indefinite(0xa0, indefinite(0x30, version, indefinite(0x31), indefinite(0x30, oid(oidData))))), cmsSignedEmpty},
		{"signed-data, BER, content", seq(oid(oidSignedData), indefinite(0xa0, indefinite(0x30, version, indefinite(0x31), indefinite(0x30, oid(oidData), indefinite(0xa0))))), cmsSignedContent},
		{"data", seq(oid(oidData)), cmsUnknown},
		{"not DER", []byte("-----BEGIN PKCS7-----"), cmsUnknown},
		{"cut short", []byte{0x30, 0x80, 0x06}, cmsNeedMore},
		{"empty", nil, cmsNeedMore},
	}
	for _, tt := range tests {
		if got := classifyCMS(tt.in); got != tt.want {
			t.Errorf("classifyCMS(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
}
