package galleon

import "strings"

// Region is a named site where resources live and image versions replicate.
type Region struct {
	Name        string  `json:"name" yaml:"name"`               // "eastus"
	DisplayName string  `json:"displayName" yaml:"displayName"` // "East US"
	Geography   string  `json:"geography" yaml:"geography"`     // "US"
	Latitude    float64 `json:"latitude" yaml:"latitude"`
	Longitude   float64 `json:"longitude" yaml:"longitude"`
	// Zones is the number of availability zones (0 or 1: none).
	Zones int `json:"zones" yaml:"zones"`
}

// DefaultRegions are the regions a new installation has when its
// configuration names none.
func DefaultRegions() []Region {
	return []Region{
		{Name: "eastus", DisplayName: "East US", Geography: "United States", Latitude: 37.3719, Longitude: -79.8164, Zones: 3},
		{Name: "westus2", DisplayName: "West US 2", Geography: "United States", Latitude: 47.233, Longitude: -119.852, Zones: 3},
		{Name: "japaneast", DisplayName: "Japan East", Geography: "Japan", Latitude: 35.68, Longitude: 139.77, Zones: 3},
	}
}

// LookupRegion finds a region by name or display name, ignoring case and
// spaces ("East US" and "eastus" both name eastus).
func LookupRegion(regions []Region, name string) (Region, bool) {
	key := strings.ToLower(strings.ReplaceAll(name, " ", ""))
	for _, r := range regions {
		if key == r.Name || key == strings.ToLower(strings.ReplaceAll(r.DisplayName, " ", "")) {
			return r, true
		}
	}
	return Region{}, false
}

// RegionNames lists the regions' names, for messages.
func RegionNames(regions []Region) string {
	names := make([]string, len(regions))
	for i, r := range regions {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}
