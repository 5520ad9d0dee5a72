package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
)

// Config is everything `galleon serve` can be told. Zero values mean the
// defaults from DefaultConfig.
type Config struct {
	// Data is the directory for the database, keys, certificates and disks.
	Data string `yaml:"data"`
	// Listen is the address HTTPS is served on.
	Listen string `yaml:"listen"`
	// PublicURL is the https URL clients use; by default it is derived from
	// Listen (a wildcard host becomes 127.0.0.1).
	PublicURL string `yaml:"publicURL"`
	// HostNames are extra DNS names or IPs for the server certificate.
	HostNames []string `yaml:"hostNames"`
	// TenantDomain and TenantName describe the first tenant.
	TenantDomain string `yaml:"tenantDomain"`
	TenantName   string `yaml:"tenantName"`
	// SubscriptionName names the first subscription.
	SubscriptionName string `yaml:"subscriptionName"`
	// Regions are the sites resources can be placed in.
	Regions []galleon.Region `yaml:"regions"`
	// Limits are the per-subscription, per-region gallery quotas.
	Limits gallery.Limits `yaml:"limits"`
	// JobLease is how long a worker's claim on a background job lasts; a
	// crashed node's jobs are taken over when their lease runs out.
	JobLease time.Duration `yaml:"jobLease"`
	// GC sets how often unreferenced disk blocks are collected and how old
	// an unreferenced block must be before it goes (longer than any write).
	GC struct {
		Interval time.Duration `yaml:"interval"`
		Grace    time.Duration `yaml:"grace"`
	} `yaml:"gc"`
	// TokenLifetime is how long access tokens last.
	TokenLifetime time.Duration `yaml:"tokenLifetime"`
	// Log sets the log level (debug, info, warn, error) and format (text, json).
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

// DefaultConfig is a single-node installation under ./galleon-data.
func DefaultConfig() Config {
	c := Config{
		Data:             "./galleon-data",
		Listen:           "127.0.0.1:8443",
		TenantDomain:     "galleon.local",
		TenantName:       "Galleon",
		SubscriptionName: "Galleon Subscription",
		Regions:          galleon.DefaultRegions(),
		Limits:           gallery.DefaultLimits(),
		TokenLifetime:    time.Hour,
		JobLease:         2 * time.Minute,
	}
	c.Log.Level, c.Log.Format = "info", "text"
	c.GC.Interval, c.GC.Grace = 6*time.Hour, time.Hour
	return c
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// LoadConfig reads a YAML file over the defaults, expanding ${VAR}
// references from the environment. Unknown keys are errors.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	var missing []string
	expanded := envRef.ReplaceAllStringFunc(string(raw), func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return c, fmt.Errorf("config %s: environment variable(s) %s are referenced but not set", path, strings.Join(missing, ", "))
	}
	dec := yaml.NewDecoder(strings.NewReader(expanded))
	dec.KnownFields(true)
	var file Config
	if err := dec.Decode(&file); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	c.merge(file)
	return c, nil
}

func (c *Config) merge(o Config) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Data, o.Data)
	set(&c.Listen, o.Listen)
	set(&c.PublicURL, o.PublicURL)
	set(&c.TenantDomain, o.TenantDomain)
	set(&c.TenantName, o.TenantName)
	set(&c.SubscriptionName, o.SubscriptionName)
	set(&c.Log.Level, o.Log.Level)
	set(&c.Log.Format, o.Log.Format)
	if len(o.HostNames) > 0 {
		c.HostNames = o.HostNames
	}
	if len(o.Regions) > 0 {
		c.Regions = o.Regions
	}
	if o.Limits.GalleriesPerRegion != 0 {
		c.Limits.GalleriesPerRegion = o.Limits.GalleriesPerRegion
	}
	if o.Limits.ImagesPerRegion != 0 {
		c.Limits.ImagesPerRegion = o.Limits.ImagesPerRegion
	}
	if o.Limits.VersionsPerRegion != 0 {
		c.Limits.VersionsPerRegion = o.Limits.VersionsPerRegion
	}
	if o.Limits.ReplicasPerVersion != 0 {
		c.Limits.ReplicasPerVersion = o.Limits.ReplicasPerVersion
	}
	if o.Limits.Sharing != (gallery.SharingLimits{}) {
		c.Limits.Sharing = o.Limits.Sharing
	}
	if o.JobLease != 0 {
		c.JobLease = o.JobLease
	}
	if o.TokenLifetime != 0 {
		c.TokenLifetime = o.TokenLifetime
	}
	if o.GC.Interval != 0 {
		c.GC.Interval = o.GC.Interval
	}
	if o.GC.Grace != 0 {
		c.GC.Grace = o.GC.Grace
	}
}

var regionName = regexp.MustCompile(`^[a-z][a-z0-9]{1,39}$`)

// Validate names the first field that is wrong and how to fix it.
func (c *Config) Validate() error {
	if c.Data == "" {
		return fmt.Errorf("config: data must name a directory")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen %q must be host:port (for example 127.0.0.1:8443): %v", c.Listen, err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("config: publicURL %q must be an https URL with no path, like https://gallery.example:8443", c.PublicURL)
		}
	}
	if len(c.Regions) == 0 {
		return fmt.Errorf("config: regions must list at least one region")
	}
	seen := map[string]bool{}
	for i, r := range c.Regions {
		if !regionName.MatchString(r.Name) {
			return fmt.Errorf("config: regions[%d].name %q must be lower-case letters and digits, like eastus", i, r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("config: regions[%d].name %q is listed twice", i, r.Name)
		}
		seen[r.Name] = true
		if r.DisplayName == "" {
			c.Regions[i].DisplayName = r.Name
		}
	}
	if c.TokenLifetime < 5*time.Minute || c.TokenLifetime > 24*time.Hour {
		return fmt.Errorf("config: tokenLifetime %s must be between 5m and 24h", c.TokenLifetime)
	}
	if c.JobLease < time.Second || c.JobLease > time.Hour {
		return fmt.Errorf("config: jobLease %s must be between 1s and 1h", c.JobLease)
	}
	if c.GC.Interval < time.Minute {
		return fmt.Errorf("config: gc.interval %s must be at least 1m", c.GC.Interval)
	}
	if c.GC.Grace < 10*time.Minute {
		return fmt.Errorf("config: gc.grace %s must be at least 10m, and longer than the longest upload or capture", c.GC.Grace)
	}
	if !strings.Contains(c.TenantDomain, ".") {
		return fmt.Errorf("config: tenantDomain %q must be a domain name like contoso.example", c.TenantDomain)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("config: log.format %q must be text or json", c.Log.Format)
	}
	abs, err := filepath.Abs(c.Data)
	if err != nil {
		return fmt.Errorf("config: data %q: %v", c.Data, err)
	}
	c.Data = abs
	return nil
}
