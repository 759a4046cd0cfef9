// Package confparse reads phalanx.conf, the daemon's configuration file,
// which uses nginx's syntax. It knows nothing of the Server: the phalanx
// package maps a Config to options.
//
// It works in two layers. The syntax layer turns text into directives,
// with the position of each name and argument, and knows no directive:
// Parse parses one file, ParseFile and ParseFS also expand includes,
// and Format prints directives back in a canonical layout. The typed
// layer, Load and Build, turns directives into a validated Config with
// every default filled in, and reports unknown directives and bad values
// at their positions.
//
// Every error of the syntax layer is an *Error, "FILE:LINE:COL: message",
// collected in an ErrorList: Parse goes on after a mistake, at the next
// ";" or "}", and reports as many as it sensibly can.
//
// # Syntax
//
// A file is a list of directives. A directive is a name and arguments,
// ended by ";" or by a block of further directives in braces:
//
//	config    = { directive } .
//	directive = name { arg } ( ";" | "{" { directive } "}" ) .
//	name      = bareword .
//	arg       = bareword | quoted .
//	bareword  = wordbyte { wordbyte } .    (not starting with "#")
//	wordbyte  = any byte but space, tab, CR, LF, "{", "}", ";", `"` and "'" .
//	quoted    = `"` { byte | escape } `"` | "'" { byte | escape } "'" .
//	escape    = `\` byte .
//	comment   = "#" { any byte but LF } .
//
// Spaces, tabs, CRs and newlines (LF or CRLF) separate tokens. A comment
// starts with "#" where a token could start and runs to the end of the
// line; a "#" inside a word ("a#b") or a quoted string is part of it, as
// in nginx. So "$host", "a=b", "5s", "/etc/phalanx/*.conf" and
// "unix:/run/php.sock" are all bare words, and any "key value...;"
// directive parses with no change here. "a {}" (an empty block) and "a;"
// (no block) are different directives: see Directive.Block.
//
// A quoted string may hold anything, including newlines, and may be
// empty. Inside quotes a backslash escapes the next byte: \n, \r and \t
// stand for newline, carriage return and tab, and any other \x stands for
// x itself, so \" \' and \\ give a quote and a backslash. (nginx would
// keep the backslash of an unknown escape such as \d; quote such a value
// as "\\d".) A quoted string must be followed by a space, "{", "}", ";"
// or the end of the file. In a bare word a backslash is an ordinary byte;
// a quote inside a bare word is an error. "{" always ends a bare word, so
// nginx's "${var}" must be quoted. A quoted word is never a directive
// name, nor a brace.
//
// The input must be UTF-8 without NUL bytes; a byte order mark at the
// start is skipped. Positions count lines and columns from 1, columns in
// bytes.
//
// # Includes
//
// ParseFile and ParseFS replace each "include PATTERN;" directive, at any
// level (at the top, or inside http, server, upstream or route blocks),
// with the directives of the files PATTERN names, in place; those
// directives' positions name the included file. PATTERN is relative to
// the directory of the file that holds the include, or absolute. When it
// has glob metacharacters (* ? [ or \, see filepath.Match) every match is
// included, in sorted order, and no match is fine, as in nginx; "*" and
// "?" do not match a leading dot, so "conf.d/*.conf" skips ".#a.conf".
// Without metacharacters PATTERN names one file, which must exist
// ("include: no file matches ..."). A file that includes itself, directly
// or through others, is an error naming the chain ("include cycle: a.conf
// -> b.conf -> a.conf"). Includes nest at most 16 deep, and one
// configuration reads at most 1000 files.
//
// Format writes directives back with four spaces of indentation, one
// directive per line and a blank line around blocks, quoting an argument
// (in double quotes) only when it is empty, starts with "#", holds a space,
// brace, ";" or quote, or was quoted in the source. Comments are not kept.
// For any text Parse accepts, Parse(Format(ds)) gives back the same
// directives, positions aside.
//
// # Configuration
//
// A small phalanx.conf:
//
//	worker_threads 4;
//	shutdown_timeout 30s;
//
//	upstream app {
//	    server 10.0.0.1:8000 weight=2 max_fails=3 fail_timeout=10s;
//	    server 10.0.0.9:8000 backup;
//	    algorithm leastconnections;
//	    health_check interval=5s timeout=2s rise=2 fall=3;
//	}
//
//	http {
//	    server {
//	        listen 0.0.0.0:8080;
//	        server_name example.com *.example.com;   # any host when absent
//
//	        route /api {
//	            upstream app;
//	            add_header X-Env "prod";
//	        }
//
//	        include /etc/phalanx/routes.d/*.conf;
//	    }
//	}
//
// Parse and ParseFile are safe for concurrent use; the directives they
// return are the caller's.
package confparse
