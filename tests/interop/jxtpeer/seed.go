package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// nats-seed runs the seed workload on NATS the way jxt-core's bus ran it, so
// that `evbus bench seed` can be set beside it on the same host and server:
// N envelopes over 5 topics (aggregates = clamp(N/10, 50, 1000)), the topics
// being the subjects of one file-storage stream; PublishAsync for each; one
// pull consumer per topic fetching up to 500 with a 100 ms wait, each message
// decoded and then acked. It leaves out jxt-core's keyed worker pool (a hop
// per message), so what it measures is what nats.go itself allows.
//
// Per repetition it prints msg/s at receive completion (first publish to
// last receive) and the p50 and p99 of publish -> receive, after one
// warm-up repetition that is printed and not counted.

const seedTopics = 5

type seedRun struct {
	received  int64
	seconds   float64
	p50, p99  time.Duration
	published int64
}

func natsSeedCmd(args []string) error {
	o, err := parseFlags("nats-seed", args, "url", "count", "reps", "timeout")
	if err != nil {
		return err
	}
	if o.count == 0 {
		return badFlag{"bad value 0 for --count: want > 0"}
	}
	nc, js, err := natsConnect(o.url)
	if err != nil {
		return err
	}
	defer nc.Close()
	var runs []seedRun
	for rep := int64(-1); rep < o.reps; rep++ { // -1: the warm-up
		r, err := natsSeedOnce(js, o.count, o.timeout)
		if err != nil {
			return err
		}
		label := fmt.Sprintf("rep %d", rep+1)
		if rep < 0 {
			label = "warm-up"
		}
		printf("nats-seed %d %s: received %d of %d, %.0f msg/s, p50 %.1f ms, p99 %.1f ms\n",
			o.count, label, r.received, o.count, float64(r.received)/r.seconds,
			ms(r.p50), ms(r.p99))
		if r.received != o.count || r.published != o.count {
			return errFailed
		}
		if rep >= 0 {
			runs = append(runs, r)
		}
	}
	rate := func(r seedRun) float64 { return float64(r.received) / r.seconds }
	byRate := func(a, b seedRun) int { return cmp.Compare(rate(a), rate(b)) }
	lo, hi := slices.MinFunc(runs, byRate), slices.MaxFunc(runs, byRate)
	p50s := make([]time.Duration, len(runs))
	for i, r := range runs {
		p50s[i] = r.p50
	}
	printf("nats-seed %d over %d repetitions: msg/s %.0f - %.0f, p50 %.1f - %.1f ms\n",
		o.count, len(runs), rate(lo), rate(hi), ms(slices.Min(p50s)), ms(slices.Max(p50s)))
	return nil
}

// natsSeedOnce runs one repetition on a stream of its own, deleted after.
func natsSeedOnce(js nats.JetStreamContext, count int64, timeout time.Duration) (seedRun, error) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	stream := "jxtseed-" + id
	topics := make([]string, seedTopics)
	for k := range topics {
		topics[k] = fmt.Sprintf("jxtseed.%s.topic%d", id, k)
	}
	if err := ensureStream(js, stream, strings.Join(topics, ",")); err != nil {
		return seedRun{}, err
	}
	defer func() {
		if err := js.DeleteStream(stream); err != nil {
			logf("delete stream %s: %v", stream, err)
		}
	}()
	subs := make([]*nats.Subscription, seedTopics)
	for k, topic := range topics {
		sub, err := js.PullSubscribe(topic, durableName("seed", topic))
		if err != nil {
			return seedRun{}, fmt.Errorf("pull subscribe %s: %w", topic, err)
		}
		subs[k] = sub
	}

	aggregates := min(max(count/10, 50), 1000)
	sentAt := make([]time.Time, count)
	var run seedRun
	var mu sync.Mutex // guards latencies and last
	var latencies []time.Duration
	var last time.Time
	done := make(chan struct{})
	var wg sync.WaitGroup
	remaining := count
	deadline := time.Now().Add(timeout)
	for _, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				select {
				case <-done:
					return
				default:
				}
				msgs, err := sub.Fetch(500, nats.MaxWait(100*time.Millisecond))
				if err != nil && !errors.Is(err, nats.ErrTimeout) {
					logf("fetch: %v", err)
				}
				for _, msg := range msgs {
					now := time.Now()
					m, err := decodeEnvelope("current", msg.Data)
					i, perr := strconv.ParseInt(strings.TrimPrefix(m.EventID, "go-"), 10, 64)
					if err != nil || perr != nil || i < 0 || i >= count {
						logf("undecodable message on %s", msg.Subject)
						continue
					}
					_ = msg.Ack()
					mu.Lock()
					latencies = append(latencies, now.Sub(sentAt[i]))
					last = now
					remaining--
					if remaining == 0 {
						close(done)
					}
					mu.Unlock()
				}
			}
		}()
	}

	start := time.Now()
	futures := make([]nats.PubAckFuture, 0, count)
	for i := int64(0); i < count; i++ {
		data, err := encodeEnvelope("current", testMessage(i, aggregates))
		if err != nil {
			return seedRun{}, err
		}
		mu.Lock()
		sentAt[i] = time.Now()
		mu.Unlock()
		f, err := js.PublishAsync(topics[(i%aggregates)%seedTopics], data)
		if err != nil {
			logf("publish: %v", err)
			continue
		}
		futures = append(futures, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Until(deadline)):
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
			run.published++
		default:
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	run.received = int64(len(latencies))
	run.seconds = last.Sub(start).Seconds()
	if run.received > 0 {
		slices.Sort(latencies)
		run.p50 = latencies[len(latencies)/2]
		run.p99 = latencies[len(latencies)*99/100]
	}
	return run, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
