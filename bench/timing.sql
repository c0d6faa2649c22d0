-- Timing helpers shared by the benchmarks' setup scripts (included with
-- \ir ../timing.sql): schema "bench", bench.time_query() and
-- bench.time_scalar(), all measured on the server.

CREATE SCHEMA bench;

-------------------------------------------------------------------------------
-- Timing (all on the server: clock_timestamp() around a dynamic statement)
-------------------------------------------------------------------------------

-- Runs q once (parse, plan, execute; every row is produced and kept by SPI,
-- then dropped) and returns the elapsed time in ms.  EXECUTE ... INTO runs
-- the statement to completion (no row limit, so parallel plans are allowed).
CREATE FUNCTION bench.time_query(q text)
RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
	t0	timestamptz;
	r	record;
BEGIN
	t0 := clock_timestamp();
	EXECUTE q INTO r;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END;
$$;

-- The same for a statement returning one value: elapsed ms and the value.
CREATE FUNCTION bench.time_scalar(q text, OUT ms double precision, OUT result text)
LANGUAGE plpgsql
AS $$
DECLARE
	t0	timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE q INTO result;
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END;
$$;
