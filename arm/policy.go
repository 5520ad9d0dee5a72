package arm

// policyRoutes are the routes of Azure Policy: policyDefinitions and policyAssignments.
func (s *Server) policyRoutes() []route { return nil }
