// Bench scenario 8, the Go SDK: 64 goroutines publishing single events (the client batches them per topic), then
// the Subscribe handler form acking every message. Prints one JSON line: {"publishSeconds", "consumeSeconds"}.
//
//	go run . URL TOPIC SUBSCRIPTION COUNT
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cebus "github.com/cebus/cebus/sdks/go"
)

const publishers = 64

func main() {
	url, topic, subscription := os.Args[1], os.Args[2], os.Args[3]
	count, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fail(err)
	}
	client, err := cebus.NewClient(url)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	publishSeconds := publish(ctx, client, topic, count)
	consumeSeconds := consume(ctx, client, subscription, count)
	_ = client.Close()
	out, _ := json.Marshal(map[string]float64{"publishSeconds": publishSeconds, "consumeSeconds": consumeSeconds})
	fmt.Println(string(out))
}

func publish(ctx context.Context, client *cebus.Client, topic string, count int) float64 {
	data := strings.Repeat("x", 256)
	started := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for n := next.Add(1) - 1; n < int64(count); n = next.Add(1) - 1 {
				event, err := cebus.NewEvent("/bench", "bench.event", data, cebus.WithID(fmt.Sprintf("g%d", n)))
				if err == nil {
					_, err = client.Publish(ctx, topic, event)
				}
				if err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(started).Seconds()
}

func consume(ctx context.Context, client *cebus.Client, subscription string, count int) float64 {
	started := time.Now()
	ctx, stop := context.WithCancel(ctx)
	var handled atomic.Int64
	err := client.Subscribe(ctx, subscription, func(context.Context, *cebus.Message) error {
		if handled.Add(1) == int64(count) {
			stop()
		}
		return nil
	}, cebus.WithMaxOutstanding(2000))
	if err != nil && ctx.Err() == nil {
		fail(err)
	}
	return time.Since(started).Seconds()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "go sdk loop:", err)
	os.Exit(1)
}
