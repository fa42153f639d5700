package sasl

import (
	"testing"
)

// BenchmarkFailedLogin measures a failed exchange for a user that exists
// (wrong password) and one that does not: the two should cost the same,
// so timing does not tell them apart.
func BenchmarkFailedLogin(b *testing.B) {
	st := NewMemoryStore()
	c, err := ScramSHA512.NewCredential("right", 4096)
	if err != nil {
		b.Fatal(err)
	}
	st.SetUser(ScramSHA512, "alice", c)
	m, err := NewScram(ScramSHA512, st)
	if err != nil {
		b.Fatal(err)
	}
	// A client-final message with a well-formed (wrong) proof.
	final := func(serverFirst []byte) []byte {
		nonce := string(serverFirst[2:])
		for i := 0; i < len(nonce); i++ {
			if nonce[i] == ',' {
				nonce = nonce[:i]
				break
			}
		}
		return []byte("c=biws,r=" + nonce + ",p=" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	}
	for _, user := range []string{"alice", "mallory"} {
		b.Run("SCRAM-SHA-512/"+user, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s := m.NewServer()
				out, _, err := s.Step([]byte("n,,n=" + user + ",r=abcdefgh"))
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.Step(final(out)); err == nil {
					b.Fatal("authenticated")
				}
			}
		})
	}
	p := NewPlain(map[string]string{"alice": "right-password"})
	for _, user := range []string{"alice", "mallory"} {
		b.Run("PLAIN/"+user, func(b *testing.B) {
			b.ReportAllocs()
			msg := []byte("\x00" + user + "\x00wrong-password")
			for i := 0; i < b.N; i++ {
				if _, _, err := p.NewServer().Step(msg); err == nil {
					b.Fatal("authenticated")
				}
			}
		})
	}
}
