package cebus

import "github.com/google/uuid"

// newID is the id of an event that has none: a random UUID (version 4).
func newID() string { return uuid.NewString() }
