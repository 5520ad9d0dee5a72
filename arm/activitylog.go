package arm

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
)

// listActivityLog serves the audit trail in the shape of Azure's activity
// log (what `az monitor activity-log list` reads): every write, who made
// it, on what, when and how it ended.
func (s *Server) listActivityLog(c *call) error {
	subScope := "/subscriptions/" + c.sub.ID
	if err := s.authorize(c, "Microsoft.Insights/eventtypes/values/read", subScope); err != nil {
		return err
	}
	f := galleon.AuditFilter{SubscriptionID: c.sub.ID, Under: subScope}
	if err := parseActivityFilter(c.r.URL.Query().Get("$filter"), c.sub.ID, &f); err != nil {
		return err
	}
	top, err := pageSize(c, 200)
	if err != nil {
		return err
	}
	f.Limit = top + 1
	if t := skipToken(c); t != "" {
		if f.Before, err = decodeToken(t); err != nil {
			return err
		}
	}
	recs, err := s.Store.ListAudit(c.ctx, f)
	if err != nil {
		return err
	}
	next := ""
	if len(recs) > top {
		recs = recs[:top]
		next = s.nextLink(c, encodeToken(recs[len(recs)-1].ID))
	}
	out := []any{}
	for _, r := range recs {
		out = append(out, activityEventJSON(r))
	}
	writeJSON(c.w, http.StatusOK, page{Value: out, NextLink: next})
	return nil
}

func activityEventJSON(r *galleon.AuditRecord) map[string]any {
	level := "Informational"
	if r.Result != "Succeeded" {
		level = "Error"
	}
	rg := ""
	if id, err := galleon.ParseResourceID(r.ResourceID); err == nil {
		rg = id.ResourceGroup
	}
	typ := ""
	if id, err := galleon.ParseResourceID(r.ResourceID); err == nil {
		typ = id.Type()
	}
	provider := strings.SplitN(r.Action, "/", 2)[0]
	category := "Administrative"
	props := map[string]string{"statusCode": fmt.Sprint(r.Status), "principalType": r.PrincipalType, "appId": r.AppID}
	if effect, ok := policyEffectOfAction(r.Action); ok {
		// Policy events (policy package) carry the assignment in Path.
		category = "Policy"
		b, _ := jsonMarshal([]map[string]string{{"policyAssignmentId": r.Path, "policyDefinitionEffect": effect}})
		props["policies"], props["isComplianceCheck"] = string(b), "False"
	}
	return map[string]any{
		"id":                   r.ResourceID + "/events/" + r.ID,
		"eventDataId":          r.ID,
		"operationId":          r.RequestID,
		"correlationId":        r.CorrelationID,
		"caller":               r.PrincipalID,
		"tenantId":             r.TenantID,
		"subscriptionId":       r.SubscriptionID,
		"resourceId":           r.ResourceID,
		"resourceGroupName":    rg,
		"resourceType":         localized(typ),
		"resourceProviderName": localized(provider),
		"operationName":        localized(r.Action),
		"authorization":        map[string]string{"action": r.Action, "scope": r.ResourceID},
		"category":             localized(category),
		"eventName":            localized("EndRequest"),
		"level":                level,
		"status":               localized(r.Result),
		"subStatus":            localized(http.StatusText(r.Status)),
		"eventTimestamp":       r.Time.Format(time.RFC3339Nano),
		"submissionTimestamp":  r.Time.Format(time.RFC3339Nano),
		"httpRequest":          map[string]string{"clientRequestId": r.RequestID, "clientIpAddress": r.ClientIP, "method": r.Method},
		"properties":           props,
	}
}

// policyEffectOfAction returns the effect of a policy event's action
// ("Microsoft.Authorization/policies/audit/action" -> "Audit").
func policyEffectOfAction(action string) (string, bool) {
	parts := strings.Split(action, "/")
	if len(parts) != 4 || !strings.EqualFold(parts[0], "Microsoft.Authorization") || !strings.EqualFold(parts[1], "policies") || parts[2] == "" {
		return "", false
	}
	return strings.ToUpper(parts[2][:1]) + parts[2][1:], true
}

func localized(v string) map[string]string {
	return map[string]string{"value": v, "localizedValue": v}
}

// parseActivityFilter reads the activity-log $filter: eventTimestamp ge/le,
// resourceGroupName, resourceId/resourceUri and caller (object ID), joined
// by 'and'.
func parseActivityFilter(filter, sub string, f *galleon.AuditFilter) error {
	if strings.TrimSpace(filter) == "" {
		return nil
	}
	bad := func(clause string) error {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidFilterParameter",
			Message: fmt.Sprintf("The $filter clause '%s' is not supported. Use eventTimestamp ge/le '<RFC 3339 time>', resourceGroupName eq '<name>', resourceId eq '<id>' or caller eq '<objectId>', joined by 'and'.", clause)}).WithTarget("$filter")
	}
	for _, clause := range splitAnd(filter) {
		parts := strings.SplitN(strings.TrimSpace(clause), " ", 3)
		if len(parts) != 3 {
			return bad(clause)
		}
		v := strings.TrimSpace(parts[2])
		if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			return bad(clause)
		}
		v = v[1 : len(v)-1]
		field, op := strings.ToLower(parts[0]), strings.ToLower(parts[1])
		switch {
		case field == "eventtimestamp" && (op == "ge" || op == "le"):
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return bad(clause)
			}
			if op == "ge" {
				f.Since = t
			} else {
				f.Until = t
			}
		case field == "resourcegroupname" && op == "eq":
			f.Under = rgID(sub, v)
		case (field == "resourceid" || field == "resourceuri") && op == "eq":
			f.Under = v
		case field == "caller" && op == "eq":
			f.PrincipalID = v
		case field == "eventchannels" || field == "levels":
			// az sends these; every record is an administrative event.
		default:
			return bad(clause)
		}
	}
	return nil
}
