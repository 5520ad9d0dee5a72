package galleon

import (
	"encoding/json"
	"time"
)

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job is a unit of background work stored as a row, claimed under a lease by
// a worker and retried with backoff until it succeeds or runs out of
// attempts. A job may run more than once, so handlers are idempotent.
type Job struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	Payload     json.RawMessage `json:"payload"`
	State       string          `json:"state"`
	Attempts    int             `json:"attempts"`
	MaxAttempts int             `json:"maxAttempts"`
	RunAt       time.Time       `json:"runAt"`
	LeaseOwner  string          `json:"leaseOwner,omitempty"`
	LeaseUntil  time.Time       `json:"leaseUntil,omitempty"`
	LastError   string          `json:"lastError,omitempty"`
	// OperationID links the job to the long-running operation clients poll.
	OperationID string    `json:"operationId,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Operation states, as ARM reports them in Azure-AsyncOperation bodies.
const (
	OperationInProgress = "InProgress"
	OperationSucceeded  = "Succeeded"
	OperationFailed     = "Failed"
	OperationCanceled   = "Canceled"
)

// Operation is the status resource of a long-running ARM operation.
type Operation struct {
	ID             string `json:"name"`
	SubscriptionID string `json:"subscriptionId"`
	// ResourceID is the resource the operation acts on.
	ResourceID string `json:"resourceId"`
	// Kind says what the operation does, e.g. "Microsoft.Resources/resourceGroups/delete".
	Kind            string     `json:"kind"`
	Status          string     `json:"status"`
	PercentComplete float64    `json:"percentComplete"`
	Error           *Error     `json:"error,omitempty"`
	PrincipalID     string     `json:"principalId"`
	StartTime       time.Time  `json:"startTime"`
	EndTime         *time.Time `json:"endTime,omitempty"`
}

// Done reports whether the operation has reached a terminal state.
func (o *Operation) Done() bool {
	return o.Status != OperationInProgress
}
