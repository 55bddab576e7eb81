package admin

import "testing"

func TestEditList(t *testing.T) {
	for _, tt := range []struct {
		list        string
		add, remove []string
		want        string
		changed     bool
	}{
		{"", []string{"A"}, nil, "A", true},
		{"A,B", []string{"C"}, nil, "A,B,C", true},
		{"A, B\tC", []string{"B"}, nil, "A,B,C", false},
		{"A,B,A", nil, nil, "A,B", false},
		{"A,B,C", nil, []string{"B"}, "A,C", true},
		{"A", nil, []string{"A"}, "", true},
		{"A", nil, []string{"Z"}, "A", false},
		{"A,B", []string{"B", "C", "C"}, []string{"A"}, "B,C", true},
		{"typo-key,A", []string{"B"}, nil, "typo-key,A,B", true},
	} {
		got, changed := editList(tt.list, tt.add, tt.remove)
		if got != tt.want || changed != tt.changed {
			t.Errorf("editList(%q, +%v, -%v) = %q, %v; want %q, %v", tt.list, tt.add, tt.remove, got, changed, tt.want, tt.changed)
		}
	}
}
