package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// kafkaVersion is the protocol version sarama is told the broker speaks.
var kafkaVersion = sarama.V3_6_0_0

// kafkaConfig imitates the producer/consumer settings of jxt-core's kafka.go.
func kafkaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "jxtpeer"
	c.Version = kafkaVersion
	// Producer: acks=all, idempotent, one request in flight (keeps order),
	// hash partitioner on the key (= aggregate id), as jxt-core did.
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	// Consumer group: start at the oldest offset, auto-commit marked offsets.
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Return.Errors = true
	return c
}

func init() {
	if os.Getenv("JXTPEER_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "sarama: ", log.LstdFlags)
	}
}

func brokerList(s string) []string {
	var bs []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			bs = append(bs, b)
		}
	}
	return bs
}

// ensureTopic creates topic with the given partitions (RF 1) if it is
// missing, and waits until the client's metadata shows it.
func ensureTopic(client sarama.Client, brokers []string, topic string,
	partitions int, deadline time.Time) error {
	admin, err := sarama.NewClusterAdmin(brokers, kafkaConfig())
	if err != nil {
		return fmt.Errorf("cluster admin: %w", err)
	}
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	if _, ok := topics[topic]; !ok {
		err = admin.CreateTopic(topic, &sarama.TopicDetail{
			NumPartitions: int32(partitions), ReplicationFactor: 1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		logf("created topic %s with %d partitions", topic, partitions)
	}
	for {
		if err = client.RefreshMetadata(topic); err == nil {
			var ps []int32
			if ps, err = client.Partitions(topic); err == nil && len(ps) > 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s not in metadata: %v", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kafkaHeaders imitates the record headers of jxt-core's PublishEnvelope.
func kafkaHeaders(gen string, m message) []sarama.RecordHeader {
	h := func(k, v string) sarama.RecordHeader {
		return sarama.RecordHeader{Key: []byte(k), Value: []byte(v)}
	}
	hs := []sarama.RecordHeader{
		h("X-Aggregate-ID", m.AggregateID),
		h("X-Event-Version", strconv.FormatInt(m.EventVersion, 10)),
		h("X-Event-Type", m.EventType),
	}
	if m.TraceID != "" {
		hs = append(hs, h("X-Trace-ID", m.TraceID))
	}
	if m.CorrelationID != "" {
		hs = append(hs, h("X-Correlation-ID", m.CorrelationID))
	}
	if gen != genSeed {
		hs = append(hs, h("X-Event-ID", m.EventID))
	}
	if gen == genCurrent && m.TenantID != 0 {
		hs = append(hs, h("X-Tenant-ID", strconv.FormatInt(m.TenantID, 10)))
	}
	return hs
}

func kafkaProduceCmd(args []string) error {
	o, err := parseFlags("kafka-produce", args, "brokers", "topic", "gen",
		"count", "aggregates", "partitions", "start", "timeout")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(o.timeout)
	brokers := brokerList(o.brokers)
	client, err := sarama.NewClient(brokers, kafkaConfig())
	if err != nil {
		return fmt.Errorf("connect %s: %w", o.brokers, err)
	}
	defer client.Close()
	if err = ensureTopic(client, brokers, o.topic, o.partitions, deadline); err != nil {
		return err
	}
	producer, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}

	// Drain results while feeding Input in publish order; the idempotent
	// producer with one open request keeps that order per partition.
	// allDone closes when every message has a result: only then is the
	// producer closed, as jxt-core's long-lived producer never raced its own
	// shutdown (sarama fails a message still being retried at AsyncClose with
	// ErrShuttingDown).
	var ok, failed atomic.Int64
	allDone := make(chan struct{})
	var once sync.Once
	settle := func() {
		if ok.Load()+failed.Load() == o.count {
			once.Do(func() { close(allDone) })
		}
	}
	if o.count == 0 {
		settle()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range producer.Successes() {
			ok.Add(1)
			settle()
		}
	}()
	go func() {
		defer wg.Done()
		for e := range producer.Errors() {
			if failed.Add(1) <= 5 {
				logf("produce failed: %v", e.Err)
			}
			settle()
		}
	}()
	for i := o.start; i < o.start+o.count; i++ {
		m := testMessage(i, o.aggregates)
		value, err := encodeEnvelope(o.gen, m)
		if err != nil {
			return err
		}
		producer.Input() <- &sarama.ProducerMessage{
			Topic:   o.topic,
			Key:     sarama.StringEncoder(m.AggregateID),
			Value:   sarama.ByteEncoder(value),
			Headers: kafkaHeaders(o.gen, m),
		}
	}
	select {
	case <-allDone:
	case <-time.After(time.Until(deadline)):
		logf("timeout waiting for acks")
		printf("produced %d failed %d\n", ok.Load(), o.count-ok.Load())
		producer.AsyncClose()
		wg.Wait()
		return errFailed
	}
	producer.AsyncClose()
	wg.Wait()
	printf("produced %d failed %d\n", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		return errFailed
	}
	return nil
}

// groupHandler prints and marks records until the wanted count is seen.
type groupHandler struct {
	gen    string
	want   int64
	mu     sync.Mutex
	seen   int64
	cancel context.CancelFunc
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error { return nil }

func (h *groupHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	return nil
}

func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession,
	claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case rec, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !h.handle(rec) {
				return nil // enough seen; leave the rest unmarked
			}
			s.MarkMessage(rec, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func (h *groupHandler) handle(rec *sarama.ConsumerMessage) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen >= h.want {
		return false
	}
	headers := map[string]string{}
	for _, hd := range rec.Headers {
		if _, dup := headers[string(hd.Key)]; !dup {
			headers[string(hd.Key)] = string(hd.Value)
		}
	}
	printRecord(h.gen, rec.Partition, rec.Offset, string(rec.Key), headers,
		rec.Value)
	h.seen++
	if h.seen == h.want {
		h.cancel()
	}
	return true
}

func (h *groupHandler) count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen
}

func kafkaConsumeCmd(args []string) error {
	o, err := parseFlags("kafka-consume", args, "brokers", "topic", "gen",
		"group", "count", "timeout")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	done, stop := context.WithCancel(ctx)
	defer stop()
	h := &groupHandler{gen: o.gen, want: o.count, cancel: stop}
	if o.count == 0 {
		printf("consumed 0\n")
		return nil
	}
	group, err := sarama.NewConsumerGroup(brokerList(o.brokers), o.group,
		kafkaConfig())
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	go func() {
		for e := range group.Errors() {
			logf("consumer group: %v", e)
		}
	}()
	for done.Err() == nil {
		err := group.Consume(done, []string{o.topic}, h)
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			break
		}
		if err != nil {
			logf("consume: %v", err)
			select {
			case <-done.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	// Close leaves the group cleanly and commits the marked offsets.
	if err := group.Close(); err != nil {
		logf("closing consumer group: %v", err)
	}
	n := h.count()
	printf("consumed %d\n", n)
	if n < o.count {
		logf("timeout after %s: %d of %d records", o.timeout, n, o.count)
		return errFailed
	}
	return nil
}
