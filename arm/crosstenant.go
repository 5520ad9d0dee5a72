package arm

import (
	"strconv"
	"strings"

	"github.com/galleonhq/galleon"
)

// Cross-tenant requests. ARM serves a request in the tenant of its primary
// token (Authorization), but a request may read resources of other tenants
// that it links to, such as an image version it copies from. Two things let
// it: auxiliary tokens, which the client signs in for the other tenants and
// sends in x-ms-authorization-auxiliary, and delegated management, which
// gives principals of a managing tenant roles on a customer's subscription
// or resource group (arm/delegation.go, authz).

// auxiliaryHeader carries up to maxAuxiliaryTokens extra bearer tokens,
// "Bearer <t1>, Bearer <t2>", as azcore's arm policy sends them for
// arm.ClientOptions.AuxiliaryTenants.
const (
	auxiliaryHeader    = "x-ms-authorization-auxiliary"
	maxAuxiliaryTokens = 3
)

// authenticateAuxiliary authenticates every token of the auxiliary header
// into c.aux. A token that does not verify fails the request with 401, as
// ARM does, even if nothing would have used it.
func (s *Server) authenticateAuxiliary(c *call) error {
	var parts []string
	for _, v := range c.r.Header.Values(auxiliaryHeader) {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) > maxAuxiliaryTokens {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "TooManyAuxiliaryTokens",
			Message: "The '" + auxiliaryHeader + "' header carries " + strconv.Itoa(len(parts)) + " tokens; at most " + strconv.Itoa(maxAuxiliaryTokens) +
				" are allowed. Send one token for each other tenant the request links to."}).WithTarget(auxiliaryHeader)
	}
	for i, part := range parts {
		p, err := s.Auth.Authenticate(c.ctx, part)
		if err != nil {
			e := galleon.AsError(err)
			if e == nil || e.Code != galleon.EUnauthenticated {
				return err
			}
			return (&galleon.Error{Code: galleon.EUnauthenticated, Reason: e.Reason,
				Message: "Token " + strconv.Itoa(i+1) + " of the '" + auxiliaryHeader + "' header was rejected: " + e.Message +
					" Each entry must be 'Bearer <access token>', issued by this server for the tenant of a resource the request links to."}).WithTarget(auxiliaryHeader)
		}
		c.aux = append(c.aux, p)
	}
	return nil
}

// authorizeLinked checks that the request may perform action (a read, in
// practice) on linkedScope, a resource the request uses but does not
// address, such as the source of an image version. The principal checked is
// the caller when linkedScope's subscription belongs to the caller's tenant
// (or is delegated to it); otherwise it is the auxiliary principal from the
// tenant that owns the subscription. Failures are 403 LinkedAuthorizationFailed
// with ARM's message plus which token was checked or is missing.
func (s *Server) authorizeLinked(c *call, action, linkedScope string) error {
	rid, err := galleon.ParseResourceID(linkedScope)
	if err != nil {
		return err
	}
	p, owner, aux := c.p, "", false
	if rid.SubscriptionID != "" {
		sub, err := s.Store.GetSubscription(c.ctx, rid.SubscriptionID)
		switch {
		case err == nil:
			owner = sub.TenantID
		case galleon.ErrorCode(err) != galleon.ENotFound:
			return err
		}
	}
	if owner != "" && !strings.EqualFold(owner, c.p.TenantID) {
		for _, a := range c.aux {
			if strings.EqualFold(a.TenantID, owner) {
				p, aux = a, true
				break
			}
		}
	}
	ok, err := s.Authz.Allowed(c.ctx, p, action, linkedScope)
	if err != nil {
		return err
	} else if ok {
		return nil
	}
	client := c.p.ObjectID
	if c.p.Type == galleon.PrincipalServicePrincipal && c.p.AppID != "" {
		client = c.p.AppID
	}
	msg := "The client '" + client + "' with object id '" + c.p.ObjectID + "' has permission to perform action '" + c.authAction +
		"' on scope '" + c.authScope + "'; however, it does not have permission to perform action(s) '" + action +
		"' on the linked scope(s) '" + linkedScope + "' (respectively) or the linked scope(s) are invalid."
	switch {
	case owner == "" && rid.SubscriptionID != "":
		msg += " The subscription '" + rid.SubscriptionID + "' of the linked scope does not exist."
	case aux:
		msg += " The linked scope belongs to tenant '" + owner + "'; the auxiliary token's principal " + p.String() +
			" of that tenant was checked and lacks '" + action + "' there. Give it a role with that action (such as Reader) on the linked scope."
	case owner != "" && !strings.EqualFold(owner, c.p.TenantID):
		msg += " The linked scope belongs to tenant '" + owner + "', and the request carried no token of that tenant: sign in to tenant '" + owner +
			"' and send the token in the '" + auxiliaryHeader + "' header ('Bearer <token>'), or have that tenant delegate the scope to tenant '" + c.p.TenantID + "'."
	default:
		msg += " Give the client a role with that action (such as Reader) on the linked scope."
	}
	return galleon.ReasonErrorf(galleon.EForbidden, "LinkedAuthorizationFailed", "%s", msg)
}

// delegatedSubscription reports whether the caller holds an active
// delegation somewhere in subscription subID (which belongs to another
// tenant): then its token may address that subscription, and authz decides
// what it may do there.
func (s *Server) delegatedSubscription(c *call, subID string) (bool, error) {
	ds, err := s.Authz.DelegationsOf(c.ctx, c.p)
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if strings.EqualFold(d.SubscriptionID, subID) {
			return true, nil
		}
	}
	return false, nil
}

// subscriptionView is a subscription as the caller sees it, with the
// tenants that manage part of it through delegations.
func (s *Server) subscriptionView(c *call, sub *galleon.Subscription) (map[string]any, error) {
	out := subscriptionJSON(sub)
	tenants, err := s.Authz.ManagingTenants(c.ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	managed := []any{}
	for _, t := range tenants {
		managed = append(managed, map[string]string{"tenantId": t})
	}
	out["managedByTenants"] = managed
	return out, nil
}

// delegatedSubscriptions returns the subscriptions of other tenants in
// which the caller holds delegations, in the order first seen.
func (s *Server) delegatedSubscriptions(c *call) ([]*galleon.Subscription, error) {
	ds, err := s.Authz.DelegationsOf(c.ctx, c.p)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []*galleon.Subscription
	for _, d := range ds {
		k := strings.ToLower(d.SubscriptionID)
		if seen[k] {
			continue
		}
		seen[k] = true
		sub, err := s.Store.GetSubscription(c.ctx, d.SubscriptionID)
		if galleon.ErrorCode(err) == galleon.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		if !strings.EqualFold(sub.TenantID, c.p.TenantID) {
			out = append(out, sub)
		}
	}
	return out, nil
}
