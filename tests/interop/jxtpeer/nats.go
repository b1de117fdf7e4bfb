package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// natsConnect opens the connection and the legacy JetStreamContext that
// jxt-core's nats.go used (PublishAsyncMaxPending 100000).
func natsConnect(url string) (*nats.Conn, nats.JetStreamContext, error) {
	nc, err := nats.Connect(url, nats.Name("jxtpeer"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", url, err)
	}
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(100000))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// ensureStream imitates jxt-core's one stream per bus: file storage, limits
// retention, created when missing and otherwise left exactly as it is.
func ensureStream(js nats.JetStreamContext, name, subjects string) error {
	_, err := js.StreamInfo(name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, nats.ErrStreamNotFound) {
		return fmt.Errorf("stream info %s: %w", name, err)
	}
	var subs []string
	for _, s := range strings.Split(subjects, ",") {
		if s = strings.TrimSpace(s); s != "" {
			subs = append(subs, s)
		}
	}
	_, err = js.AddStream(&nats.StreamConfig{
		Name:      name,
		Subjects:  subs,
		Storage:   nats.FileStorage,
		Retention: nats.LimitsPolicy,
	})
	if err != nil && !errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("add stream %s: %w", name, err)
	}
	logf("created stream %s subjects %v", name, subs)
	return nil
}

// durableName imitates jxt-core's per-topic durable: <base>-unified_<topic>
// with "." → "_", "*" → "wildcard", ">" → "all".
func durableName(base, topic string) string {
	r := strings.NewReplacer(".", "_", "*", "wildcard", ">", "all")
	return base + "-unified_" + r.Replace(topic)
}

func natsProduceCmd(args []string) error {
	o, err := parseFlags("nats-produce", args, "url", "stream", "subjects",
		"topic", "gen", "count", "aggregates", "start", "timeout")
	if err != nil {
		return err
	}
	nc, js, err := natsConnect(o.url)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err = ensureStream(js, o.stream, o.subjects); err != nil {
		return err
	}
	// PublishAsync with subject = topic and no headers, as jxt-core did;
	// then wait for every ack future and count the failures.
	var failed int64
	futures := make([]nats.PubAckFuture, 0, o.count)
	for i := o.start; i < o.start+o.count; i++ {
		data, err := encodeEnvelope(o.gen, testMessage(i, o.aggregates))
		if err != nil {
			return err
		}
		f, err := js.PublishAsync(o.topic, data)
		if err != nil {
			if failed++; failed <= 5 {
				logf("publish: %v", err)
			}
			continue
		}
		futures = append(futures, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(o.timeout):
		logf("timeout waiting for %d acks", js.PublishAsyncPending())
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
			continue
		case err = <-f.Err():
		default:
			err = errors.New("no ack before timeout")
		}
		if failed++; failed <= 5 {
			logf("publish ack: %v", err)
		}
	}
	printf("produced %d failed %d\n", o.count-failed, failed)
	if failed > 0 {
		return errFailed
	}
	return nil
}

func natsConsumeCmd(args []string) error {
	o, err := parseFlags("nats-consume", args, "url", "stream", "subjects",
		"topic", "durable", "gen", "count", "timeout")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(o.timeout)
	nc, js, err := natsConnect(o.url)
	if err != nil {
		return err
	}
	// Close without Unsubscribe: Unsubscribe would delete the durable
	// consumer the library created, losing the position for the next reader.
	defer nc.Close()
	if err = ensureStream(js, o.stream, o.subjects); err != nil {
		return err
	}
	sub, err := js.PullSubscribe(o.topic, durableName(o.durable, o.topic))
	if err != nil {
		return fmt.Errorf("pull subscribe %s: %w", o.topic, err)
	}
	// jxt-core's pull loop: Fetch(500, MaxWait 100ms), timeouts just go
	// round again, each message handled in order and then acked. The batch
	// is capped at what is still wanted so nothing extra is delivered.
	var seen int64
	for seen < o.count && time.Now().Before(deadline) {
		batch := min(int64(500), o.count-seen)
		msgs, err := sub.Fetch(int(batch), nats.MaxWait(100*time.Millisecond))
		if err != nil && !errors.Is(err, nats.ErrTimeout) {
			logf("fetch: %v", err)
		}
		for _, msg := range msgs {
			if seen >= o.count {
				_ = msg.Nak()
				continue
			}
			var seq uint64
			if meta, err := msg.Metadata(); err == nil {
				seq = meta.Sequence.Stream
			}
			headers := map[string]string{}
			for k, v := range msg.Header {
				if len(v) > 0 {
					headers[k] = v[0]
				}
			}
			printRecord(o.gen, 0, int64(seq), "", headers, msg.Data)
			seen++
			if seen == o.count {
				err = msg.AckSync()
			} else {
				err = msg.Ack()
			}
			if err != nil {
				logf("ack: %v", err)
			}
		}
	}
	if err := nc.Flush(); err != nil {
		logf("flush: %v", err)
	}
	printf("consumed %d\n", seen)
	if seen < o.count {
		logf("timeout after %s: %d of %d messages", o.timeout, seen, o.count)
		return errFailed
	}
	return nil
}
