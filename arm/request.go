package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/galleonhq/galleon"
)

// decodeBody reads the request's JSON body into v, turning every way it can
// be wrong into an InvalidRequestContent error that says where.
func (s *Server) decodeBody(c *call, v any) error {
	max := s.MaxBodyBytes
	if max <= 0 {
		max = 4 << 20
	}
	body := http.MaxBytesReader(c.w, c.r.Body, max)
	data, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return galleon.ReasonErrorf(galleon.ETooLarge, "RequestEntityTooLarge",
			"The request body is larger than the %d-byte limit. Send a smaller body.", max)
	} else if err != nil {
		return galleon.ReasonErrorf(galleon.EInvalid, "InvalidRequestContent", "The request body could not be read: %v.", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return galleon.ReasonErrorf(galleon.EInvalid, "InvalidRequestContent", "The request body is empty; this operation needs a JSON body.")
	}
	return decodeJSON(data, v)
}

func decodeJSON(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn):
		return galleon.ReasonErrorf(galleon.EInvalid, "InvalidRequestContent",
			"The request content was invalid and could not be deserialized: malformed JSON at byte %d: %s.", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRequestContent",
			Message: fmt.Sprintf("The request content was invalid and could not be deserialized: '%s' must be %s, not a JSON %s.", field, jsonTypeName(typ.Type.Kind().String()), typ.Value)}).WithTarget(field)
	default:
		return galleon.ReasonErrorf(galleon.EInvalid, "InvalidRequestContent",
			"The request content was invalid and could not be deserialized: %v.", err)
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64", "float32", "uint", "uint64", "uint32":
		return "a number"
	}
	return "a " + kind
}

// page is ARM's list envelope.
type page struct {
	Value    any    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// nextLink returns the absolute URL of the next page: the request's path and
// query (api-version included) with $skiptoken replaced.
func (s *Server) nextLink(c *call, token string) string {
	if token == "" {
		return ""
	}
	q := url.Values{}
	for k, v := range c.r.URL.Query() {
		if !strings.EqualFold(k, "$skiptoken") && !strings.EqualFold(k, "$skipToken") {
			q[k] = v
		}
	}
	q.Set("$skiptoken", token)
	return s.BaseURL + c.r.URL.EscapedPath() + "?" + q.Encode()
}

// pageSize reads $top (1..1000), defaulting to def.
func pageSize(c *call, def int) (int, error) {
	t := c.r.URL.Query().Get("$top")
	if t == "" {
		return def, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > 1000 {
		return 0, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidTopParameter",
			Message: fmt.Sprintf("The value '%s' of $top is invalid: give a whole number from 1 to 1000.", t)}).WithTarget("$top")
	}
	return n, nil
}

func skipToken(c *call) string {
	q := c.r.URL.Query()
	if t := q.Get("$skiptoken"); t != "" {
		return t
	}
	return q.Get("$skipToken")
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
