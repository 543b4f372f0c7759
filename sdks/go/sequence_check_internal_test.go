package cebus

import (
	"testing"

	cloudeventsv1 "github.com/cebus/cebus/sdks/go/gen/io/cloudevents/v1"
)

func firstDelivery(partition uint32, offset int64, key string) *Message {
	e := &Event{Id: "x"}
	if key != "" {
		e.Attributes = map[string]*cloudeventsv1.CloudEvent_CloudEventAttributeValue{}
		setString(e, "partitionkey", key)
	}
	return &Message{Event: e, Attempt: 1, Partition: partition, Offset: offset}
}

func TestSequenceCheckAcceptsGrowingOffsetsOfAKeyWithGapsBetween(t *testing.T) {
	c := newSequenceCheck(10)
	for _, offset := range []int64{0, 3, 7} {
		if status, bad := c.check(firstDelivery(0, offset, "k")); bad {
			t.Fatalf("offset %d: %+v", offset, status)
		}
	}
}

func TestSequenceCheckReportsARepeatAndAnOutOfOrderFirstDelivery(t *testing.T) {
	c := newSequenceCheck(10)
	c.check(firstDelivery(0, 9, "k"))
	repeat, bad := c.check(firstDelivery(0, 9, "k"))
	if !bad || repeat.Kind != StatusSequence || repeat.Anomaly != SequenceRepeat || repeat.Previous != 9 {
		t.Fatalf("repeat: %+v", repeat)
	}
	back, bad := c.check(firstDelivery(0, 5, "k"))
	if !bad || back.Anomaly != SequenceOutOfOrder || back.Offset != 5 || back.Previous != 9 || back.Key != "k" {
		t.Fatalf("out of order: %+v", back)
	}
	if status, bad := c.check(firstDelivery(0, 10, "k")); bad {
		t.Fatalf("the highest offset stays the reference: %+v", status)
	}
}

func TestSequenceCheckIgnoresRedeliveriesKeylessEventsAndOtherPartitions(t *testing.T) {
	c := newSequenceCheck(10)
	c.check(firstDelivery(0, 9, "k"))
	again := firstDelivery(0, 9, "k")
	again.Attempt = 2
	for _, m := range []*Message{again, firstDelivery(0, 1, ""), firstDelivery(1, 1, "k")} {
		if status, bad := c.check(m); bad {
			t.Fatalf("%+v reported: %+v", m, status)
		}
	}
}

func TestSequenceCheckForgetsTheLeastRecentlySeenKeyFirst(t *testing.T) {
	c := newSequenceCheck(2)
	c.check(firstDelivery(0, 5, "a"))
	c.check(firstDelivery(0, 5, "b"))
	c.check(firstDelivery(0, 6, "a")) // a is now the most recent
	c.check(firstDelivery(0, 5, "c")) // b is forgotten
	if _, bad := c.check(firstDelivery(0, 1, "a")); !bad {
		t.Fatal("a is still known: offset 1 is out of order")
	}
	if status, bad := c.check(firstDelivery(0, 1, "b")); bad {
		t.Fatalf("b was forgotten: %+v", status)
	}
}
