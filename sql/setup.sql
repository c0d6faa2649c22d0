-- Creates the extension for the regression run and shows what it installs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS costopt;
RESET client_min_messages;

-- every object that belongs to the extension
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'costopt')
   AND deptype = 'e'
 ORDER BY 1;

-- seed catalog size
SELECT provider, count(*) AS models FROM costopt.model_pricing GROUP BY 1 ORDER BY 1;
