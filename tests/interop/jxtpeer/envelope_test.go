package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const payload7 = `{"i":7,"agg":"agg-7","text":"x<>&é","price":763.20}`

func TestTestMessage(t *testing.T) {
	m := testMessage(17, 10)
	if m.AggregateID != "agg-7" || m.EventVersion != 2 || m.EventID != "go-17" ||
		m.TraceID != "trace-17" || m.CorrelationID != "corr-17" || m.TenantID != 2 {
		t.Fatalf("unexpected message %+v", m)
	}
	if got := testMessage(18, 10); got.CorrelationID != "" || got.TenantID != 0 {
		t.Fatalf("message 18: %+v", got)
	}
}

// The raw payload of gen current must be on the wire byte for byte.
func TestCurrentPayloadIsVerbatim(t *testing.T) {
	m := testMessage(7, 10)
	if string(m.Payload) != payload7 {
		t.Fatalf("payload %s", m.Payload)
	}
	b, err := encodeEnvelope(genCurrent, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte(`,"payload":`+payload7+`}`)) {
		t.Fatalf("payload not verbatim: %s", b)
	}
	got, err := decodeEnvelope(genCurrent, b)
	if err != nil || string(got.Payload) != payload7 {
		t.Fatalf("decode: %v %s", err, got.Payload)
	}
}

func TestKeyOrder(t *testing.T) {
	want := map[string]string{
		genSeed:    "aggregate_id event_type event_version timestamp trace_id correlation_id payload",
		genEventID: "event_id aggregate_id event_type event_version timestamp trace_id correlation_id payload",
		genCurrent: "event_id aggregate_id event_type event_version timestamp trace_id correlation_id tenant_id payload",
	}
	for gen, keys := range want {
		b, err := encodeEnvelope(gen, testMessage(7, 10))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		var got []string
		dec.Token() // {
		for dec.More() {
			k, _ := dec.Token()
			got = append(got, k.(string))
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Join(got, " ") != keys {
			t.Errorf("%s: keys %v", gen, got)
		}
		m, err := decodeEnvelope(gen, b)
		if err != nil || string(m.Payload) != payload7 {
			t.Errorf("%s: round trip %v %s", gen, err, m.Payload)
		}
	}
}

func TestValidation(t *testing.T) {
	cases := map[string]string{
		`{"event_id":"e","aggregate_id":"a b","event_type":"t","event_version":1,"payload":{}}`:                             "invalid character",
		`{"event_id":"e","aggregate_id":"a","event_type":" ","event_version":1,"payload":{}}`:                               "event_type is required",
		`{"event_id":"e","aggregate_id":"a","event_type":"t","event_version":0,"payload":{}}`:                               "event_version must be positive",
		`{"aggregate_id":"a","event_type":"t","event_version":1,"payload":{}}`:                                              "event_id is required",
		`{"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1}`:                                            "payload is required",
		`{"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"x"}`:                            "failed to unmarshal",
		`{"event_id":"e","aggregate_id":"` + strings.Repeat("a", 257) + `","event_type":"t","event_version":1,"payload":1}`: "too long",
	}
	for in, want := range cases {
		if _, err := decodeEnvelope(genCurrent, []byte(in)); err == nil ||
			!strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

func TestWireTimestamp(t *testing.T) {
	in := `{"timestamp":"2024-01-02T03:04:05.100+08:00"}`
	if got := wireTimestamp([]byte(in)); got != "2024-01-02T03:04:05.100+08:00" {
		t.Fatalf("got %q", got)
	}
}
