-- pgbench script: the baseline, one round trip that does no work.
SELECT 1;
