package arm

// sharingRoutes are the routes of sharing: direct shares (POST …/share), sharedGalleries, communityGalleries, the Resource Graph query az sends, and abuse reports.
func (s *Server) sharingRoutes() []route { return nil }
