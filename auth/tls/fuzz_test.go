package tls

import "testing"

// FuzzRFC2253 parses arbitrary subject bytes: no panic.
func FuzzRFC2253(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, 'a', ',', 'b', ' '})
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = rfc2253(raw)
	})
}

// FuzzPrincipalMapper parses arbitrary rules and applies them: no panic.
func FuzzPrincipalMapper(f *testing.F) {
	f.Add("RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L, DEFAULT", "CN=a,OU=b")
	f.Add(`RULE:^CN=([a-z]+),.*$/$12\$3${x}/U`, "CN=abc,O=x")
	f.Fuzz(func(t *testing.T, rules, dn string) {
		m, err := NewPrincipalMapper(rules, true)
		if err != nil {
			return
		}
		_, _ = m.Name(dn)
	})
}
