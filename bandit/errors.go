package bandit

import "errors"

var (
	// ErrUnknownPolicy is returned (wrapped, with the known names) by New
	// for a name no policy has. The config file refuses the name.
	ErrUnknownPolicy = errors.New("bandit: unknown policy")
	// ErrBadParam is returned (wrapped, naming the knob) by New when a
	// Params field is negative, not a number, or out of its range.
	ErrBadParam = errors.New("bandit: invalid parameter")
)
