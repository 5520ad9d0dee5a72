package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/galleonhq/galleon"
)

// maxBodyBytes bounds admin and Graph request bodies.
const maxBodyBytes = 1 << 20

// Reasons for request-body errors.
const (
	ReasonInvalidRequestContent  = "InvalidRequestContent"
	ReasonRequestContentTooLarge = "RequestContentTooLarge"
	ReasonInvalidParameter       = "InvalidParameter"
)

// decodeBody reads a JSON object of at most maxBodyBytes into v, a pointer
// to a struct. When strict, fields v does not have are rejected, naming the
// first one. Errors are *galleon.Error: EInvalid with Reason
// InvalidRequestContent, or ETooLarge.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return galleon.ReasonErrorf(galleon.ETooLarge, ReasonRequestContentTooLarge,
			"The request body is larger than %d bytes. Send a smaller JSON object.", maxBodyBytes)
	} else if err != nil {
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent, "The request body could not be read: %v.", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent,
			"The request body is empty. Send a JSON object with the fields this operation takes.")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return contentError(err)
	}
	if strict {
		known := jsonFieldNames(v)
		for name := range fields {
			if !known[strings.ToLower(name)] {
				return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent,
					"The request body has an unknown field '%s'. Remove it; this operation takes %s.", truncate(name), fieldList(v)).WithTarget(truncate(name))
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return contentError(err)
	}
	return nil
}

// contentError explains a JSON decoding error.
func contentError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent,
			"The request body is not valid JSON: %v (at byte %d).", syn, syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent,
			"The request body field '%s' must be a JSON %s, not %s.", typ.Field, jsonKind(typ.Type), typ.Value).WithTarget(typ.Field)
	case errors.As(err, &typ):
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent,
			"The request body must be a JSON object, not %s.", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent, "The request body is truncated JSON.")
	}
	return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidRequestContent, "The request body is not valid JSON: %v.", err)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// jsonFieldNames returns the lower-cased JSON names of the fields of the
// struct v points to (encoding/json matches names case-insensitively).
func jsonFieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		out[strings.ToLower(jsonName(t.Field(i)))] = true
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func fieldList(v any) string {
	t := reflect.TypeOf(v).Elem()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = "'" + jsonName(t.Field(i)) + "'"
	}
	return strings.Join(names, ", ")
}

// invalidParam returns an EInvalid error naming field.
func invalidParam(field, format string, args ...any) error {
	return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidParameter, format, args...).WithTarget(field)
}

// apiErrorBody is the error reply of the admin API.
type apiErrorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Code       string           `json:"code"`
	Message    string           `json:"message"`
	Target     string           `json:"target,omitempty"`
	InnerError *graphInnerError `json:"innerError,omitempty"`
}

type graphInnerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id,omitempty"`
}

// graphReasons are Microsoft Graph's codes for errors that carry no
// specific reason.
var graphReasons = map[string]string{
	galleon.EInvalid:   "Request_BadRequest",
	galleon.ENotFound:  "Request_ResourceNotFound",
	galleon.EForbidden: "Authorization_RequestDenied",
	galleon.EConflict:  "Request_MultipleObjectsWithSameKeyValue",
}

// writeAPIError writes err as {"error":{"code","message","target"}} with
// the status its code maps to. Graph replies also carry innerError.
func (s *Service) writeAPIError(w http.ResponseWriter, r *http.Request, err error, graph bool) {
	code := galleon.ErrorCode(err)
	reason := galleon.ErrorReason(err)
	if code == galleon.EInternal {
		ids := galleon.RequestIDsFromContext(r.Context())
		s.logger().Error("identity API request failed", "method", r.Method, "path", r.URL.Path, "requestId", ids.RequestID, "err", err)
	}
	body := apiError{Code: reason, Message: galleon.ErrorMessage(err)}
	if e := galleon.AsError(err); e != nil {
		body.Target = e.Target
		if graph && e.Reason == "" && graphReasons[code] != "" {
			body.Code = graphReasons[code]
		}
	}
	if graph {
		ids := galleon.RequestIDsFromContext(r.Context())
		body.InnerError = &graphInnerError{
			Date:            s.now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       ids.RequestID,
			ClientRequestID: r.Header.Get("client-request-id"),
		}
	}
	if code == galleon.EUnauthenticated {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="%s/common/oauth2/v2.0/authorize", error="invalid_token", error_description=%q`,
			s.baseURL(), body.Message))
	}
	writeJSON(w, galleon.HTTPStatus(code), apiErrorBody{Error: body})
}

// errMethodNotAllowed is written directly: the error table has no 405.
func writeMethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed []string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, apiErrorBody{Error: apiError{
		Code:    "MethodNotAllowed",
		Message: fmt.Sprintf("The method '%s' is not allowed on '%s'. Allowed: %s.", r.Method, r.URL.Path, strings.Join(allowed, ", ")),
	}})
}

// route is one entry of the admin and Graph routing tables.
type route struct {
	method  string
	pattern string
	handle  func(*apiRequest) (int, any, error)
}

// apiRequest is what a route handler gets.
type apiRequest struct {
	w    http.ResponseWriter
	r    *http.Request
	p    *galleon.Principal
	vars []string
}

// audit records a write on the request's audit note, when there is one.
func (a *apiRequest) audit(resourceID, action string) {
	if n := galleon.AuditNoteFromContext(a.r.Context()); n != nil {
		n.Principal = a.p
		n.ResourceID = resourceID
		n.Action = action
	}
}

// serveAPI authenticates the caller, finds the route and writes its result.
func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request, routes []route, graph bool) {
	segs := splitPath(r.URL.Path)
	var allowed []string
	var found *route
	var vars []string
	for i := range routes {
		v, ok := match(segs, routes[i].pattern)
		if !ok {
			continue
		}
		if routes[i].method == r.Method || (r.Method == http.MethodHead && routes[i].method == http.MethodGet) {
			found, vars = &routes[i], v
			break
		}
		if !slices.Contains(allowed, routes[i].method) {
			allowed = append(allowed, routes[i].method)
		}
	}
	p, err := s.Authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		s.writeAPIError(w, r, err, graph)
		return
	}
	if found == nil && len(allowed) > 0 {
		writeMethodNotAllowed(w, r, allowed)
		return
	}
	if found == nil {
		s.writeAPIError(w, r, galleon.ReasonErrorf(galleon.ENotFound, "NotFound",
			"No operation matches '%s %s'. Check the path against the API reference.", r.Method, truncate(r.URL.Path)), graph)
		return
	}
	r = r.WithContext(galleon.NewContextWithPrincipal(r.Context(), p))
	status, v, err := found.handle(&apiRequest{w: w, r: r, p: p, vars: vars})
	if err != nil {
		s.writeAPIError(w, r, err, graph)
		return
	}
	if status == http.StatusNoContent || v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// list wraps items as {"value": [...]}, never null.
func list[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"value": items}
}
