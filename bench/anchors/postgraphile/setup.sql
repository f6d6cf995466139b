-- What PostGraphile needs beyond profilegraph's own tables, created by the benchmark in
-- its own database before PostGraphile starts: a profile's timeline across its contacts,
-- as a computed column that can be ordered (`@sortable`), the one relation of the profile
-- page that no foreign key describes.
CREATE OR REPLACE FUNCTION profiles_contact_moments(p profiles) RETURNS SETOF contact_moments
LANGUAGE sql STABLE AS $$
  SELECT cm.* FROM contact_moments cm
  JOIN contacts c ON c.id = cm.contact_id
  WHERE c.profile_id = p.id
$$;
COMMENT ON FUNCTION profiles_contact_moments(profiles) IS E'@sortable\nThe contact moments of the profile''s contacts.';
