package storage

import (
	"context"
	"regexp"
	"strings"

	"github.com/galleonhq/galleon"
)

// UserAccountType is the ARM type of the storage accounts users create to
// upload VHDs (Microsoft.Storage/storageAccounts).
const UserAccountType = "Microsoft.Storage/storageAccounts"

var accountNameRE = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// ValidateAccountName checks a user storage account name: 3 to 24 lower-case
// letters and digits, as Azure requires (names are unique installation-wide).
func ValidateAccountName(name string) error {
	if !accountNameRE.MatchString(name) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "AccountNameInvalid",
			Message: "'" + name + "' is not a valid storage account name: use 3 to 24 lower-case letters and digits."}).WithTarget("accountName")
	}
	return nil
}

// FindUserAccount finds a user storage account by name in any subscription
// (account names are unique across the installation). ENotFound if none.
func FindUserAccount(ctx context.Context, st galleon.ResourceStore, name string) (*galleon.Resource, error) {
	f := galleon.ResourceFilter{Type: UserAccountType, Limit: 1000}
	for {
		rs, next, err := st.ListResources(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if strings.EqualFold(r.Name, name) {
				return r, nil
			}
		}
		if next == "" {
			return nil, galleon.ReasonErrorf(galleon.ENotFound, "StorageAccountNotFound", "The storage account '%s' does not exist.", name)
		}
		f.After = next
	}
}
