package cebus

import (
	"container/list"
	"sync"
)

// Sequence checks (docs/sdk-contract.md, "Sequence checks"). The broker stamps each delivered event with the
// CloudEvents sequence attribute: its offset in its partition. On an ordered subscription the broker hands out a
// key's events one at a time in offset order, so among first deliveries (attempt 1) a key's offsets only grow. A
// first delivery that breaks that is reported as a StatusSequence: a repeat (the same offset again) or out of order
// (a lower one). Redeliveries are not checked. A seek back makes earlier events come again as first deliveries, so
// expect reports after one. Only the last offset of the most recently seen keys is kept.

// Sequence anomalies, in Status.Anomaly.
const (
	SequenceRepeat     = "repeat"
	SequenceOutOfOrder = "out-of-order"
)

// maxSequenceKeys bounds what a subscription remembers: the least recently seen key is forgotten first.
const maxSequenceKeys = 100_000

// WithSequenceCheck reports order anomalies of first deliveries as StatusSequence statuses (for ordered
// subscriptions, where a key's offsets only grow).
func WithSequenceCheck() SubscribeOption {
	return func(c *subscribeConfig) { c.sequenceCheck = true }
}

type sequenceKey struct {
	partition uint32
	key       string
}

type sequenceEntry struct {
	id     sequenceKey
	offset int64
}

// sequenceCheck holds each key's highest offset, least recently seen first.
type sequenceCheck struct {
	mu      sync.Mutex
	max     int
	entries map[sequenceKey]*list.Element
	order   *list.List
}

func newSequenceCheck(max int) *sequenceCheck {
	return &sequenceCheck{max: max, entries: map[sequenceKey]*list.Element{}, order: list.New()}
}

// check returns the status this message's delivery calls for, if any, and remembers it either way.
func (c *sequenceCheck) check(m *Message) (Status, bool) {
	key := m.Key()
	if key == "" || m.Attempt != 1 {
		return Status{}, false
	}
	id := sequenceKey{m.Partition, key}
	c.mu.Lock()
	previous, known := c.remember(id, m.Offset)
	c.mu.Unlock()
	if !known || m.Offset > previous {
		return Status{}, false
	}
	anomaly := SequenceOutOfOrder
	if m.Offset == previous {
		anomaly = SequenceRepeat
	}
	return Status{Kind: StatusSequence, Anomaly: anomaly, Partition: m.Partition, Key: key, Offset: m.Offset, Previous: previous}, true
}

// remember records offset as the key's latest (keeping the highest) and returns what was known before.
func (c *sequenceCheck) remember(id sequenceKey, offset int64) (int64, bool) {
	if element, ok := c.entries[id]; ok {
		entry := element.Value.(*sequenceEntry)
		previous := entry.offset
		entry.offset = max(previous, offset)
		c.order.MoveToBack(element)
		return previous, true
	}
	c.entries[id] = c.order.PushBack(&sequenceEntry{id: id, offset: offset})
	if c.order.Len() > c.max {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*sequenceEntry).id)
	}
	return 0, false
}
