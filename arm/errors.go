package arm

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/galleonhq/galleon"
)

// cloudError is ARM's error body.
type cloudError struct {
	Error cloudErrorBody `json:"error"`
}

type cloudErrorBody struct {
	Code    string           `json:"code"`
	Message string           `json:"message"`
	Target  string           `json:"target,omitempty"`
	Details []cloudErrorBody `json:"details,omitempty"`
}

func errorBody(err error) cloudErrorBody {
	b := cloudErrorBody{Code: galleon.ErrorReason(err), Message: galleon.ErrorMessage(err)}
	if e := galleon.AsError(err); e != nil {
		b.Target = e.Target
	}
	return b
}

// writeError writes err as a CloudError with the status its code maps to.
// Internal errors are logged with the request ID and shown generically.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := galleon.ErrorCode(err)
	status := galleon.HTTPStatus(code)
	if code == galleon.EInternal {
		ids := galleon.RequestIDsFromContext(r.Context())
		s.logger().Error("internal error", "err", err, "method", r.Method, "path", r.URL.Path, "requestId", ids.RequestID)
	}
	if e := galleon.AsError(err); e != nil && code == galleon.EUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+s.BaseURL+`/`+s.authTenantHint(r)+`", error="invalid_token", error_description="`+sanitizeHeader(e.Message)+`"`)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, cloudError{Error: errorBody(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Default().Error("encode response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"InternalServerError","message":"The server could not encode its response."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func sanitizeHeader(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		switch {
		case c == '"':
			out = append(out, '\'')
		case c < 0x20 || c > 0x7e:
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
