package confparse

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// formatDuration writes d the way parseDuration reads it, largest unit
// first.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var out []byte
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.unit; n > 0 {
			out = strconv.AppendInt(out, int64(n), 10)
			out = append(out, u.suffix...)
			d -= n * u.unit
		}
	}
	return string(out)
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"500ms", "5s", "1m30s", "1d2h3m4s5ms", "3600", "0", "5x", "30s1m", "1.5s", "106752d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			return
		}
		if d < 0 || d%time.Millisecond != 0 {
			t.Fatalf("parseDuration(%q) = %v, want a non-negative whole number of ms", s, d)
		}
		back, err := parseDuration(formatDuration(d))
		if err != nil || back != d {
			t.Fatalf("parseDuration(%q) = %v, but parseDuration(%q) = %v, %v", s, d, formatDuration(d), back, err)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1024", "8k", "1M", "1g", "10q", "8589934592g", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d, want >= 0", s, n)
		}
	})
}

// FuzzLoadBytes checks that Build never panics, returns a Config or an
// error but not both, and sorts its errors by position.
func FuzzLoadBytes(f *testing.F) {
	for _, s := range []string{
		"worker_threads 8;\nupstream default { server 127.0.0.1:9001; }\nhttp { server { listen 8080; route / { upstream default; } } }",
		"upstream app { server 10.0.0.1:80 weight=2 max_fails=3 fail_timeout=30s backup; health_check interval=1s rise=1; health_check_http /h status=200; ai_epsilon 0.2; }",
		"http { rate_limit_per_ip 5; server { server_name *.a.com; ssl_certificate c; route /x { root /srv; index a b; client_max_body_size 1g; } } }",
		"http { server { route / { fastcgi_pass unix:/s; fastcgi_param A b; uwsgi_param C d; } } }",
		"tcp_bind off; server 1:2; http { server 1:2; listen 80; } upstream x { server { } }",
		"http { server { listen 80; } server { listen 80; } server { listen *:80; server_name a; } }",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ds, err := Parse("f", []byte(src))
		if err != nil {
			return
		}
		cfg, err := Build(ds)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Build = %v, %v: want exactly one of a Config and an error", cfg, err)
		}
		if err == nil {
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("Build error = %T %v, want a non-empty ErrorList", err, err)
		}
		for i := 1; i < len(list); i++ {
			a, b := list[i-1].Pos, list[i].Pos
			if a.Line > b.Line || a.Line == b.Line && a.Col > b.Col {
				t.Fatalf("Build errors out of order: %v before %v", list[i-1], list[i])
			}
		}
	})
}
