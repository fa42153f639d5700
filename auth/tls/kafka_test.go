package tls

import (
	"encoding/asn1"
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth/internal/kafkaoracle"
)

var (
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidL      = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidST     = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidStreet = asn1.ObjectIdentifier{2, 5, 4, 9}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidSerial = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidTitle  = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidEmail  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidDC     = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidUID    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidOther  = asn1.ObjectIdentifier{1, 2, 3, 4}
)

type ava struct {
	oid asn1.ObjectIdentifier
	tag int
	val string
}

func utf8v(oid asn1.ObjectIdentifier, v string) ava { return ava{oid, tagUTF8String, v} }
func printable(oid asn1.ObjectIdentifier, v string) ava {
	return ava{oid, tagPrintableString, v}
}

func encodeValue(a ava) []byte {
	switch a.tag {
	case tagBMPString:
		u := utf16.Encode([]rune(a.val))
		b := make([]byte, 2*len(u))
		for i, c := range u {
			b[2*i], b[2*i+1] = byte(c>>8), byte(c)
		}
		return b
	case tagT61String:
		b := make([]byte, 0, len(a.val))
		for _, r := range a.val {
			b = append(b, byte(r))
		}
		return b
	}
	return []byte(a.val)
}

// rawSubject builds an RDNSequence; each inner slice is one RDN (a SET, so
// several AVAs make a multi-valued RDN, kept in DER SET OF order).
func rawSubject(t *testing.T, rdns ...[]ava) []byte {
	t.Helper()
	var seq []asn1.RawValue
	for _, rdn := range rdns {
		var encoded [][]byte
		for _, a := range rdn {
			b, err := asn1.Marshal(struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}{a.oid, asn1.RawValue{Class: asn1.ClassUniversal, Tag: a.tag, Bytes: encodeValue(a)}})
			require.NoError(t, err)
			encoded = append(encoded, b)
		}
		// DER orders a SET OF by its encodings.
		for i := range encoded {
			for j := i + 1; j < len(encoded); j++ {
				if string(encoded[j]) < string(encoded[i]) {
					encoded[i], encoded[j] = encoded[j], encoded[i]
				}
			}
		}
		var body []byte
		for _, e := range encoded {
			body = append(body, e...)
		}
		seq = append(seq, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body})
	}
	b, err := asn1.Marshal(seq)
	require.NoError(t, err)
	return b
}

// TestRFC2253AgainstKafka: for certificates with awkward subjects, RFC2253
// gives exactly what Java's X500Principal.getName() gives (Kafka's
// principal for an SSL client).
func TestRFC2253AgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	ca := newTestCA(t, "CA")
	subjects := map[string][]byte{
		"plain": rawSubject(t, []ava{printable(oidC, "US")}, []ava{printable(oidO, "Acme")}, []ava{printable(oidOU, "eng")}, []ava{utf8v(oidCN, "client")}),
		"all keywords": rawSubject(t, []ava{printable(oidC, "DE")}, []ava{utf8v(oidST, "Bayern")}, []ava{utf8v(oidL, "München")},
			[]ava{utf8v(oidStreet, "Hauptstr. 1")}, []ava{utf8v(oidO, "O")}, []ava{utf8v(oidOU, "OU")}, []ava{ava{oidDC, tagIA5String, "example"}},
			[]ava{ava{oidUID, tagUTF8String, "u123"}}, []ava{utf8v(oidCN, "cn")}),
		"specials": rawSubject(t, []ava{utf8v(oidO, `a,b=c+d<e>f#g;h"i\j`)}, []ava{utf8v(oidCN, "#lead")}),
		"spaces":   rawSubject(t, []ava{utf8v(oidO, "  two leading")}, []ava{utf8v(oidOU, "trailing  ")}, []ava{utf8v(oidCN, " ")}, []ava{utf8v(oidL, "in side")}),
		"control":  rawSubject(t, []ava{utf8v(oidO, "nul\x00x")}, []ava{utf8v(oidOU, "tab\tcr\rlf\n")}, []ava{utf8v(oidCN, "\rlead")}),
		"unicode":  rawSubject(t, []ava{utf8v(oidO, "Jürgen & Søn")}, []ava{utf8v(oidCN, "日本 😀")}),
		"string types": rawSubject(t, []ava{ava{oidO, tagBMPString, "bmp Ω"}}, []ava{ava{oidOU, tagT61String, "t61 é"}},
			[]ava{ava{oidL, tagIA5String, "ia5"}}, []ava{ava{oidCN, tagUTF8String, "utf8"}}),
		"hex forms": rawSubject(t, []ava{ava{oidEmail, tagIA5String, "alice@example.com"}}, []ava{printable(oidSerial, "1234")},
			[]ava{utf8v(oidTitle, "Dr")}, []ava{utf8v(oidOther, "x")}, []ava{utf8v(oidCN, "alice")}),
		"multi-valued RDN": rawSubject(t, []ava{printable(oidC, "US")}, []ava{utf8v(oidOU, "b"), utf8v(oidCN, "a"), ava{oidUID, tagUTF8String, "c"}}),
		"empty value":      rawSubject(t, []ava{utf8v(oidO, "")}, []ava{utf8v(oidCN, "x")}),
		"empty subject":    rawSubject(t),
	}
	for name, raw := range subjects {
		t.Run(name, func(t *testing.T) {
			c, _ := ca.issue(t, leafOpts{rawSubject: raw, dns: []string{"x"}})
			want, kerr := o.MustCall(t, "x500", base64.StdEncoding.EncodeToString(c.Raw))
			require.Nil(t, kerr)
			require.Equal(t, want, RFC2253(c))
		})
	}

	// And the certificates keytool made from -dname strings.
	for _, storetype := range []string{"JKS", "PKCS12"} {
		s := kafkaDocsStores(t, storetype)
		srv, err := NewServer(Props{PropKeystoreType: storetype, PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: s.storePass, PropKeyPassword: s.keyPass})
		require.NoError(t, err)
		for _, leaf := range srv.Leaves() {
			want, kerr := o.MustCall(t, "x500", base64.StdEncoding.EncodeToString(leaf.Raw))
			require.Nil(t, kerr)
			require.Equal(t, want, RFC2253(leaf))
		}
	}
}

