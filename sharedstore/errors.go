package sharedstore

import "errors"

var (
	// ErrURL is wrapped by Open for a Config.URL it cannot use; the
	// message names the problem (and the URL, its password hidden).
	ErrURL = errors.New("sharedstore: invalid redis URL")
	// ErrConfig is wrapped by Open for another Config field out of range.
	ErrConfig = errors.New("sharedstore: invalid config")
)
