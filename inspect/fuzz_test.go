package inspect

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzClassify feeds arbitrary bytes, cut at an arbitrary point, and checks
// that any input gives a classification: no panic, no hang, the same
// verdict however the input is cut, and header values that cannot break a
// header line.
func FuzzClassify(f *testing.F) {
	for _, file := range sampleMessages(f) {
		if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 {
			f.Add(b, uint16(len(b)/2))
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\n-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdA\n--x--\n"), uint16(40))
	f.Fuzz(func(t *testing.T, msg []byte, cut uint16) {
		whole := classifyChunks(msg, len(msg)+1)
		k := int(cut) % (len(msg) + 1)
		s := NewScanner(Options{})
		s.Write(msg[:k])
		s.Write(msg[k:])
		split := s.Finish(Envelope{From: s.ReturnPath()})
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("cut at %d changes the verdict: %+v vs %+v", k, split.Encryption, whole.Encryption)
		}
		known := false
		for _, c := range Classes() {
			known = known || c == whole.Encryption.Class
		}
		if !known {
			t.Fatalf("unknown class %q", whole.Encryption.Class)
		}
		for _, fl := range whole.Fields(DefaultPrefix) {
			if strings.ContainsAny(fl.Value, "\r\n\x00") {
				t.Fatalf("%s value %q can break the header", fl.Name, fl.Value)
			}
		}
	})
}
