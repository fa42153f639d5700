package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a: b", map[string]string{"a": "b"}},
		{"space separator", "a   b c", map[string]string{"a": "b c"}},
		{"space around equals", "a = b", map[string]string{"a": "b"}},
		{"comments", "# x=y\n! z=w\n  # indented\na=1", map[string]string{"a": "1"}},
		{"trailing whitespace kept", "a=b  ", map[string]string{"a": "b  "}},
		{"leading whitespace", "   a=b", map[string]string{"a": "b"}},
		{"empty value", "a=\nb", map[string]string{"a": "", "b": ""}},
		{"continuation", "a=one,\\\n    two,\\\n  three", map[string]string{"a": "one,two,three"}},
		{"escaped backslash is not continuation", "a=c:\\\\\nb=2", map[string]string{"a": `c:\`, "b": "2"}},
		{"escaped separator in key", `my\=key=v`, map[string]string{"my=key": "v"}},
		{"escaped colon in key", `a\:b:c`, map[string]string{"a:b": "c"}},
		{"escapes", `a=x\ty\nz\u0041\q`, map[string]string{"a": "x\ty\nzAq"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"later wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"crlf", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
		{"continuation at EOF", "a=1\\", map[string]string{"a": "1"}},
		{"equals in value", "sasl.jaas.config=x required username=\"u\";", map[string]string{"sasl.jaas.config": `x required username="u";`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParsePropertiesBadUnicode(t *testing.T) {
	_, err := ParseProperties(strings.NewReader("a=\\u12"))
	require.ErrorContains(t, err, "line 1")
	_, err = ParseProperties(strings.NewReader("a=\\uZZZZ"))
	require.Error(t, err)
}
