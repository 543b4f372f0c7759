package cebus

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	cloudeventsv1 "github.com/cebus/cebus/sdks/go/gen/io/cloudevents/v1"
)

// specVersion is the CloudEvents version Cebus speaks.
const specVersion = "1.0"

// fieldAttributes are the context attributes carried as fields of the Protobuf CloudEvent, never in its map.
var fieldAttributes = map[string]bool{"id": true, "source": true, "specversion": true, "type": true}

// attributeName is the CloudEvents rule for attribute names: lower-case letters and digits.
var attributeName = regexp.MustCompile(`^[a-z0-9]+$`)

// validateEvent checks an event against the CloudEvents spec as the broker does, so a single publish fails alone
// before it joins a batch. The error names the field under path (e.g. "event.type") and says how to fix it.
func validateEvent(e *Event, path string) error {
	fail := func(field, message string) error {
		return &Error{Code: CodeInvalidArgument, Field: path + "." + field, Message: path + "." + field + " " + message}
	}
	switch {
	case e.GetId() == "":
		return fail("id", "is missing; set a unique id, e.g. a UUID")
	case e.GetSource() == "":
		return fail("source", "is missing; set a URI-reference naming the producer, e.g. /orders-service")
	case e.GetType() == "":
		return fail("type", "is missing; set a type, e.g. com.example.order.created")
	case e.GetSpecVersion() == "":
		return fail("specversion", fmt.Sprintf("is missing; set it to '%s'", specVersion))
	case e.GetSpecVersion() != specVersion:
		return fail("specversion", fmt.Sprintf("is '%s' but Cebus speaks CloudEvents '%s'; set it to '%s'", e.GetSpecVersion(), specVersion, specVersion))
	}
	for _, name := range slices.Sorted(maps.Keys(e.GetAttributes())) { // the same event, the same error
		value := e.GetAttributes()[name]
		field := "attributes." + name
		switch {
		case fieldAttributes[name]:
			return fail(field, fmt.Sprintf("must not be in the attribute map; set the '%s' field instead", name))
		case !attributeName.MatchString(name):
			return fail(field, "is not a valid attribute name; use lower-case letters a-z and digits 0-9 only")
		case value.GetAttr() == nil:
			return fail(field, "has no value; set one of its typed values or remove it")
		}
	}
	if time := e.GetAttributes()["time"]; time != nil {
		switch time.GetAttr().(type) {
		case *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeTimestamp, *cloudeventsv1.CloudEvent_CloudEventAttributeValue_CeString:
		default:
			return fail("attributes.time", "must be a timestamp")
		}
	}
	return nil
}
