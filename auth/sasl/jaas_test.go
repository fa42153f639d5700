package sasl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseJAAS covers Kafka's JaasContextTest cases and the corners of
// java.io.StreamTokenizer that JaasConfig inherits.
func TestParseJAAS(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []JAASEntry
		err    string
	}{
		{name: "no options", config: "test.testConfigNoOptions required;",
			want: []JAASEntry{{"test.testConfigNoOptions", "REQUIRED", map[string]string{}}}},
		{name: "control flags, any case", config: "a.B requisite; c sufficient; d Optional;",
			want: []JAASEntry{{"a.B", "REQUISITE", map[string]string{}}, {"c", "SUFFICIENT", map[string]string{}}, {"d", "OPTIONAL", map[string]string{}}}},
		{name: "quoted option value", config: `test.testQuotedOptionValue required propName="prop value" propName2="value1 = 1, value2 = 2";`,
			want: []JAASEntry{{"test.testQuotedOptionValue", "REQUIRED", map[string]string{"propName": "prop value", "propName2": "value1 = 1, value2 = 2"}}}},
		{name: "quoted option name", config: `test.testQuotedOptionName required "prop name"=propValue;`,
			want: []JAASEntry{{"test.testQuotedOptionName", "REQUIRED", map[string]string{"prop name": "propValue"}}}},
		{name: "single quotes and escapes", config: `m required a='single' b="tab\there" c="q\"q" d="\101\7" e="\477";`,
			want: []JAASEntry{{"m", "REQUIRED", map[string]string{"a": "single", "b": "tab\there", "c": `q"q`, "d": "A\a", "e": "'7"}}}},
		{name: "words with dots, dashes, digits, $ and _", config: "org.x.Mod-1 required user_$bob=pw-1.2_x;",
			want: []JAASEntry{{"org.x.Mod-1", "REQUIRED", map[string]string{"user_$bob": "pw-1.2_x"}}}},
		{name: "comments", config: "/* c */ m // line\n required /x y z\n k=v; // end",
			want: []JAASEntry{{"m", "REQUIRED", map[string]string{"k": "v"}}}},
		{name: "non-ASCII word", config: "m required user_jürgen=größe;",
			want: []JAASEntry{{"m", "REQUIRED", map[string]string{"user_jürgen": "größe"}}}},
		{name: "later option wins", config: `m required k="1" k="2";`,
			want: []JAASEntry{{"m", "REQUIRED", map[string]string{"k": "2"}}}},
		{name: "quoted string ends at a newline", config: "m required k=\"ab\ncd=\"x\";",
			want: []JAASEntry{{"m", "REQUIRED", map[string]string{"k": "ab", "cd": "x"}}}},

		{name: "empty", config: "  ", err: "Login module not specified in JAAS config"},
		{name: "missing login module", config: "  required option1=value1;", err: "Invalid login module control flag 'option1' in JAAS config"},
		{name: "missing control flag", config: "test.loginModule option1=value1;", err: "Invalid login module control flag 'option1' in JAAS config"},
		{name: "missing option value", config: "loginModule required option1;", err: "Value not specified for key 'option1' in JAAS config"},
		{name: "missing semicolon", config: "test.testMissingSemicolon required option1=value1", err: "JAAS config entry not terminated by semi-colon"},
		{name: "numeric value without quotes", config: "test.x required option1=3;", err: "Value not specified for key 'option1' in JAAS config"},
		{name: "invalid control flag", config: "test.testInvalidControlFlag { option1=3;", err: "Login module control flag is not available in the JAAS config"},
		{name: "flag at end", config: "test.x", err: "Login module control flag not specified in JAAS config"},
		{name: "numeric key", config: "m required 3=x;", err: "option key expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJAAS(tt.config)
			if tt.err != "" {
				require.ErrorIs(t, err, ErrJAAS)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseServerJAASOneModule(t *testing.T) {
	_, err := ParseServerJAAS("a required; b required;")
	require.ErrorContains(t, err, "JAAS config property contains 2 login modules, should be 1 module")
	e, err := ParseServerJAAS(`a required password="secret";`)
	require.NoError(t, err)
	require.NotContains(t, e.String(), "secret", "String never shows option values")
}
