package waf

import "errors"

var (
	// ErrUnknownRule is returned by ParseExclusions for a number that is
	// not the id of a rule.
	ErrUnknownRule = errors.New("waf: unknown rule id")
	// ErrUnknownFamily is returned by ParseExclusions for a word that is
	// neither a rule id nor a family name.
	ErrUnknownFamily = errors.New("waf: unknown rule family")
	// ErrConfig is wrapped by New for a Config value out of range.
	ErrConfig = errors.New("waf: invalid config")
)
