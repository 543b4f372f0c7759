package cebus

import (
	"time"

	cebusv1 "github.com/cebus/cebus/sdks/go/gen/cebus/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// settleKind is what a Settle does to its deliveries.
type settleKind int

const (
	settleAck settleKind = iota
	settleNack
	settleExtend
	settleTerm
)

// settleRequest is one Settle of a Consume stream and the callers waiting for its confirmation.
type settleRequest struct {
	kind     settleKind
	duration time.Duration // the nack delay or the extension; 0 leaves it to the subscription
	reason   string        // for a term
	waiters  []settleWaiter
}

// settleWaiter is one caller's delivery in a Settle and where its outcome goes (buffered: nobody waits on it).
type settleWaiter struct {
	deliveryID string
	done       chan error
}

func (r *settleRequest) fail(err error) {
	for _, w := range r.waiters {
		w.done <- err
	}
}

// message is the Consume request carrying this settle with its request id.
func (r *settleRequest) message(id uint64) *cebusv1.ConsumeRequest {
	ids := make([]string, len(r.waiters))
	for i, w := range r.waiters {
		ids[i] = w.deliveryID
	}
	var duration *durationpb.Duration
	if r.duration > 0 {
		duration = durationpb.New(r.duration)
	}
	settle := &cebusv1.Settle{RequestId: id}
	switch r.kind {
	case settleAck:
		settle.Action = &cebusv1.Settle_Ack{Ack: &cebusv1.AckAction{DeliveryIds: ids}}
	case settleNack:
		settle.Action = &cebusv1.Settle_Nack{Nack: &cebusv1.NackAction{DeliveryIds: ids, Delay: duration}}
	case settleExtend:
		settle.Action = &cebusv1.Settle_Extend{Extend: &cebusv1.ExtendAction{DeliveryIds: ids, Extension: duration}}
	case settleTerm:
		settle.Action = &cebusv1.Settle_Term{Term: &cebusv1.TermAction{DeliveryIds: ids, Reason: r.reason}}
	}
	return &cebusv1.ConsumeRequest{Request: &cebusv1.ConsumeRequest_Settle{Settle: settle}}
}
