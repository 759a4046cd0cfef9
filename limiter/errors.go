package limiter

import "errors"

// ErrInvalidConfig is wrapped by the errors New returns for a Config it
// cannot use: a negative or non-finite value, an IPv6Prefix above 128,
// Shards not a power of two. The message names the field.
var ErrInvalidConfig = errors.New("limiter: invalid config")
