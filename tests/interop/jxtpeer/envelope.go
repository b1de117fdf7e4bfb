package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The three wire generations of jxt-core's Envelope. Each is a struct whose
// field order and tags give the JSON key order jxt-core emitted.
const (
	genSeed    = "seed"     // jxt-core 917247d: no event_id, payload []byte (base64)
	genEventID = "event_id" // jxt-core bf8ec78: event_id added, payload still []byte
	genCurrent = "current"  // jxt-core cf575b6 and later: tenant_id, raw JSON payload
)

func validGen(g string) bool {
	return g == genSeed || g == genEventID || g == genCurrent
}

// seedEnvelope imitates the first Envelope (917247d).
type seedEnvelope struct {
	AggregateID   string    `json:"aggregate_id"`
	EventType     string    `json:"event_type"`
	EventVersion  int64     `json:"event_version"`
	Timestamp     time.Time `json:"timestamp"`
	TraceID       string    `json:"trace_id,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	Payload       []byte    `json:"payload"`
}

// eventIDEnvelope imitates the Envelope of bf8ec78 (before cf575b6).
type eventIDEnvelope struct {
	EventID       string    `json:"event_id"`
	AggregateID   string    `json:"aggregate_id"`
	EventType     string    `json:"event_type"`
	EventVersion  int64     `json:"event_version"`
	Timestamp     time.Time `json:"timestamp"`
	TraceID       string    `json:"trace_id,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	Payload       []byte    `json:"payload"`
}

// currentEnvelope imitates the Envelope from cf575b6 on.
type currentEnvelope struct {
	EventID       string          `json:"event_id"`
	AggregateID   string          `json:"aggregate_id"`
	EventType     string          `json:"event_type"`
	EventVersion  int64           `json:"event_version"`
	Timestamp     time.Time       `json:"timestamp"`
	TraceID       string          `json:"trace_id,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	TenantID      int64           `json:"tenant_id,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

// message is the generation-neutral content of one envelope.
type message struct {
	EventID       string
	AggregateID   string
	EventType     string
	EventVersion  int64
	Timestamp     time.Time
	TraceID       string
	CorrelationID string
	TenantID      int64
	Payload       []byte
}

// testMessage builds message i of a produce run (see README.md).
func testMessage(i, aggregates int64) message {
	agg := fmt.Sprintf("agg-%d", i%aggregates)
	m := message{
		EventID:      fmt.Sprintf("go-%d", i),
		AggregateID:  agg,
		EventType:    "interop.Tested",
		EventVersion: i/aggregates + 1,
		Timestamp:    time.Now(),
		TraceID:      fmt.Sprintf("trace-%d", i),
		TenantID:     i % 3,
		Payload: []byte(fmt.Sprintf(
			`{"i":%d,"agg":"%s","text":"x<>&é","price":763.20}`, i, agg)),
	}
	if i%2 == 1 {
		m.CorrelationID = fmt.Sprintf("corr-%d", i)
	}
	return m
}

// encodeEnvelope serialises m as generation gen would (jxt-core ToBytes).
// The encoder does not HTML-escape, so a raw payload (current) goes on the
// wire byte for byte: encoding/json only compacts a RawMessage, and the test
// payload has no insignificant whitespace. Base64 payloads and the plain
// ASCII strings are unaffected by the escaping choice.
func encodeEnvelope(gen string, m message) ([]byte, error) {
	var v any
	switch gen {
	case genSeed:
		v = seedEnvelope{m.AggregateID, m.EventType, m.EventVersion,
			m.Timestamp, m.TraceID, m.CorrelationID, m.Payload}
	case genEventID:
		v = eventIDEnvelope{m.EventID, m.AggregateID, m.EventType,
			m.EventVersion, m.Timestamp, m.TraceID, m.CorrelationID, m.Payload}
	case genCurrent:
		v = currentEnvelope{m.EventID, m.AggregateID, m.EventType,
			m.EventVersion, m.Timestamp, m.TraceID, m.CorrelationID,
			m.TenantID, json.RawMessage(m.Payload)}
	default:
		return nil, fmt.Errorf("unknown generation %q", gen)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeEnvelope imitates jxt-core's FromBytes for generation gen:
// encoding/json Unmarshal into that generation's struct, then Validate.
func decodeEnvelope(gen string, data []byte) (message, error) {
	var m message
	switch gen {
	case genSeed:
		var e seedEnvelope
		if err := json.Unmarshal(data, &e); err != nil {
			return m, fmt.Errorf("failed to unmarshal envelope: %w", err)
		}
		m = message{"", e.AggregateID, e.EventType, e.EventVersion,
			e.Timestamp, e.TraceID, e.CorrelationID, 0, e.Payload}
	case genEventID:
		var e eventIDEnvelope
		if err := json.Unmarshal(data, &e); err != nil {
			return m, fmt.Errorf("failed to unmarshal envelope: %w", err)
		}
		m = message{e.EventID, e.AggregateID, e.EventType, e.EventVersion,
			e.Timestamp, e.TraceID, e.CorrelationID, 0, e.Payload}
	case genCurrent:
		var e currentEnvelope
		if err := json.Unmarshal(data, &e); err != nil {
			return m, fmt.Errorf("failed to unmarshal envelope: %w", err)
		}
		m = message{e.EventID, e.AggregateID, e.EventType, e.EventVersion,
			e.Timestamp, e.TraceID, e.CorrelationID, e.TenantID, e.Payload}
	default:
		return m, fmt.Errorf("unknown generation %q", gen)
	}
	if err := validate(gen, m); err != nil {
		return m, fmt.Errorf("invalid envelope: %w", err)
	}
	return m, nil
}

// validate imitates Envelope.Validate (same checks, same order, same texts).
func validate(gen string, m message) error {
	if gen != genSeed && strings.TrimSpace(m.EventID) == "" {
		return errors.New("event_id is required")
	}
	if strings.TrimSpace(m.AggregateID) == "" {
		return errors.New("aggregate_id is required")
	}
	if strings.TrimSpace(m.EventType) == "" {
		return errors.New("event_type is required")
	}
	if m.EventVersion <= 0 {
		return errors.New("event_version must be positive")
	}
	if len(m.Payload) == 0 {
		return errors.New("payload is required")
	}
	if err := validateAggregateID(m.AggregateID); err != nil {
		return fmt.Errorf("invalid aggregate_id: %w", err)
	}
	return nil
}

// validateAggregateID imitates jxt-core's aggregate id rule:
// trimmed, non-empty, at most 256 bytes, only [A-Za-z0-9:_\-./].
func validateAggregateID(id string) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return errors.New("aggregate_id cannot be empty")
	}
	if len(id) > 256 {
		return errors.New("aggregate_id too long (max 256 characters)")
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			r >= '0' && r <= '9' || strings.ContainsRune(":_-./", r)
		if !ok {
			return fmt.Errorf("aggregate_id contains invalid character: %c", r)
		}
	}
	return nil
}

// wireTimestamp returns the timestamp text exactly as it was in the JSON
// (the string's contents, not re-formatted through time.Time).
func wireTimestamp(data []byte) string {
	var t struct {
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if json.Unmarshal(data, &t) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(t.Timestamp, &s) == nil {
		return s
	}
	return string(t.Timestamp)
}
