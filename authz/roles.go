package authz

import (
	"strings"

	"github.com/galleonhq/galleon"
)

// GUIDs of the built-in role definitions, as Azure assigns them, so that
// scripts and templates written for Azure name the same roles here.
const (
	OwnerRoleID                      = galleon.OwnerRoleID
	ContributorRoleID                = galleon.ContributorRoleID
	ReaderRoleID                     = galleon.ReaderRoleID
	UserAccessAdministratorRoleID    = galleon.UserAccessAdministratorRoleID
	ComputeGallerySharingAdminRoleID = galleon.ComputeGallerySharingAdminRoleID
	ComputeGalleryImageReaderRoleID  = galleon.ComputeGalleryImageReaderRoleID
)

// builtins are the built-in definitions. They are never handed out directly
// (callers get copies from BuiltInRoles and BuiltInRole), so evaluation can
// read them without copying.
var builtins = []*galleon.RoleDefinition{
	builtin(OwnerRoleID, "Owner",
		"Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
		[]string{"*"}, nil),
	builtin(ContributorRoleID, "Contributor",
		"Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
		[]string{"*"},
		[]string{
			"Microsoft.Authorization/*/Delete",
			"Microsoft.Authorization/*/Write",
			"Microsoft.Authorization/elevateAccess/Action",
			"Microsoft.Blueprint/blueprintAssignments/write",
			"Microsoft.Blueprint/blueprintAssignments/delete",
			"Microsoft.Compute/galleries/share/action",
		}),
	builtin(ReaderRoleID, "Reader",
		"View all resources, but does not allow you to make any changes.",
		[]string{"*/read"}, nil),
	builtin(UserAccessAdministratorRoleID, "User Access Administrator",
		"Lets you manage user access to Azure resources.",
		[]string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}, nil),
	builtin(ComputeGallerySharingAdminRoleID, "Compute Gallery Sharing Admin",
		"This role allows user to share gallery to another subscription/tenant or share it to the public.",
		[]string{
			"Microsoft.Compute/galleries/share/action",
			"Microsoft.Compute/galleries/read",
			"Microsoft.Compute/galleries/images/read",
			"Microsoft.Compute/galleries/images/versions/read",
			"Microsoft.Resources/subscriptions/resourceGroups/read",
		}, nil),
	builtin(ComputeGalleryImageReaderRoleID, "Compute Gallery Image Reader",
		"Allows reading Compute Gallery galleries, image definitions and image versions, which is enough to deploy virtual machines and disks from them.",
		[]string{
			"Microsoft.Compute/galleries/read",
			"Microsoft.Compute/galleries/images/read",
			"Microsoft.Compute/galleries/images/versions/read",
		}, nil),
}

// builtinIndex maps lower-case GUIDs and role names to builtins.
var builtinIndex = func() map[string]*galleon.RoleDefinition {
	m := make(map[string]*galleon.RoleDefinition, 2*len(builtins))
	for _, d := range builtins {
		m[strings.ToLower(d.Name)] = d
		m[strings.ToLower(d.RoleName)] = d
	}
	return m
}()

func builtin(id, roleName, description string, actions, notActions []string) *galleon.RoleDefinition {
	if notActions == nil {
		notActions = []string{}
	}
	return &galleon.RoleDefinition{
		Name:        id,
		RoleName:    roleName,
		Description: description,
		Type:        galleon.BuiltInRole,
		Permissions: []galleon.Permission{{
			Actions:        actions,
			NotActions:     notActions,
			DataActions:    []string{},
			NotDataActions: []string{},
		}},
		AssignableScopes: []string{"/"},
	}
}

// BuiltInRoles returns fresh copies of every built-in role definition, in a
// fixed order (Owner, Contributor, Reader, ...). Callers may modify them.
func BuiltInRoles() []*galleon.RoleDefinition {
	out := make([]*galleon.RoleDefinition, len(builtins))
	for i, d := range builtins {
		out[i] = copyDefinition(d)
	}
	return out
}

// BuiltInRole returns a fresh copy of the built-in role definition whose
// GUID or role name ("Reader", "compute gallery image reader") is
// nameOrRoleName, compared case-insensitively, or nil if there is none.
func BuiltInRole(nameOrRoleName string) *galleon.RoleDefinition {
	if d := lookupBuiltin(nameOrRoleName); d != nil {
		return copyDefinition(d)
	}
	return nil
}

// lookupBuiltin returns the shared (not copied) built-in definition.
func lookupBuiltin(nameOrRoleName string) *galleon.RoleDefinition {
	return builtinIndex[strings.ToLower(strings.TrimSpace(nameOrRoleName))]
}

// isBuiltinID reports whether guid is the GUID of a built-in role.
func isBuiltinID(guid string) bool {
	d := lookupBuiltin(guid)
	return d != nil && strings.EqualFold(d.Name, strings.TrimSpace(guid))
}

// copyDefinition deep-copies d so that callers cannot alter shared state.
func copyDefinition(d *galleon.RoleDefinition) *galleon.RoleDefinition {
	c := *d
	c.Permissions = make([]galleon.Permission, len(d.Permissions))
	for i, p := range d.Permissions {
		c.Permissions[i] = galleon.Permission{
			Actions:        copyStrings(p.Actions),
			NotActions:     copyStrings(p.NotActions),
			DataActions:    copyStrings(p.DataActions),
			NotDataActions: copyStrings(p.NotDataActions),
		}
	}
	c.AssignableScopes = copyStrings(d.AssignableScopes)
	return &c
}

func copyStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}
