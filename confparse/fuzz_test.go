package confparse_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/phalanx-lb/phalanx/confparse"
)

// fullConfig is a realistic phalanx.conf, with every syntax feature: a
// seed for FuzzParse and the example of the benchmarks.
const fullConfig = `# phalanx.conf
worker_threads 4;
admin_bind 127.0.0.1:9090;
tcp_bind off;
shutdown_timeout 30s;

upstream app {
    server 10.0.0.1:8000 weight=2 max_fails=3 fail_timeout=10s;
    server 10.0.0.2:8000;
    server 10.0.0.9:8000 backup;   # only when the others are down
    algorithm leastconnections;
    health_check interval=5s timeout=2s rise=2 fall=3;
    health_check_http /healthz status=200;
    keepalive 32;
    ai_epsilon 0.1;
}

http {
    include /etc/phalanx/upstreams.d/*.conf;

    server {
        listen 0.0.0.0:8080;
        listen [::]:8443;
        server_name example.com *.example.com;
        ssl_certificate "/etc/ssl/example com.pem";
        ssl_certificate_key '/etc/ssl/key.pem';
        rate_limit_per_ip 50;
        waf_enabled on;
        set_real_ip_from 10.0.0.0/8;
        client_max_body_size 1m;

        route / {
            upstream app;
            add_header X-Env "prod";
            add_header X-Quote "say \"hi\"\tand\\go";
            add_response_header Cache-Control 'no-cache, no-store';
        }

        route /static {
            root /srv/www;
            index index.html index.htm;
        }

        route /php {
            fastcgi_pass unix:/run/php/php-fpm.sock;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_index index.php;
        }

        route /empty {}

        include routes.d/*.conf;   # more routes
    }
}
`

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		fullConfig,
		"",
		"a;",
		"a {}",
		"a { b { c { d; } } }",
		"include conf.d/*.conf;\ninclude 'a b.conf';",
		"add_header X-A a#b; # c\r\nx \"#\" '#';",
		`a "\"" '\'' "\\" "\n\r\t" "\q" "";`,
		"a \"multi\nline\";",
		"listen 80\n}",
		"server {",
		"\"name\" x;",
		"; { }",
		`a "x"y 'z"`,
		"a\x00b;\xff",
		"\uFEFFa;",
		"\uFEFF\uFEFFa;", // a name starting with U+FEFF after the byte order mark
		"a\rb\r\n;",
		"route /a{upstream b;}route /c{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ds, err := confparse.Parse("fuzz", src)
		out := confparse.Format(ds) // must not panic, even on a partial AST
		if err != nil {
			var el confparse.ErrorList
			if !errors.As(err, &el) || len(el) == 0 {
				t.Fatalf("Parse error is %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range el {
				if e.Pos.File != "fuzz" || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("Parse error at bad position: %v", e)
				}
			}
			return
		}
		ds2, err := confparse.Parse("fuzz", out)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) error = %v\nformatted:\n%s", src, err, out)
		}
		if !equalIgnoringPos(ds, ds2) {
			t.Fatalf("Parse(Format(Parse(%q))) =\n%s\nwant\n%s", src, dumpAST(ds2), dumpAST(ds))
		}
		if out2 := confparse.Format(ds2); !bytes.Equal(out, out2) {
			t.Fatalf("Format is not idempotent on %q:\n%s\nthen\n%s", src, out, out2)
		}
	})
}
