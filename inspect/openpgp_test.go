package inspect

import (
	"encoding/base64"
	"testing"
)

func TestClassifyPGP(t *testing.T) {
	b64 := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("bad test data %q: %v", s, err)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want pgpKind
	}{
		// first bytes of real gpg 2.2 output
		{"PKESK v3, legacy header (gpg --encrypt)", b64("hF4DAAAAAAAAAAASAQdA"), pgpEncrypted},
		{"PKESK v3, new header", []byte{0xc1, 0x5e, 0x03, 0, 0, 0, 0, 0, 0, 0, 0}, pgpEncrypted},
		{"SKESK v4 (gpg --symmetric)", b64("jA0ECQMC"), pgpEncrypted},
		{"SEIPD v1 first", []byte{0xd2, 0x40, 0x01, 0xaa, 0xbb, 0xcc}, pgpEncrypted},
		{"SED legacy", []byte{0xa4, 0x20, 0x11, 0x22, 0x33, 0x44}, pgpEncrypted},
		{"compressed (gpg --sign --armor)", b64("owGbwMvMwMX4"), pgpSigned},
		{"one-pass signature (gpg --sign --compress-algo none)", []byte{0x90, 0x0d, 0x03, 0x00, 0x08, 0x01}, pgpSigned},
		{"literal data (gpg --store)", []byte{0xcb, 0x12, 'b', 0x08, 'f', 'i', 'l', 'e'}, pgpSigned},
		{"signature packet (detached)", []byte{0x89, 0x01, 0x33, 0x04, 0x00, 0x01, 0x08}, pgpSignature},
		{"public key (armored key block body)", []byte{0x99, 0x01, 0x0d, 0x04, 0x5e, 0x11}, pgpKey},
		{"marker then PKESK", []byte{0xa8, 0x03, 'P', 'G', 'P', 0x84, 0x5e, 0x03, 0, 0, 0, 0}, pgpEncrypted},
		{"marker with a wrong body", []byte{0xa8, 0x03, 'X', 'Y', 'Z', 0x84, 0x5e, 0x03}, pgpUnknown},
		{"not a packet (bit 7 clear)", []byte("Hello world"), pgpUnknown},
		{"PKESK with an unknown version", []byte{0x84, 0x5e, 0x09, 0, 0, 0, 0, 0}, pgpUnknown},
		{"too short", []byte{0x84}, pgpNeedMore},
		{"empty", nil, pgpNeedMore},
		{"tag 0 is reserved", []byte{0xc0, 0x05, 1, 2, 3, 4, 5}, pgpUnknown},
	}
	for _, tt := range tests {
		if got := classifyPGP(tt.in); got != tt.want {
			t.Errorf("classifyPGP(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
}
