package inspect

import (
	"reflect"
	"testing"
)

func TestParseMediaType(t *testing.T) {
	tests := []struct {
		in     string
		value  string
		params []param
	}{
		{`text/plain`, "text/plain", nil},
		{`Application/PKCS7-MIME; smime-type=enveloped-data; name=smime.p7m`, "application/pkcs7-mime",
			[]param{{"smime-type", "enveloped-data"}, {"name", "smime.p7m"}}},
		{`application/pkcs7-mime; SMIME-TYPE="Enveloped-Data"`, "application/pkcs7-mime", []param{{"smime-type", "Enveloped-Data"}}},
		{`multipart/encrypted; protocol = "application/pgp-encrypted" ;boundary= "b1"`, "multipart/encrypted",
			[]param{{"protocol", "application/pgp-encrypted"}, {"boundary", "b1"}}},
		// RFC 2231 continuations, plain and extended, out of order
		{`application/pkcs7-mime; smime-type*1=ped-data; smime-type*0=envelo`, "application/pkcs7-mime", []param{{"smime-type", "enveloped-data"}}},
		{`application/octet-stream; name*0*=utf-8''sm%69me; name*1=.p7m`, "application/octet-stream", []param{{"name", "smime.p7m"}}},
		{`application/octet-stream; name*=iso-8859-1'en'r%E9sum%E9.pdf`, "application/octet-stream", []param{{"name", "r\xe9sum\xe9.pdf"}}},
		// duplicates: the first wins; an extended value replaces a plain one
		{`application/pdf; name="a.pdf"; name="b.pdf"`, "application/pdf", []param{{"name", "a.pdf"}}},
		{`application/pdf; name="x.pdf"; name*=utf-8''y.pdf`, "application/pdf", []param{{"name", "y.pdf"}}},
		// broken shapes real mail carries
		{`text plain`, "", nil},
		{`application-x-gzip`, "", nil},
		{`multipart/mixed; boundary="unterminated`, "multipart/mixed", []param{{"boundary", "unterminated"}}},
		{`multipart/mixed;boundary=abc;;charset=x`, "multipart/mixed", []param{{"boundary", "abc"}, {"charset", "x"}}},
		{`text/plain (comment); charset=us-ascii`, "text/plain", []param{{"charset", "us-ascii"}}},
		{`text/plain; junk; charset=utf-8`, "text/plain", []param{{"charset", "utf-8"}}},
		{`multipart/signed; protocol="application/x-pkcs7-signature\"x"`, "multipart/signed", []param{{"protocol", `application/x-pkcs7-signature"x`}}},
		{``, "", nil},
	}
	for _, tt := range tests {
		got := parseMediaType(tt.in, true)
		if got.value != tt.value || !reflect.DeepEqual(got.params, tt.params) {
			t.Errorf("parseMediaType(%q) = %q %v, want %q %v", tt.in, got.value, got.params, tt.value, tt.params)
		}
	}
}

func TestParseDisposition(t *testing.T) {
	got := parseMediaType(`ATTACHMENT; filename="Msg.P7M"`, false)
	if got.value != "attachment" || got.get("filename") != "Msg.P7M" {
		t.Errorf("parseMediaType(disposition) = %q %v", got.value, got.params)
	}
}