// TestPrincipalMapperAgainstKafka runs Kafka's SslPrincipalMapperTest
// inputs, and more, through both mappers: the same parsed rules (by
// toString), the same names, the same refusals.
func TestPrincipalMapperAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	rules := []string{
		// testValidRules
		"DEFAULT",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
		"RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
		"RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
		"RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
		// testInvalidRules
		"default", "DEFAUL", "DEFAULT/L", "DEFAULT/U",
		"RULE:CN=(.*?),OU=ServiceUsers.*/$1",
		"rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
		// testSslPrincipalMapper
		strings.Join([]string{
			"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
			"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
			"RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U",
			"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U",
			"DEFAULT"}, ", "),
		// testRulesSplitting
		"", "RULE://", "RULE:/.*/", "RULE:/.*/L", "RULE://,DEFAULT", "  RULE:// ,  DEFAULT  ",
		"  RULE:   /     / ,  DEFAULT  ", "  RULE:  /     /U   ,DEFAULT  ",
		"  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  ",
		",   , , ,      , , ,   ", ",,RULE://,,,DEFAULT,,", ",  , RULE: /   /    ,,,   DEFAULT, ,   ",
		"     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,",
		`RULE:\/\\\(\)\n\t/\/\//`, `RULE:\**\/+/*/L,RULE:\/*\**/**/`,
		`RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT`,
		// testCommaWithWhitespace
		`RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT`,
		// replacement corner cases
		"RULE:^CN=([a-z]+),.*$/$1$2/", "RULE:^CN=([a-z]+),.*$/$12/", "RULE:^CN=([a-z]+),O=([a-z]+).*$/$12$3/",
		"RULE:^CN=([a-z]+),.*$/\\$1 $0/", "RULE:^CN=(?<n>[a-z]+),.*$/${n}!/", "RULE:^CN=([a-z]+),.*$/$01/",
		"RULE:^CN=(x)?([a-z]+),.*$/[$1][$2]/U",
	}
	dns := []string{
		"CN=Duke,OU=ServiceUsers,O=Org,C=US",
		"CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US",
		"cn=duke,ou=sme,dc=mycp,dc=com",
		"cN=duke,OU=JavaSoft,O=Sun Microsystems",
		"OU=JavaSoft,O=Sun Microsystems,C=US",
		"CN=Tkac\\, Adam,OU=ITZ,DC=geodis,DC=cz",
		"CN=alice,O=acme,C=US",
		"",
	}
	for _, r := range rules {
		want, kerr := o.MustCall(t, "mapper-rules", r)
		m, err := NewPrincipalMapper(r, true)
		if kerr != nil {
			require.Error(t, err, "Kafka refuses %q: %s", r, kerr.Message)
			continue
		}
		require.NoError(t, err, "Kafka accepts %q as %s", r, want)
		require.Equal(t, want, m.String(), "rules %q", r)
		for _, dn := range dns {
			want, kerr := o.MustCall(t, "mapper", r, dn)
			got, err := m.Name(dn)
			if kerr != nil {
				require.Error(t, err, "rules %q, DN %q: Kafka fails with %s, Spool gave %q", r, dn, kerr.Message, got)
				continue
			}
			require.NoError(t, err, "rules %q, DN %q: Kafka gives %q", r, dn, want)
			require.Equal(t, want, got, "rules %q, DN %q", r, dn)
		}
	}
}

// TestPrincipalMapperEmptyMatchAfterMatch pins the one documented
// difference from Java's replaceAll.
func TestPrincipalMapperEmptyMatchAfterMatch(t *testing.T) {
	m, err := NewPrincipalMapper("RULE:.*/x/", true)
	require.NoError(t, err)
	got, err := m.Name("CN=a")
	require.NoError(t, err)
	require.Equal(t, "x", got, "Kafka gives xx")
	_, err = NewPrincipalMapper(`RULE:^CN=(\w)\1$/$1/`, true)
	require.ErrorIs(t, err, ErrConfig, "backreferences are refused, not mis-run")
	_, err = NewPrincipalMapper(`RULE:^CN=[a-z&&[^b]]+$/x/`, true)
	require.ErrorIs(t, err, ErrConfig)
}
