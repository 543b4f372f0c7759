package cebus

import (
	"encoding/json"
	"fmt"
	"time"

	cloudeventsv1 "github.com/cebus/cebus/sdks/go/gen/io/cloudevents/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Event is a CloudEvent in the CloudEvents Protobuf format, exactly as it travels (the generated type).
type Event = cloudeventsv1.CloudEvent

// EventOption sets an optional attribute of an event made by NewEvent.
type EventOption func(*Event) error

// NewEvent makes a CloudEvent. data may be []byte (binary), string (text) or any other value (encoded as JSON with
// datacontenttype application/json); nil means no data. The id defaults to a random UUID (version 4).
func NewEvent(source, eventType string, data any, options ...EventOption) (*Event, error) {
	event := &Event{Id: newID(), Source: source, SpecVersion: "1.0", Type: eventType, Attributes: map[string]*cloudeventsv1.CloudEvent_CloudEventAttributeValue{}}
	switch d := data.(type) {
	case nil:
	case []byte:
		event.Data = &cloudeventsv1.CloudEvent_BinaryData{BinaryData: d}
	case string:
		event.Data = &cloudeventsv1.CloudEvent_TextData{TextData: d}
	default:
		encoded, err := json.Marshal(d)
		if err != nil {
			return nil, &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("event data cannot be encoded as JSON (%v); pass []byte or string instead", err)}
		}
		event.Data = &cloudeventsv1.CloudEvent_TextData{TextData: string(encoded)}
		setString(event, "datacontenttype", "application/json")
	}
	for _, option := range options {
		if err := option(event); err != nil {
			return nil, err
		}
	}
	return event, nil
}

// WithID sets the event id (with the source, what identifies the event for dedupe).
func WithID(id string) EventOption {
	return func(e *Event) error { e.Id = id; return nil }
}

// WithPartitionKey sets the partitionkey extension: events of one key keep their order.
func WithPartitionKey(key string) EventOption {
	return func(e *Event) error { setString(e, "partitionkey", key); return nil }
}

// WithSubject sets the subject attribute.
func WithSubject(subject string) EventOption {
	return func(e *Event) error { setString(e, "subject", subject); return nil }
}

// WithTime sets the time attribute.
func WithTime(t time.Time) EventOption {
	return func(e *Event) error {
		e.Attributes["time"] = &cloudeventsv1.CloudEvent_CloudEventAttributeValue{Attr: &cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeTimestamp{CeTimestamp: timestamppb.New(t)}}
		return nil
	}
}

// WithExtension sets an extension attribute (a string value).
func WithExtension(name, value string) EventOption {
	return func(e *Event) error { setString(e, name, value); return nil }
}

func setString(e *Event, name, value string) {
	e.Attributes[name] = &cloudeventsv1.CloudEvent_CloudEventAttributeValue{Attr: &cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeString{CeString: value}}
}

// Attribute returns an optional or extension attribute as a string ("" when absent).
func Attribute(e *Event, name string) string {
	v := e.GetAttributes()[name]
	switch a := v.GetAttr().(type) {
	case *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeString:
		return a.CeString
	case *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeUri:
		return a.CeUri
	case *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeUriRef:
		return a.CeUriRef
	case *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeInteger:
		return fmt.Sprint(a.CeInteger)
	case *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeBoolean:
		return fmt.Sprint(a.CeBoolean)
	case *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeTimestamp:
		return a.CeTimestamp.AsTime().Format(time.RFC3339Nano)
	}
	return ""
}

// Data returns the event's data as bytes (text data as its UTF-8 bytes).
func Data(e *Event) []byte {
	switch d := e.GetData().(type) {
	case *cloudeventsv1.CloudEvent_BinaryData:
		return d.BinaryData
	case *cloudeventsv1.CloudEvent_TextData:
		return []byte(d.TextData)
	}
	return nil
}
