package phalanx

import "testing"

func TestRouteMatch(t *testing.T) {
	mk := func(host, path string) *route { return &route{Route: Route{Host: host, Path: path}} }
	table, err := newRouteTable([]*route{
		mk("", "/"),
		mk("", "/api"),
		mk("", "/api/v2/"),
		mk("", "/static/"),
		mk("shop.example.com", "/"),
		mk("shop.example.com", "/cart"),
		mk("*.example.com", "/"),
		mk("*.eu.example.com", "/"),
		mk("admin.example.com", "/admin"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ host, path, want string }{
		{"", "/", "/"},
		{"other.org", "/x", "/"},
		{"other.org", "/api", "/api"},
		{"other.org", "/apix", "/api"}, // nginx prefix semantics
		{"other.org", "/api/v2/users", "/api/v2/"},
		{"other.org", "/api/v2", "/api"},
		{"shop.example.com", "/cart/1", "shop.example.com/cart"},
		{"SHOP.Example.com:8080", "/x", "shop.example.com/"},
		{"www.example.com", "/x", "*.example.com/"},
		{"a.eu.example.com", "/x", "*.eu.example.com/"},
		{"example.com", "/x", "/"},
		{"admin.example.com", "/admin/x", "admin.example.com/admin"},
		{"admin.example.com", "/x", "*.example.com/"}, // host's own routes miss: wildcard, then any host
		{"[::1]:8080", "/static/a.css", "/static/"},
	}
	for _, tc := range tests {
		got := table.match(tc.host, tc.path)
		name := "<nil>"
		if got != nil {
			name = got.name
		}
		if name != tc.want {
			t.Errorf("match(%q, %q) = %s, want %s", tc.host, tc.path, name, tc.want)
		}
	}

	empty, err := newRouteTable([]*route{mk("", "/api")})
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.match("x", "/other"); got != nil {
		t.Errorf("match without a / route = %s, want nil", got.name)
	}
}

func TestRouteTableErrors(t *testing.T) {
	mk := func(host, path string) *route { return &route{Route: Route{Host: host, Path: path}} }
	tests := []struct {
		name   string
		routes []*route
	}{
		{"relative path", []*route{mk("", "api")}},
		{"duplicate", []*route{mk("a.com", "/x"), mk("A.com", "/x")}},
		{"inner wildcard", []*route{mk("a.*.com", "/")}},
	}
	for _, tc := range tests {
		if _, err := newRouteTable(tc.routes); err == nil {
			t.Errorf("newRouteTable(%s) = nil error, want one", tc.name)
		}
	}
}
