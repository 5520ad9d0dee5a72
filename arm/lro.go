package arm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// JobHandler runs one background job; see jobs.Worker.
type JobHandler = func(ctx context.Context, j *galleon.Job) error

// JobHandlers returns the background work the ARM layer queues, by job kind.
func (s *Server) JobHandlers() map[string]JobHandler {
	return map[string]JobHandler{
		jobDeleteResourceGroup:   s.runDeleteResourceGroup,
		jobDeleteGalleryResource: s.runDeleteGalleryResource,
		jobSealDisk:              s.runSealDisk,
	}
}

// startOperation records a long-running operation and queues the job that
// carries it out. Both rows are written before the client hears 202, so an
// acknowledged operation survives a crash.
func (s *Server) startOperation(c *call, kind, resourceID, jobKind string, payload any) (*galleon.Operation, error) {
	op := &galleon.Operation{
		ID:             uuid.NewString(),
		SubscriptionID: c.sub.ID,
		ResourceID:     resourceID,
		Kind:           kind,
		Status:         galleon.OperationInProgress,
		PrincipalID:    c.p.ObjectID,
		StartTime:      s.now(),
	}
	if err := s.Store.CreateOperation(c.ctx, op); err != nil {
		return nil, err
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", jobKind, err)
	}
	j := &galleon.Job{Kind: jobKind, Payload: body, MaxAttempts: 10, OperationID: op.ID}
	if err := s.Store.EnqueueJob(c.ctx, j); err != nil {
		return nil, err
	}
	return op, nil
}

func (s *Server) notify() {
	if s.Notify != nil {
		s.Notify()
	}
}

func (s *Server) retryAfter() time.Duration {
	if s.RetryAfter > 0 {
		return s.RetryAfter
	}
	return time.Second
}

func (s *Server) operationURLs(op *galleon.Operation, apiVersion string) (status, result string) {
	q := "?api-version=" + apiVersion
	status = s.BaseURL + "/subscriptions/" + op.SubscriptionID + "/providers/Microsoft.Resources/operations/" + op.ID + q
	result = s.BaseURL + "/subscriptions/" + op.SubscriptionID + "/operationresults/" + op.ID + q
	return status, result
}

// acceptOperation answers 202 Accepted with the polling headers for op.
func (s *Server) acceptOperation(c *call, op *galleon.Operation) {
	status, result := s.operationURLs(op, c.apiVersion)
	h := c.w.Header()
	h.Set("Azure-AsyncOperation", status)
	h.Set("Location", result)
	h.Set("Retry-After", strconv.Itoa(int(s.retryAfter().Seconds())))
	c.w.WriteHeader(http.StatusAccepted)
}

// loadOperation returns an operation the caller may see: the one who
// started it, or anyone who may read the subscription's resource groups at
// the resource's scope.
func (s *Server) loadOperation(c *call) (*galleon.Operation, error) {
	op, err := s.Store.GetOperation(c.ctx, c.v("op"))
	notFound := galleon.ReasonErrorf(galleon.ENotFound, "OperationNotFound", "The operation '%s' could not be found in subscription '%s'.", c.v("op"), c.sub.ID)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	if op.SubscriptionID != c.sub.ID {
		return nil, notFound
	}
	if op.PrincipalID != c.p.ObjectID {
		ok, err := s.Authz.Allowed(c.ctx, c.p, "Microsoft.Resources/subscriptions/resourceGroups/read", op.ResourceID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound
		}
	}
	return op, nil
}

func operationJSON(op *galleon.Operation, statusURL string) map[string]any {
	out := map[string]any{
		"id":              statusURL,
		"name":            op.ID,
		"status":          op.Status,
		"startTime":       op.StartTime.Format(time.RFC3339Nano),
		"percentComplete": op.PercentComplete,
	}
	if op.EndTime != nil {
		out["endTime"] = op.EndTime.Format(time.RFC3339Nano)
	}
	if op.Error != nil {
		out["error"] = errorBody(op.Error)
	}
	return out
}

// getOperationStatus serves the Azure-AsyncOperation resource.
func (s *Server) getOperationStatus(c *call) error {
	op, err := s.loadOperation(c)
	if err != nil {
		return err
	}
	if !op.Done() {
		c.w.Header().Set("Retry-After", strconv.Itoa(int(s.retryAfter().Seconds())))
	}
	status, _ := s.operationURLs(op, c.apiVersion)
	writeJSON(c.w, http.StatusOK, operationJSON(op, status))
	return nil
}

// getOperationResult serves the Location resource: 202 while running, 204
// on success, the operation's error on failure.
func (s *Server) getOperationResult(c *call) error {
	op, err := s.loadOperation(c)
	if err != nil {
		return err
	}
	switch op.Status {
	case galleon.OperationInProgress:
		_, result := s.operationURLs(op, c.apiVersion)
		c.w.Header().Set("Location", result)
		c.w.Header().Set("Retry-After", strconv.Itoa(int(s.retryAfter().Seconds())))
		c.w.WriteHeader(http.StatusAccepted)
		return nil
	case galleon.OperationSucceeded:
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if op.Error != nil {
		return op.Error
	}
	return galleon.ReasonErrorf(galleon.EConflict, "OperationCanceled", "The operation '%s' was canceled.", op.ID)
}
