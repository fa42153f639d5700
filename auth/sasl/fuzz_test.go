package sasl

import (
	"testing"
	"time"
)

// FuzzScramServer feeds arbitrary client messages to both SCRAM steps: no
// panic, and nothing authenticates without the password.
func FuzzScramServer(f *testing.F) {
	st := NewMemoryStore()
	c, err := ScramSHA256.NewCredential("pw", 4096)
	if err != nil {
		f.Fatal(err)
	}
	st.SetUser(ScramSHA256, "alice", c)
	m, err := NewScram(ScramSHA256, st, WithTokens(st))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte("n,a=alice,n=alice,r=abc,tokenauth=true"), []byte("c=bixhPWFsaWNlLA==,r=abc,p=AAAA"))
	f.Add([]byte("n,,n=al=2Cice,r=\x7f"), []byte(",p="))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s := m.NewServer()
		if _, _, err := s.Step(first); err != nil {
			return
		}
		if _, done, _ := s.Step(final); done {
			t.Fatalf("authenticated without the password: %q %q", first, final)
		}
	})
}

func FuzzOAuthBearerServer(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	m := NewOAuthBearer(&UnsecuredValidator{Now: func() time.Time { return now }})
	f.Add([]byte("n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjoxODAwMDAwMDAwfQ.\x01\x01"))
	f.Add([]byte("n,a=x,\x01auth=bearer a.b.\x01k=v\x01\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := m.NewServer()
		out, done, err := s.Step(msg)
		if err == nil && !done {
			_, _, _ = s.Step([]byte{1})
		}
		_ = out
	})
}

func FuzzParseJAAS(f *testing.F) {
	f.Add(plainJAAS)
	f.Add(`m required a='x' b="\477\n" /* c */ // d` + "\n;")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseJAAS(s)
	})
}

func FuzzPlainServer(f *testing.F) {
	p := NewPlain(map[string]string{"alice": "pw"})
	f.Add([]byte("\x00alice\x00pw"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, done, _ := p.NewServer().Step(msg)
		if done && string(msg) != "\x00alice\x00pw" && string(msg) != "alice\x00alice\x00pw" {
			t.Fatalf("authenticated with %q", msg)
		}
	})
}
