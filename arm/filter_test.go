package arm

import (
	"testing"

	"github.com/galleonhq/galleon"
)

func TestParseFilter(t *testing.T) {
	cases := []struct {
		name, in string
		want     map[string]string
		bad      bool
	}{
		{"Empty", "", map[string]string{}, false},
		{"One", "tagName eq 'env'", map[string]string{"tagName": "env"}, false},
		{"Two", "tagName eq 'env' and tagValue eq 'prod'", map[string]string{"tagName": "env", "tagValue": "prod"}, false},
		{"CaseInsensitiveField", "TAGNAME EQ 'x'", map[string]string{"tagName": "x"}, false},
		{"QuotedAnd", "tagValue eq 'a and b'", map[string]string{"tagValue": "a and b"}, false},
		{"EscapedQuote", "tagValue eq 'it''s'", map[string]string{"tagValue": "it's"}, false},
		{"UnknownField", "name eq 'x'", nil, true},
		{"OtherOperator", "tagName ne 'x'", nil, true},
		{"Unquoted", "tagName eq x", nil, true},
		{"Dangling", "tagName eq 'x' and", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFilter(tc.in, "tagName", "tagValue")
			if tc.bad {
				if e := galleon.AsError(err); e == nil || e.Reason != "InvalidFilterParameter" || e.Target != "$filter" {
					t.Fatalf("err = %v, want InvalidFilterParameter", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestParseActivityFilter(t *testing.T) {
	var f galleon.AuditFilter
	err := parseActivityFilter("eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp le '2026-02-01T00:00:00Z' and resourceGroupName eq 'rg' and eventChannels eq 'Admin, Operation'", "s", &f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Since.Month() != 1 || f.Until.Month() != 2 || f.Under != "/subscriptions/s/resourceGroups/rg" {
		t.Fatalf("filter = %+v", f)
	}
	for _, bad := range []string{"eventTimestamp ge 'yesterday'", "caller ne 'x'", "status eq 'Failed'"} {
		if err := parseActivityFilter(bad, "s", &f); galleon.ErrorCode(err) != galleon.EInvalid {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// FuzzParseFilter checks that no $filter crashes the parsers and that what
// parses only names allowed fields.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "tagName eq 'a'", "a eq 'b' and c eq 'd'", "'", "x and y", "tagValue eq ''''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseFilter(s, "tagName", "tagValue")
		if err == nil {
			for k := range got {
				if k != "tagName" && k != "tagValue" {
					t.Fatalf("unexpected field %q from %q", k, s)
				}
			}
		}
		var af galleon.AuditFilter
		_ = parseActivityFilter(s, "sub", &af)
	})
}
