package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/galleonhq/galleon"
)

// PutRoleDefinition creates or replaces a custom role definition by Name.
// It sets UpdatedAt to now, and CreatedAt to the stored value on replace or
// to now on create.
func (s *Store) PutRoleDefinition(ctx context.Context, d *galleon.RoleDefinition) error {
	if d.Name == "" {
		return galleon.Errorf(galleon.EInvalid, "A role definition needs a name (GUID).")
	}
	perms, err := json.Marshal(nonNil(d.Permissions))
	if err != nil {
		return fmt.Errorf("encode permissions of role %s: %w", d.Name, err)
	}
	scopes, err := json.Marshal(nonNil(d.AssignableScopes))
	if err != nil {
		return fmt.Errorf("encode assignable scopes of role %s: %w", d.Name, err)
	}
	now := s.now()
	created := now
	err = s.write(ctx, func(tx *sql.Tx) error {
		var stored sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT created_at FROM role_definitions WHERE name_key = ?`, key(d.Name)).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("find role definition %s: %w", d.Name, err)
		default:
			if created, err = parseTime(stored); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO role_definitions (name_key, name, scope, scope_key, role_name, description,
			type, permissions, assignable_scopes, created_at, updated_at, created_by, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, scope = excluded.scope, scope_key = excluded.scope_key,
				role_name = excluded.role_name, description = excluded.description, type = excluded.type,
				permissions = excluded.permissions, assignable_scopes = excluded.assignable_scopes,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			key(d.Name), d.Name, d.Scope, scopeKey(d.Scope), d.RoleName, d.Description, d.Type, string(perms), string(scopes),
			fmtTime(created), fmtTime(now), d.CreatedBy, d.UpdatedBy)
		if err != nil {
			return fmt.Errorf("put role definition %s: %w", d.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.CreatedAt, d.UpdatedAt = created, now
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

const roleDefinitionCols = `name, scope, role_name, description, type, permissions, assignable_scopes,
	created_at, updated_at, created_by, updated_by`

func scanRoleDefinition(sc scanner) (*galleon.RoleDefinition, error) {
	var d galleon.RoleDefinition
	var perms, scopes string
	var created, updated sql.NullString
	if err := sc.Scan(&d.Name, &d.Scope, &d.RoleName, &d.Description, &d.Type, &perms, &scopes,
		&created, &updated, &d.CreatedBy, &d.UpdatedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(perms), &d.Permissions); err != nil {
		return nil, fmt.Errorf("decode permissions of role %s: %w", d.Name, err)
	}
	if err := json.Unmarshal([]byte(scopes), &d.AssignableScopes); err != nil {
		return nil, fmt.Errorf("decode assignable scopes of role %s: %w", d.Name, err)
	}
	var err1, err2 error
	d.CreatedAt, err1 = parseTime(created)
	d.UpdatedAt, err2 = parseTime(updated)
	return &d, errors.Join(err1, err2)
}

// GetRoleDefinition finds a custom definition by GUID.
func (s *Store) GetRoleDefinition(ctx context.Context, name string) (*galleon.RoleDefinition, error) {
	d, err := scanRoleDefinition(s.r.QueryRowContext(ctx, `SELECT `+roleDefinitionCols+` FROM role_definitions WHERE name_key = ?`, key(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("role definition", name)
	} else if err != nil {
		return nil, fmt.Errorf("get role definition %s: %w", name, err)
	}
	return d, nil
}

// ListRoleDefinitions lists custom definitions in name order.
func (s *Store) ListRoleDefinitions(ctx context.Context) ([]*galleon.RoleDefinition, error) {
	ds, err := queryList(ctx, s.r, scanRoleDefinition, `SELECT `+roleDefinitionCols+` FROM role_definitions ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("list role definitions: %w", err)
	}
	return ds, nil
}

// DeleteRoleDefinition removes a custom definition. ENotFound if missing.
func (s *Store) DeleteRoleDefinition(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM role_definitions WHERE name_key = ?`, key(name))
	if err != nil {
		return fmt.Errorf("delete role definition %s: %w", name, err)
	}
	if n, err := rowsAffected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("role definition", name)
	}
	return nil
}

// CreateRoleAssignment adds an assignment, setting CreatedAt and UpdatedAt
// if they are zero. EConflict if the name is taken, or (Reason
// "RoleAssignmentExists") if the same principal already holds the same role
// at the same scope.
func (s *Store) CreateRoleAssignment(ctx context.Context, a *galleon.RoleAssignment) error {
	if a.Name == "" || a.PrincipalID == "" || a.RoleDefinitionID == "" {
		return galleon.Errorf(galleon.EInvalid, "A role assignment needs a name, a principal ID and a role definition ID.")
	}
	now := s.now()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = now
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO role_assignments (name_key, name, scope, scope_key, role_definition_id,
		role_definition_key, principal_id, principal_key, principal_type, description, condition, condition_version,
		created_at, updated_at, created_by, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		key(a.Name), a.Name, a.Scope, scopeKey(a.Scope), a.RoleDefinitionID, key(a.RoleDefinitionID),
		a.PrincipalID, key(a.PrincipalID), a.PrincipalType, a.Description, a.Condition, a.ConditionVersion,
		fmtTime(a.CreatedAt), fmtTime(a.UpdatedAt), a.CreatedBy, a.UpdatedBy)
	switch {
	case isPrimaryKey(err):
		return galleon.Errorf(galleon.EConflict, "A role assignment named '%s' already exists.", a.Name)
	case isUnique(err):
		return galleon.ReasonErrorf(galleon.EConflict, "RoleAssignmentExists",
			"The role assignment already exists: principal '%s' already holds role definition '%s' at scope '%s'.",
			a.PrincipalID, a.RoleDefinitionID, a.Scope)
	case err != nil:
		return fmt.Errorf("create role assignment %s: %w", a.Name, err)
	}
	return nil
}

const roleAssignmentCols = `name, scope, role_definition_id, principal_id, principal_type, description, condition,
	condition_version, created_at, updated_at, created_by, updated_by`

func scanRoleAssignment(sc scanner) (*galleon.RoleAssignment, error) {
	var a galleon.RoleAssignment
	var created, updated sql.NullString
	if err := sc.Scan(&a.Name, &a.Scope, &a.RoleDefinitionID, &a.PrincipalID, &a.PrincipalType, &a.Description,
		&a.Condition, &a.ConditionVersion, &created, &updated, &a.CreatedBy, &a.UpdatedBy); err != nil {
		return nil, err
	}
	var err1, err2 error
	a.CreatedAt, err1 = parseTime(created)
	a.UpdatedAt, err2 = parseTime(updated)
	return &a, errors.Join(err1, err2)
}

// GetRoleAssignment finds an assignment by GUID.
func (s *Store) GetRoleAssignment(ctx context.Context, name string) (*galleon.RoleAssignment, error) {
	a, err := scanRoleAssignment(s.r.QueryRowContext(ctx, `SELECT `+roleAssignmentCols+` FROM role_assignments WHERE name_key = ?`, key(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("role assignment", name)
	} else if err != nil {
		return nil, fmt.Errorf("get role assignment %s: %w", name, err)
	}
	return a, nil
}

// roleAssignmentQuery builds the query of ListRoleAssignments. AtOrAbove,
// on the path of every authorized request, becomes scope_key IN (the scope
// and its ancestors), computed here rather than by a scan.
func roleAssignmentQuery(f galleon.RoleAssignmentFilter) (string, []any) {
	var where []string
	var args []any
	in := func(col string, vals []string) {
		where = append(where, col+" IN ("+placeholders(len(vals))+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	if f.AtOrAbove != "" {
		in("scope_key", ancestors(scopeKey(f.AtOrAbove)))
	}
	if f.AtOrBelow != "" {
		if k := scopeKey(f.AtOrBelow); k != "/" {
			lo, hi := underRange(k)
			where = append(where, "(scope_key = ? OR (scope_key >= ? AND scope_key < ?))")
			args = append(args, k, lo, hi)
		}
	}
	if f.Scope != "" {
		where = append(where, "scope_key = ?")
		args = append(args, scopeKey(f.Scope))
	}
	if len(f.PrincipalIDs) > 0 {
		keys := make([]string, len(f.PrincipalIDs))
		for i, p := range f.PrincipalIDs {
			keys[i] = key(p)
		}
		in("principal_key", keys)
	}
	if f.RoleDefinitionID != "" {
		where = append(where, "role_definition_key = ?")
		args = append(args, key(f.RoleDefinitionID))
	}
	q := `SELECT ` + roleAssignmentCols + ` FROM role_assignments`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q + " ORDER BY scope_key, name_key", args
}

// ListRoleAssignments lists assignments matching f, ordered by scope then name.
func (s *Store) ListRoleAssignments(ctx context.Context, f galleon.RoleAssignmentFilter) ([]*galleon.RoleAssignment, error) {
	q, args := roleAssignmentQuery(f)
	as, err := queryList(ctx, s.r, scanRoleAssignment, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list role assignments: %w", err)
	}
	return as, nil
}

// DeleteRoleAssignment removes an assignment. ENotFound if missing.
func (s *Store) DeleteRoleAssignment(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM role_assignments WHERE name_key = ?`, key(name))
	if err != nil {
		return fmt.Errorf("delete role assignment %s: %w", name, err)
	}
	if n, err := rowsAffected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("role assignment", name)
	}
	return nil
}

// DeleteRoleAssignmentsUnder removes every assignment at or under scope and
// returns how many it removed.
func (s *Store) DeleteRoleAssignmentsUnder(ctx context.Context, scope string) (int, error) {
	k := scopeKey(scope)
	lo, hi := underRange(k)
	res, err := s.w.ExecContext(ctx, `DELETE FROM role_assignments WHERE scope_key = ? OR (scope_key >= ? AND scope_key < ?)`, k, lo, hi)
	if err != nil {
		return 0, fmt.Errorf("delete role assignments under %s: %w", scope, err)
	}
	return rowsAffected(res)
}
