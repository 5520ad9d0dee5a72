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

// resourceJSON returns the JSON columns of r, or EInvalid when its
// properties are not JSON.
func resourceJSON(r *galleon.Resource) (tags, props, internal any, err error) {
	if len(r.Tags) > 0 {
		b, err := json.Marshal(r.Tags)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode tags of %s: %w", r.ID, err)
		}
		tags = string(b)
	}
	if len(r.Properties) > 0 {
		if !json.Valid(r.Properties) {
			return nil, nil, nil, galleon.Errorf(galleon.EInvalid, "The properties of resource '%s' are not valid JSON.", r.ID).WithTarget("properties")
		}
		props = string(r.Properties)
	}
	if len(r.Internal) > 0 {
		if !json.Valid(r.Internal) {
			return nil, nil, nil, galleon.Errorf(galleon.EInvalid, "The internal data of resource '%s' is not valid JSON.", r.ID)
		}
		internal = string(r.Internal)
	}
	return tags, props, internal, nil
}

// CreateResource adds r, setting r.CreatedAt, r.ChangedAt and r.ETag.
// EConflict if a resource with that ID exists.
func (s *Store) CreateResource(ctx context.Context, r *galleon.Resource) error {
	k := scopeKey(r.ID)
	if k == "/" {
		return galleon.Errorf(galleon.EInvalid, "A resource needs an ID.")
	}
	tags, props, internal, err := resourceJSON(r)
	if err != nil {
		return err
	}
	now := s.now()
	etag := newETag()
	_, err = s.w.ExecContext(ctx, `INSERT INTO resources (id_key, id, type, type_key, name, subscription_id, subscription_key,
		resource_group, resource_group_key, location, tags, managed_by, properties, etag, created_at, created_by, changed_at, internal)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k, r.ID, r.Type, key(r.Type), r.Name, r.SubscriptionID, key(r.SubscriptionID),
		r.ResourceGroup, key(r.ResourceGroup), r.Location, tags, r.ManagedBy, props, etag,
		fmtTime(now), r.CreatedBy, fmtTime(now), internal)
	switch {
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "A resource with ID '%s' already exists.", r.ID)
	case err != nil:
		return fmt.Errorf("create resource %s: %w", r.ID, err)
	}
	r.CreatedAt, r.ChangedAt, r.ETag = now, now, etag
	return nil
}

// UpdateResource replaces r, keeping its stored CreatedAt and CreatedBy
// (and copying them into r), and sets r.ChangedAt and a new r.ETag.
// ENotFound if missing; EPreconditionFailed if ifMatch is not "" and does
// not match the stored ETag ("*" matches any; W/ prefixes are ignored).
func (s *Store) UpdateResource(ctx context.Context, r *galleon.Resource, ifMatch string) error {
	k := scopeKey(r.ID)
	tags, props, internal, err := resourceJSON(r)
	if err != nil {
		return err
	}
	now := s.now()
	etag := newETag()
	var createdAt, createdBy string
	err = s.write(ctx, func(tx *sql.Tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT etag, created_at, created_by FROM resources WHERE id_key = ?`, k).
			Scan(&stored, &createdAt, &createdBy)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("resource", r.ID)
		} else if err != nil {
			return fmt.Errorf("find resource %s: %w", r.ID, err)
		}
		if ifMatch != "" && !etagMatches(ifMatch, stored) {
			return galleon.Errorf(galleon.EPreconditionFailed,
				"The resource '%s' has changed: its ETag is %s, not %s. Read it again and retry with the current ETag.", r.ID, stored, ifMatch)
		}
		_, err = tx.ExecContext(ctx, `UPDATE resources SET id = ?, type = ?, type_key = ?, name = ?,
			subscription_id = ?, subscription_key = ?, resource_group = ?, resource_group_key = ?, location = ?,
			tags = ?, managed_by = ?, properties = ?, etag = ?, changed_at = ?, internal = ? WHERE id_key = ?`,
			r.ID, r.Type, key(r.Type), r.Name, r.SubscriptionID, key(r.SubscriptionID),
			r.ResourceGroup, key(r.ResourceGroup), r.Location, tags, r.ManagedBy, props, etag, fmtTime(now), internal, k)
		if err != nil {
			return fmt.Errorf("update resource %s: %w", r.ID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	created, err := parseTime(sql.NullString{String: createdAt, Valid: true})
	if err != nil {
		return err
	}
	r.CreatedAt, r.CreatedBy, r.ChangedAt, r.ETag = created, createdBy, now, etag
	return nil
}

const resourceCols = `id, type, name, subscription_id, resource_group, location, tags, managed_by, properties,
	etag, created_at, created_by, changed_at, internal`

func scanResource(sc scanner) (*galleon.Resource, error) {
	return scanResourceWith(sc)
}

// scanResourceWith scans the resourceCols and then the extra columns.
func scanResourceWith(sc scanner, extra ...any) (*galleon.Resource, error) {
	var r galleon.Resource
	var tags, props, created, changed, internal sql.NullString
	dest := []any{&r.ID, &r.Type, &r.Name, &r.SubscriptionID, &r.ResourceGroup, &r.Location, &tags,
		&r.ManagedBy, &props, &r.ETag, &created, &r.CreatedBy, &changed, &internal}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if tags.Valid {
		if err := json.Unmarshal([]byte(tags.String), &r.Tags); err != nil {
			return nil, fmt.Errorf("decode tags of %s: %w", r.ID, err)
		}
	}
	if props.Valid {
		r.Properties = json.RawMessage(props.String)
	}
	if internal.Valid && internal.String != "" {
		r.Internal = json.RawMessage(internal.String)
	}
	var err1, err2 error
	r.CreatedAt, err1 = parseTime(created)
	r.ChangedAt, err2 = parseTime(changed)
	return &r, errors.Join(err1, err2)
}

// GetResource finds a resource by ID.
func (s *Store) GetResource(ctx context.Context, id string) (*galleon.Resource, error) {
	r, err := scanResource(s.r.QueryRowContext(ctx, `SELECT `+resourceCols+` FROM resources WHERE id_key = ?`, scopeKey(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("resource", id)
	} else if err != nil {
		return nil, fmt.Errorf("get resource %s: %w", id, err)
	}
	return r, nil
}

// resourceQuery builds the WHERE clause, ordering and limit of a
// ListResources query: every filter is an equality or a range on an
// indexed key column, and the order is the primary key's.
func resourceQuery(f galleon.ResourceFilter) (string, []any) {
	var where []string
	var args []any
	if f.SubscriptionID != "" {
		where = append(where, "subscription_key = ?")
		args = append(args, key(f.SubscriptionID))
	}
	if f.ResourceGroup != "" {
		where = append(where, "resource_group_key = ?")
		args = append(args, key(f.ResourceGroup))
	}
	if f.Type != "" {
		where = append(where, "type_key = ?")
		args = append(args, key(f.Type))
	}
	if f.Under != "" {
		lo, hi := underRange(scopeKey(f.Under))
		where = append(where, "id_key >= ? AND id_key < ?")
		args = append(args, lo, hi)
	}
	if len(f.ExcludeTypes) > 0 {
		where = append(where, "type_key NOT IN ("+placeholders(len(f.ExcludeTypes))+")")
		for _, t := range f.ExcludeTypes {
			args = append(args, key(t))
		}
	}
	if f.After != "" {
		where = append(where, "id_key > ?")
		args = append(args, scopeKey(f.After))
	}
	q := `SELECT ` + resourceCols + `, id_key FROM resources`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id_key"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit+1) // one more, to know whether a next page exists
	}
	return q, args
}

// ListResources lists resources in ID order. When f.Limit is set and more
// remain, it returns the normalized ID of the last one returned as the token
// for the next page (f.After); otherwise the token is "".
func (s *Store) ListResources(ctx context.Context, f galleon.ResourceFilter) ([]*galleon.Resource, string, error) {
	if f.Limit < 0 {
		return nil, "", galleon.Errorf(galleon.EInvalid, "The page size %d is not valid: it must not be negative.", f.Limit)
	}
	type row struct {
		r *galleon.Resource
		k string
	}
	q, args := resourceQuery(f)
	rows, err := queryList(ctx, s.r, func(sc scanner) (row, error) {
		var k string
		r, err := scanResourceWith(sc, &k)
		return row{r, k}, err
	}, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list resources: %w", err)
	}
	next := ""
	if f.Limit > 0 && len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].k
	}
	out := make([]*galleon.Resource, len(rows))
	for i, r := range rows {
		out[i] = r.r
	}
	return out, next, nil
}

// DeleteResource removes one resource. ENotFound if missing.
func (s *Store) DeleteResource(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM resources WHERE id_key = ?`, scopeKey(id))
	if err != nil {
		return fmt.Errorf("delete resource %s: %w", id, err)
	}
	if n, err := rowsAffected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("resource", id)
	}
	return nil
}

// DeleteResourcesUnder removes every resource strictly under scope and
// returns how many it removed. Resources whose names merely share a prefix
// with scope's last name are not under it.
func (s *Store) DeleteResourcesUnder(ctx context.Context, scope string) (int, error) {
	lo, hi := underRange(scopeKey(scope))
	res, err := s.w.ExecContext(ctx, `DELETE FROM resources WHERE id_key >= ? AND id_key < ?`, lo, hi)
	if err != nil {
		return 0, fmt.Errorf("delete resources under %s: %w", scope, err)
	}
	return rowsAffected(res)
}
