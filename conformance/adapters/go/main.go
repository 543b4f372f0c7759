// The Go client under test: drives the Go SDK (sdks/go) through its public API only, speaking the size-delimited
// client protocol (cebus.conformance.v1) on stdin/stdout. Logs go to stderr.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
	conformancev1 "github.com/cebus/cebus/sdks/go/gen/cebus/conformance/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type adapter struct {
	out       *bufio.Writer
	outMu     sync.Mutex
	mu        sync.Mutex
	client    *cebus.Client
	subs      map[string]*cebus.Subscription
	messages  map[string]*cebus.Message
	processed cebus.ProcessedEvents
	ctx       context.Context
}

func (a *adapter) emit(event *conformancev1.ClientEvent) {
	b, err := proto.Marshal(event)
	if err != nil {
		panic(err)
	}
	a.outMu.Lock()
	defer a.outMu.Unlock()
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(b)))
	_, _ = a.out.Write(size[:])
	_, _ = a.out.Write(b)
	_ = a.out.Flush()
}

func (a *adapter) report(subscriber string, m *cebus.Message, redundant bool) {
	delivery := &conformancev1.DeliveryEvent{
		Subscriber: subscriber, DeliveryId: m.DeliveryID, Attempt: m.Attempt, Partition: m.Partition,
		Offset: m.Offset, Event: m.Event, Redundant: redundant,
	}
	if !m.LeaseDeadline.IsZero() {
		delivery.LeaseDeadline = timestamppb.New(m.LeaseDeadline)
	}
	a.emit(&conformancev1.ClientEvent{Event: &conformancev1.ClientEvent_Delivery{Delivery: delivery}})
}

func (a *adapter) consume(subscriber string, s *cebus.Subscription, once bool) {
	// The runner settles every delivery; the idempotent helper only decides whether the event is processed again.
	handle := cebus.Idempotent(a.processed, func(_ context.Context, m *cebus.Message) error {
		a.report(subscriber, m, false)
		return nil
	}, func(m *cebus.Message) { a.report(subscriber, m, true) })
	for m, err := range s.Messages(a.ctx) {
		if err != nil {
			a.emit(&conformancev1.ClientEvent{Event: &conformancev1.ClientEvent_Notice{Notice: fmt.Sprintf("subscriber %s ended: %v", subscriber, err)}})
			return
		}
		a.mu.Lock()
		a.messages[subscriber+"/"+m.DeliveryID] = m
		a.mu.Unlock()
		if !once {
			a.report(subscriber, m, false)
		} else if err := handle(a.ctx, m); err != nil {
			a.emit(&conformancev1.ClientEvent{Event: &conformancev1.ClientEvent_Notice{Notice: err.Error()}})
		}
	}
}

func (a *adapter) requireClient() (*cebus.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == nil {
		return nil, &cebus.Error{Code: cebus.CodeFailedPrecondition, Message: "send a connect command first"}
	}
	return a.client, nil
}

