package confparse

import (
	"net/netip"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "5s", want: 5 * time.Second},
		{in: "1m", want: time.Minute},
		{in: "1h", want: time.Hour},
		{in: "1d", want: 24 * time.Hour},
		{in: "1m30s", want: 90 * time.Second},
		{in: "1d2h3m4s5ms", want: 26*time.Hour + 3*time.Minute + 4*time.Second + 5*time.Millisecond},
		{in: "3600", want: time.Hour},
		{in: "0", want: 0},
		{in: "0s", want: 0},
		{in: "007s", want: 7 * time.Second},
		{in: "", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "5x", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "s", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "5", want: 5 * time.Second},
		{in: "1.5s", err: "use whole numbers, e.g. 1500ms rather than 1.5s"},
		{in: "1.5", err: "use whole numbers, e.g. 1500ms rather than 1.5s"},
		{in: "-5s", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "5 s", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "5S", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "1m30", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "30s1m", err: "give each unit once, largest first, e.g. 1h30m"},
		{in: "1s1s", err: "give each unit once, largest first, e.g. 1h30m"},
		{in: "5us", err: "use a number with ms, s, m, h or d, e.g. 5s"},
		{in: "106751d", want: 106751 * 24 * time.Hour},
		{in: "106752d", err: "too large"},
		{in: "99999999999999999999", err: "too large"},
		{in: "9223372036s", want: 9223372036 * time.Second},
		{in: "9223372037s", err: "too large"},
		{in: "106751d23h47m16s854ms", want: 106751*24*time.Hour + 23*time.Hour + 47*time.Minute + 16*time.Second + 854*time.Millisecond},
		{in: "106751d23h47m16s855ms", err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDuration(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("parseDuration(%q) = %v, %v, want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseDuration(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	const errSize = "use a number of bytes with an optional k, m or g suffix, e.g. 10m"
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "0", want: 0},
		{in: "1024", want: 1024},
		{in: "8k", want: 8 << 10},
		{in: "8K", want: 8 << 10},
		{in: "1m", want: 1 << 20},
		{in: "10M", want: 10 << 20},
		{in: "1g", want: 1 << 30},
		{in: "2G", want: 2 << 30},
		{in: "", err: errSize},
		{in: "k", err: errSize},
		{in: "10q", err: errSize},
		{in: "10kb", err: errSize},
		{in: "1.5m", err: errSize},
		{in: "-1", err: errSize},
		{in: "1t", err: errSize},
		{in: "8589934591g", want: 8589934591 << 30},
		{in: "8589934592g", err: "too large"},
		{in: "99999999999999999999", err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("parseSize(%q) = %v, %v, want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSize(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in       string
		want, ok bool
	}{
		{"on", true, true},
		{"off", false, true},
		{"true", true, true},
		{"false", false, true},
		{"ON", true, true},
		{"False", false, true},
		{"maybe", false, false},
		{"yes", false, false},
		{"1", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBool(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parseBool(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseFloat(t *testing.T) {
	unit := func(f float64) bool { return f >= 0 && f <= 1 }
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0", 0, true},
		{"0.10", 0.10, true},
		{"1", 1, true},
		{".5", 0.5, true},
		{"1.", 1, true},
		{"1.5", 0, false},
		{"-0.1", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"1e-1", 0, false},
		{"0x1p-2", 0, false},
		{".", 0, false},
		{"0.1.2", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFloat(tt.in, unit, "a number from 0 to 1")
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parseFloat(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1, true},
		{"100", 100, true},
		{"0", 0, false},
		{"-1", 0, false},
		{"101", 0, false},
		{"+5", 0, false},
		{"5.0", 0, false},
		{"", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseInt(tt.in, 1, 100, "1 to 100")
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parseInt(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseBind(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "8080", want: "0.0.0.0:8080"},
		{in: "0", want: "0.0.0.0:0"},
		{in: "08080", want: "0.0.0.0:8080"},
		{in: "*:8080", want: "0.0.0.0:8080"},
		{in: "0.0.0.0:8080", want: "0.0.0.0:8080"},
		{in: "127.0.0.1:9090", want: "127.0.0.1:9090"},
		{in: "[::1]:8080", want: "[::1]:8080"},
		{in: "[::]:8080", want: "[::]:8080"},
		{in: "[0:0::1]:8080", want: "[::1]:8080"},
		{in: "localhost:8080", want: "localhost:8080"},
		{in: "lb-1.internal:80", want: "lb-1.internal:80"},
		{in: "65536", err: "the port must be a number from 0 to 65535"},
		{in: "127.0.0.1:65536", err: "the port must be a number from 0 to 65535"},
		{in: "127.0.0.1:http", err: "the port must be a number from 0 to 65535"},
		{in: "127.0.0.1", err: "add a port, e.g. 127.0.0.1:8080"},
		{in: "[::1]", err: "add a port, e.g. [::1]:8080"},
		{in: "localhost", err: "add a port, e.g. localhost:8080"},
		{in: "::1:8080", err: "put an IPv6 address in brackets, e.g. [::1]:8080"},
		{in: "[1.2.3.4]:80", err: "bad IPv6 address in brackets; use HOST:PORT, e.g. 0.0.0.0:8080"},
		{in: "bad host:80", err: "use HOST:PORT, e.g. 0.0.0.0:8080"},
		{in: "-x:80", err: "use HOST:PORT, e.g. 0.0.0.0:8080"},
		{in: "", err: "use HOST:PORT, e.g. 0.0.0.0:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBind(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("parseBind(%q) = %q, %v, want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseBind(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseBackend(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "127.0.0.1:9001", want: "127.0.0.1:9001"},
		{in: "app:8000", want: "app:8000"},
		{in: "my_app:8000", want: "my_app:8000"},
		{in: "[fe80::1]:80", want: "[fe80::1]:80"},
		{in: "127.0.0.1:0", err: "the port must be a number from 1 to 65535"},
		{in: "9001", err: "give the host too, e.g. 127.0.0.1:9001"},
		{in: "10.0.0.1", err: "add a port, e.g. 10.0.0.1:9001"},
		{in: "http://10.0.0.1:80/", err: "write HOST:PORT without a scheme, e.g. 10.0.0.1:80"},
		{in: "unix:/run/app.sock", err: "unix sockets are not supported for upstream servers; use HOST:PORT, e.g. 127.0.0.1:9001"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBackend(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("parseBackend(%q) = %q, %v, want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseBackend(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParsePass(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "127.0.0.1:9000", want: "127.0.0.1:9000"},
		{in: "php:9000", want: "php:9000"},
		{in: "unix:/run/php/php-fpm.sock", want: "unix:/run/php/php-fpm.sock"},
		{in: "unix:", err: "give the socket path, e.g. unix:/run/php/php-fpm.sock"},
		{in: "php", err: "add a port, e.g. php:9000"},
		{in: "bad host:1", err: "use HOST:PORT or unix:/PATH, e.g. 127.0.0.1:9000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePass(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("parsePass(%q) = %q, %v, want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parsePass(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for an error
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.168.1.10", "192.168.1.10/32"},
		{"::1", "::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"fe80::1%eth0", ""},
		{"10.0.0.0/33", ""},
		{"10.0.0", ""},
		{"unix:", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePrefix(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("parsePrefix(%q) = %v, nil, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != netip.MustParsePrefix(tt.want) {
				t.Fatalf("parsePrefix(%q) = %v, %v, want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseServerName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"example.com", true},
		{"*.example.com", true},
		{"localhost", true},
		{"10.0.0.1", true},
		{"::1", true},
		{"Example.COM", true},
		{"_", false},
		{"~^www\\.", false},
		{"www.example.*", false},
		{"a.*.com", false},
		{"example.com:8080", false},
		{"exa mple.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if err := parseServerName(tt.in); (err == nil) != tt.ok {
				t.Fatalf("parseServerName(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	names := namesIn(routeBlock)
	tests := []struct {
		in, want string
	}{
		{"upstrem", "upstream"},
		{"upsteram", "upstream"},
		{"Upstream", "upstream"},
		{"add_headers", "add_header"},
		{"fastcgi_pas", "fastcgi_pass"},
		{"rot", "root"},
		{"client_max_body", "client_max_body_size"},
		{"proxy_timeout", ""},
		{"x", ""},
		{"zzzzzzzz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := closest(tt.in, names); got != tt.want {
				t.Fatalf("closest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := closest("leastconn", algorithms); got != "leastconnections" {
		t.Fatalf(`closest("leastconn", algorithms) = %q, want "leastconnections"`, got)
	}
	if got := closest("least_conn", algorithms); got != "leastconnections" {
		t.Fatalf(`closest("least_conn", algorithms) = %q, want "leastconnections"`, got)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"upstream", "upstream", 0},
		{"upstrem", "upstream", 1},
		{"upsteram", "upstream", 1}, // one swap
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
