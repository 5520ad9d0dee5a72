package arm

import (
	"fmt"
	"strings"
	"testing"
)

func kqlRows() []map[string]any {
	row := func(name, typ, loc, publisher string) map[string]any {
		return map[string]any{"id": "/providers/Microsoft.Compute/locations/" + loc + "/communityGalleries/" + name, "name": name, "type": typ, "location": loc,
			"properties": map[string]any{"identifier": map[string]any{"publisher": publisher, "uniqueId": "/CommunityGalleries/" + name}, "count": 2.0}}
	}
	return []map[string]any{
		row("Contoso-1", argGalleryType, "eastus", ""),
		row("Contoso-1", argGalleryType, "westus2", ""),
		row("ubuntu", argImageType, "eastus", "Canonical Ltd"),
		row("debian", argImageType, "westus2", "Debian-Project"),
	}
}

func TestKQL(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		want        string // names of the rows (or the first column's values), or "error"
	}{
		{"AzListCommunity", "communitygalleryresources| where type == 'microsoft.compute/locations/communitygalleries' | where location == 'eastus' ", "Contoso-1"},
		{"TableOnly", "communitygalleryresources", "Contoso-1,Contoso-1,ubuntu,debian"},
		{"EqualsIsCaseSensitive", "T | where location == 'EastUS'", ""},
		{"TildeIgnoresCase", "T | where location =~ 'EastUS'", "Contoso-1,ubuntu"},
		{"NotEquals", "T | where type != 'microsoft.compute/locations/communitygalleries'", "ubuntu,debian"},
		{"Contains", "T | where properties.identifier.publisher contains 'CANON'", "ubuntu"},
		{"NotContains", "T | where type contains 'images' and properties.identifier.publisher !contains 'canon'", "debian"},
		{"Has", "T | where properties.identifier.publisher has 'project'", "debian"},
		{"HasWholeTermsOnly", "T | where properties.identifier.publisher has 'proj'", ""},
		{"StartsEnds", "T | where name startswith 'CON' or name endswith 'IAN'", "Contoso-1,Contoso-1,debian"},
		{"In", "T | where name in ('ubuntu', 'debian')", "ubuntu,debian"},
		{"InTilde", "T | where name in~ ('UBUNTU')", "ubuntu"},
		{"NotIn", "T | where name !in ('ubuntu', 'debian')", "Contoso-1,Contoso-1"},
		{"Parentheses", "T | where (location == 'eastus' or location == 'westus2') and not(name == 'Contoso-1')", "ubuntu,debian"},
		{"NumberAsString", "T | where properties.count == 2 | take 1", "Contoso-1"},
		{"MissingFieldNeverEquals", "T | where properties.nope == ''", ""},
		{"Project", "T | where name == 'ubuntu' | project publisher = properties.identifier.publisher", "Canonical Ltd"},
		{"ProjectDefaultName", "T | where name == 'debian' | project properties.identifier.publisher", "Debian-Project"},
		{"OrderDescByDefault", "T | where type endswith '/images' | order by name", "ubuntu,debian"},
		{"OrderAsc", "T | where type endswith '/images' | sort by name asc | limit 1", "debian"},
		{"Count", "T | where location == 'westus2' | count", "2"},
		{"DoubleQuotes", `T | where name == "ubuntu"`, "ubuntu"},
		{"EscapedQuote", `T | where name == 'it\'s'`, ""},
		{"ErrUnterminated", "T | where name == 'x", "error"},
		{"ErrOperator", "T | summarize count() by location", "error"},
		{"ErrComparison", "T | where name > 'a'", "error"},
		{"ErrNoValue", "T | where name ==", "error"},
		{"ErrTrailing", "T where name == 'x'", "error"},
		{"ErrEmpty", "  ", "error"},
		{"ErrStrayCharacter", "T | where name == 'x' ;", "error"},
		{"ErrUnclosedParen", "T | where (name == 'x'", "error"},
		{"ErrTooDeep", "T | where " + strings.Repeat("(", 40) + "name == 'x'" + strings.Repeat(")", 40), "error"},
		{"ErrTooLong", "T | where name == '" + strings.Repeat("x", 20<<10) + "'", "error"},
		{"Nested", "T | where " + strings.Repeat("(", 10) + "name == 'ubuntu'" + strings.Repeat(")", 10), "ubuntu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseKQL(tc.query)
			rows := kqlRows()
			for i := 0; err == nil && q != nil && i < len(q.stages); i++ {
				rows, err = q.stages[i].apply(rows)
			}
			if tc.want == "error" {
				if err == nil {
					t.Fatalf("parsed %q", tc.query)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				switch {
				case r["name"] != nil:
					got = append(got, r["name"].(string))
				case r["Count"] != nil:
					got = append(got, fmt.Sprint(r["Count"]))
				default:
					for _, v := range r {
						got = append(got, fmt.Sprint(v))
					}
				}
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("got %v; want %s", got, tc.want)
			}
		})
	}
}

func TestARGOptions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		options   map[string]any
		top, skip int
		bad       bool
	}{
		{"Defaults", nil, 100, 0, false},
		{"AsAzSends", map[string]any{"$top": 30.0, "$skipToken": "x"}, 30, 0, false},
		{"Skip", map[string]any{"$skip": 5.0, "resultFormat": "objectArray"}, 100, 5, false},
		{"ErrTopZero", map[string]any{"$top": 0.0}, 0, 0, true},
		{"ErrTopFraction", map[string]any{"$top": 1.5}, 0, 0, true},
		{"ErrTopString", map[string]any{"$top": "10"}, 0, 0, true},
		{"ErrTable", map[string]any{"resultFormat": "table"}, 0, 0, true},
		{"ErrUnknown", map[string]any{"facets": true}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, skip, _, err := argOptions(tc.options)
			if (err != nil) != tc.bad || (!tc.bad && (top != tc.top || skip != tc.skip)) {
				t.Fatalf("got %d %d %v", top, skip, err)
			}
		})
	}
}

// FuzzKQL feeds the parser and evaluator untrusted queries: they may
// refuse one, but never panic.
func FuzzKQL(f *testing.F) {
	for _, s := range []string{"communitygalleryresources| where type == 'microsoft.compute/locations/communitygalleries' | where location == 'eastus' ",
		"T | where (a == 'b' or not(c in~ ('d', 'e'))) and f !contains 'g' | project x = a.b, c | order by x asc, y | take 3 | count",
		`T | where name == "a\"b"`, "T | where ((((", "T | project", "!in~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		parsed, err := parseKQL(q)
		if err != nil {
			return
		}
		rows := kqlRows()
		for _, st := range parsed.stages {
			if rows, err = st.apply(rows); err != nil {
				return
			}
		}
	})
}