func (a *adapter) run(command *conformancev1.ClientCommand) (*conformancev1.CommandResult, error) {
	result := &conformancev1.CommandResult{Id: command.GetId()}
	switch c := command.GetCommand().(type) {
	case *conformancev1.ClientCommand_Connect:
		client, err := cebus.NewClient(c.Connect.GetUrl())
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		old := a.client
		a.client, a.subs = client, map[string]*cebus.Subscription{}
		a.mu.Unlock()
		if old != nil {
			_ = old.Close() // closes its subscriptions too
		}
	case *conformancev1.ClientCommand_Publish:
		client, err := a.requireClient()
		if err != nil {
			return nil, err
		}
		ctx := a.ctx
		if ms := c.Publish.GetTimeoutMs(); ms > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
			defer cancel()
		}
		published, err := client.Publish(ctx, c.Publish.GetTopic(), c.Publish.GetEvents()...)
		if err != nil {
			return nil, err
		}
		for _, p := range published {
			result.Published = append(result.Published, &conformancev1.PublishOutcome{Partition: p.Partition, Offset: p.Offset, Duplicate: p.Duplicate})
		}
	case *conformancev1.ClientCommand_Subscribe:
		client, err := a.requireClient()
		if err != nil {
			return nil, err
		}
		live := make(chan struct{})
		var once sync.Once
		options := []cebus.SubscribeOption{cebus.WithStatusHandler(func(cebus.Status) { once.Do(func() { close(live) }) })}
		if n := c.Subscribe.GetMaxOutstanding(); n > 0 {
			options = append(options, cebus.WithMaxOutstanding(n))
		}
		s := client.Consume(a.ctx, c.Subscribe.GetSubscription(), options...)
		a.mu.Lock()
		a.subs[c.Subscribe.GetSubscriber()] = s
		a.mu.Unlock()
		go a.consume(c.Subscribe.GetSubscriber(), s, c.Subscribe.GetIdempotent())
		// Answer once the stream is open (or failed, or 5 s passed): the runner's next step (a publish) then meets
		// a live consumer, so the first deliveries are not slowed by the stream's setup while their leases run.
		select {
		case <-live:
		case <-time.After(5 * time.Second):
		}
	case *conformancev1.ClientCommand_Settle:
		key := c.Settle.GetSubscriber() + "/" + c.Settle.GetDeliveryId()
		// kept after a settle: a second settle of the message must be refused by the SDK itself (settle once)
		a.mu.Lock()
		m := a.messages[key]
		a.mu.Unlock()
		if m == nil {
			return nil, &cebus.Error{Code: cebus.CodeNotFound, Message: "no delivery " + key + " was received"}
		}
		var err error
		switch action := c.Settle.GetAction().(type) {
		case *conformancev1.SettleCommand_Ack_:
			err = m.Ack(a.ctx)
		case *conformancev1.SettleCommand_Nack_:
			err = m.Nack(a.ctx, action.Nack.GetDelay().AsDuration())
		case *conformancev1.SettleCommand_Extend_:
			err = m.Extend(a.ctx, action.Extend.GetExtension().AsDuration())
		case *conformancev1.SettleCommand_Term_:
			err = m.Term(a.ctx, action.Term.GetReason())
		}
		if err != nil {
			return nil, err
		}
	case *conformancev1.ClientCommand_Unsubscribe:
		a.mu.Lock()
		s := a.subs[c.Unsubscribe.GetSubscriber()]
		delete(a.subs, c.Unsubscribe.GetSubscriber())
		a.mu.Unlock()
		if s != nil {
			_ = s.Close()
		}
	default:
		return nil, &cebus.Error{Code: cebus.CodeUnimplemented, Message: fmt.Sprintf("unknown command %T", c)}
	}
	return result, nil
}

func main() {
	a := &adapter{
		out: bufio.NewWriter(os.Stdout), subs: map[string]*cebus.Subscription{}, messages: map[string]*cebus.Message{},
		processed: cebus.NewMemoryProcessedEvents(), ctx: context.Background(),
	}
	in := bufio.NewReader(os.Stdin)
	var size [4]byte
	for {
		if _, err := io.ReadFull(in, size[:]); err != nil {
			break
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(in, frame); err != nil {
			break
		}
		command := &conformancev1.ClientCommand{}
		if err := proto.Unmarshal(frame, command); err != nil {
			fmt.Fprintf(os.Stderr, "bad command frame: %v\n", err)
			os.Exit(2)
		}
		// Commands run concurrently (a slow settle must not hold up a publish); results carry the command id.
		go func() {
			result, err := a.run(command)
			if err != nil {
				result = &conformancev1.CommandResult{Id: command.GetId(), ErrorCode: string(cebus.CodeOf(err)), ErrorMessage: message(err)}
			}
			a.emit(&conformancev1.ClientEvent{Event: &conformancev1.ClientEvent_Result{Result: result}})
		}()
	}
	a.mu.Lock()
	client := a.client
	a.mu.Unlock()
	if client != nil {
		_ = client.Close()
	}
}

func message(err error) string {
	if e, ok := errors.AsType[*cebus.Error](err); ok {
		return e.Message
	}
	return err.Error()
}
