// Command jxtpeer is a test peer that speaks the wire formats of the Go event
// bus jxt-core (Kafka via sarama, NATS JetStream via nats.go) so that evbus's
// interop tests can produce for it and consume from it. See README.md.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

const usage = `usage:
  jxtpeer kafka-produce --brokers B --topic T --gen G --count N --aggregates A [--partitions P] [--start S] [--timeout D]
  jxtpeer kafka-consume --brokers B --topic T --gen G --group GROUP --count N [--timeout D]
  jxtpeer nats-produce  --url U --stream S --subjects SUBJ --topic T --gen G --count N --aggregates A [--start S] [--timeout D]
  jxtpeer nats-consume  --url U --stream S --subjects SUBJ --topic T --durable BASE --gen G --count N [--timeout D]
  jxtpeer nats-seed     --url U --count N [--reps R] [--timeout D]   (jxt-core's seed workload, timed)
generations: seed, event_id, current`

// errFailed marks an operational failure (exit 1) already reported.
var errFailed = errors.New("failed")

// badFlag is a command-line error (exit 2).
type badFlag struct{ msg string }

func (e badFlag) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	cmds := map[string]func([]string) error{
		"kafka-produce": kafkaProduceCmd,
		"kafka-consume": kafkaConsumeCmd,
		"nats-produce":  natsProduceCmd,
		"nats-consume":  natsConsumeCmd,
		"nats-seed":     natsSeedCmd,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "jxtpeer: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	err := cmd(args[1:])
	out.Flush()
	var bf badFlag
	switch {
	case err == nil:
		return 0
	case errors.As(err, &bf):
		fmt.Fprintf(os.Stderr, "jxtpeer %s: %s\n", args[0], bf.msg)
		return 2
	case errors.Is(err, errFailed):
		return 1
	default:
		fmt.Fprintf(os.Stderr, "jxtpeer %s: %v\n", args[0], err)
		return 1
	}
}

// opts holds every flag; each command registers the ones it takes.
type opts struct {
	brokers, topic, gen, group, url, stream, subjects, durable string
	count, aggregates, start, reps                             int64
	partitions                                                 int
	timeout                                                    time.Duration
}

// parseFlags parses args with the named flags and checks their values.
func parseFlags(name string, args []string, names ...string) (*opts, error) {
	o := &opts{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, n := range names {
		switch n {
		case "brokers":
			fs.StringVar(&o.brokers, n, "", "comma-separated Kafka bootstrap servers")
		case "topic":
			fs.StringVar(&o.topic, n, "", "Kafka topic or NATS subject")
		case "gen":
			fs.StringVar(&o.gen, n, "", "envelope generation")
		case "group":
			fs.StringVar(&o.group, n, "", "Kafka consumer group")
		case "url":
			fs.StringVar(&o.url, n, "", "NATS server URL")
		case "stream":
			fs.StringVar(&o.stream, n, "", "JetStream stream name")
		case "subjects":
			fs.StringVar(&o.subjects, n, "", "comma-separated stream subjects")
		case "durable":
			fs.StringVar(&o.durable, n, "business-consumer", "durable name base")
		case "count":
			fs.Int64Var(&o.count, n, -1, "number of messages")
		case "aggregates":
			fs.Int64Var(&o.aggregates, n, 0, "number of aggregates")
		case "reps":
			fs.Int64Var(&o.reps, n, 3, "counted repetitions")
		case "start":
			fs.Int64Var(&o.start, n, 0, "first message index")
		case "partitions":
			fs.IntVar(&o.partitions, n, 3, "partitions when creating the topic")
		case "timeout":
			fs.DurationVar(&o.timeout, n, 60*time.Second, "overall deadline")
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, badFlag{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, badFlag{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	for _, n := range names {
		if err := checkFlag(o, n); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func checkFlag(o *opts, n string) error {
	bad := func(v any, why string) error {
		return badFlag{fmt.Sprintf("bad value %v for --%s: %s", v, n, why)}
	}
	str := map[string]string{"brokers": o.brokers, "topic": o.topic,
		"group": o.group, "url": o.url, "stream": o.stream,
		"subjects": o.subjects, "durable": o.durable}
	if v, ok := str[n]; ok && strings.TrimSpace(v) == "" {
		return badFlag{fmt.Sprintf("--%s is required", n)}
	}
	switch n {
	case "gen":
		if o.gen == "" {
			return badFlag{"--gen is required"}
		}
		if !validGen(o.gen) {
			return bad(fmt.Sprintf("%q", o.gen), "want seed, event_id or current")
		}
	case "count":
		if o.count < 0 {
			return badFlag{"--count is required (>= 0)"}
		}
	case "aggregates":
		if o.aggregates <= 0 {
			return bad(o.aggregates, "want > 0")
		}
	case "reps":
		if o.reps <= 0 {
			return bad(o.reps, "want > 0")
		}
	case "start":
		if o.start < 0 {
			return bad(o.start, "want >= 0")
		}
	case "partitions":
		if o.partitions <= 0 {
			return bad(o.partitions, "want > 0")
		}
	case "timeout":
		if o.timeout <= 0 {
			return bad(o.timeout, "want > 0")
		}
	}
	return nil
}

// Output: stdout carries only the result lines, written under a lock.
var (
	out   = bufio.NewWriter(os.Stdout)
	outMu sync.Mutex
)

func printf(format string, a ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(out, format, a...)
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "jxtpeer: "+format+"\n", a...)
}

// recordLine is one consumed record as printed by the consume commands.
type recordLine struct {
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Key       string            `json:"key"`
	Headers   map[string]string `json:"headers"`
	OK        bool              `json:"ok"`
	*goodFields
	*badFields
}

type goodFields struct {
	EventID       string `json:"event_id"`
	AggregateID   string `json:"aggregate_id"`
	EventType     string `json:"event_type"`
	EventVersion  int64  `json:"event_version"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	TenantID      int64  `json:"tenant_id"`
	PayloadB64    string `json:"payload_b64"`
}

type badFields struct {
	Error  string `json:"error"`
	RawB64 string `json:"raw_b64"`
}

// printRecord decodes value as generation gen and prints its line.
func printRecord(gen string, partition int32, offset int64, key string,
	headers map[string]string, value []byte) {
	line := recordLine{Partition: partition, Offset: offset, Key: key,
		Headers: headers}
	if line.Headers == nil {
		line.Headers = map[string]string{}
	}
	if m, err := decodeEnvelope(gen, value); err != nil {
		line.badFields = &badFields{err.Error(),
			base64.StdEncoding.EncodeToString(value)}
	} else {
		line.OK = true
		line.goodFields = &goodFields{m.EventID, m.AggregateID, m.EventType,
			m.EventVersion, wireTimestamp(value), m.TraceID, m.CorrelationID,
			m.TenantID, base64.StdEncoding.EncodeToString(m.Payload)}
	}
	outMu.Lock()
	defer outMu.Unlock()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(line); err != nil {
		logf("encoding output line: %v", err)
	}
}
