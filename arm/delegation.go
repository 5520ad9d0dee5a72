package arm

// delegationRoutes are the routes of delegated management (Microsoft.ManagedServices registrationDefinitions and registrationAssignments).
func (s *Server) delegationRoutes() []route { return nil }
