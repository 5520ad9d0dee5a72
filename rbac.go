package galleon

import "time"

// Role definition types, as ARM spells them.
const (
	BuiltInRole = "BuiltInRole"
	CustomRole  = "CustomRole"
)

// Permission is one set of allowed and excluded actions of a role. Actions
// are "Namespace/resourceType/.../verb" strings matched case-insensitively,
// where "*" matches any run of characters ("*", "*/read",
// "Microsoft.Compute/galleries/*").
type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// RoleDefinition is a named set of permissions that can be assigned at the
// scopes in AssignableScopes (and below).
type RoleDefinition struct {
	// Name is the definition's GUID; its ARM ID is
	// {scope}/providers/Microsoft.Authorization/roleDefinitions/{Name}.
	Name string `json:"name"`
	// Scope is where a custom definition was created ("/subscriptions/x");
	// built-in definitions have Scope "".
	Scope            string       `json:"scope"`
	RoleName         string       `json:"roleName"`
	Description      string       `json:"description"`
	Type             string       `json:"type"` // BuiltInRole or CustomRole
	Permissions      []Permission `json:"permissions"`
	AssignableScopes []string     `json:"assignableScopes"`
	CreatedAt        time.Time    `json:"createdOn"`
	UpdatedAt        time.Time    `json:"updatedOn"`
	CreatedBy        string       `json:"createdBy"`
	UpdatedBy        string       `json:"updatedBy"`
}

// RoleAssignment grants a role definition to a principal at a scope and
// everything below it.
type RoleAssignment struct {
	// Name is the assignment's GUID, unique across the installation.
	Name string `json:"name"`
	// Scope is the normalized-case ID the assignment applies to: "/",
	// "/subscriptions/x", a resource group or a resource.
	Scope string `json:"scope"`
	// RoleDefinitionID is the definition's GUID (its Name).
	RoleDefinitionID string    `json:"roleDefinitionId"`
	PrincipalID      string    `json:"principalId"`
	PrincipalType    string    `json:"principalType"`
	Description      string    `json:"description,omitempty"`
	Condition        string    `json:"condition,omitempty"`
	ConditionVersion string    `json:"conditionVersion,omitempty"`
	CreatedAt        time.Time `json:"createdOn"`
	UpdatedAt        time.Time `json:"updatedOn"`
	CreatedBy        string    `json:"createdBy"`
	UpdatedBy        string    `json:"updatedBy"`
}

// RoleAssignmentFilter selects role assignments. Empty fields match all.
type RoleAssignmentFilter struct {
	// AtOrAbove keeps assignments whose scope is this scope or an ancestor
	// of it (the ones that apply to it).
	AtOrAbove string
	// AtOrBelow keeps assignments whose scope is this scope or under it.
	AtOrBelow string
	// Scope keeps assignments at exactly this scope.
	Scope string
	// PrincipalIDs keeps assignments to any of these principals.
	PrincipalIDs []string
	// RoleDefinitionID keeps assignments of this definition (GUID).
	RoleDefinitionID string
}

// Built-in role definition GUIDs that code outside authz needs by name (they
// are Azure's own, so scripts written for Azure keep working).
const (
	OwnerRoleID                      = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	ContributorRoleID                = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	ReaderRoleID                     = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	UserAccessAdministratorRoleID    = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	ComputeGallerySharingAdminRoleID = "1ef6a3be-d0ac-425d-8c01-acb62866290b"
	ComputeGalleryImageReaderRoleID  = "cf7c76d2-98a3-4358-a134-615aa78bf44d"
)
