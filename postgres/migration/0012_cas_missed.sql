-- PostgreSQL only (0011 is SQLite's). cas_missed fails the statement that
-- calls it with a check violation naming constraint_name. A compare-and-set
-- update that changes no row calls it, so the miss aborts the transaction
-- in the server: the store can then send such an update in one round trip
-- with the COMMIT, and the COMMIT cannot go through without it.
CREATE FUNCTION cas_missed(constraint_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'compare-and-set missed: %', constraint_name
		USING ERRCODE = 'check_violation', CONSTRAINT = constraint_name;
END
$$;
