#!/usr/bin/env bash
# Forecast evaluation for costopt (see bench/forecast_eval/README.md).
#
#   bash bench/forecast_eval/run.sh                  the shipped series, both periods
#   bash bench/forecast_eval/run.sh a.csv b.csv      other daily series (header date,value)
#   SELFTEST=1 bash bench/forecast_eval/run.sh       the harness on a seasonal-naive mock
#
# Rolling origin, as in the data set's README: in each evaluation period an
# origin the day before the period starts, then every 3 days while the 7 days
# after the origin stay in the period.  At each origin a method sees the days
# up to and including the origin, at most HISTORY of them, and forecasts the
# next 7 days and their total with 95% intervals, through
# costopt_forecast_series() and costopt_forecast_series_total().  One SQL
# statement per (series, period, history, method) stores the forecasts of
# every origin; a view joins them to the actual values for the metrics.
#
# Environment (all optional):
#   FORECAST_DATA=...        CSV file(s), space-separated (arguments take precedence);
#                            default ../shared/data/forecast/melbourne_pedestrians_daily.csv
#                            next to the repository
#   EVAL_PERIODS=start:end,...  evaluation periods (dates YYYY-MM-DD, inclusive) for every
#                            series; default: for melbourne_pedestrians_daily.csv
#                            2021-04-10:2021-06-30,2021-01-09:2021-03-31, for other series
#                            the last 82 days (12 weeks as the README counts them: 26 origins)
#   HISTORIES="365 56"       history settings (days, the origin included)
#   METHODS=...              method names evaluated after the five standard ones
#                            (comma- or space-separated)
#   SELFTEST=0               1: use the mock forecast_eval.mock_forecast_series(_total)
#                            (weekly seasonal naive, empirical-quantile intervals)
#   FUNC_PREFIX=costopt_     prefix of the two functions (SELFTEST=1: forecast_eval.mock_)
#   MIN_HISTORY=14           skip origins with fewer days of data up to the origin
#   BUILD=0                  1: build and install costopt first (scripts/common.sh)
#   KEEP_CLUSTER=0           1: keep the stopped cluster's directory afterwards
#
# Exit status: 1 the functions are missing, 2 bad arguments or data, 3 a
# method failed or returned malformed forecasts (tables are printed anyway).
set -euo pipefail
CALLER_PWD=$(pwd)
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh
BENCH_DIR=$REPO/bench/forecast_eval

SHIPPED=melbourne_pedestrians_daily
SHIPPED_PERIODS=2021-04-10:2021-06-30,2021-01-09:2021-03-31
HORIZON=7			# fixed by the protocol, as are the 3-day origin step and 95%
LEVEL=0.95

HISTORIES=${HISTORIES:-365 56}
SELFTEST=${SELFTEST:-0}
if [ "$SELFTEST" = 1 ]; then
	FUNC_PREFIX=${FUNC_PREFIX:-forecast_eval.mock_}
else
	FUNC_PREFIX=${FUNC_PREFIX:-costopt_}
fi
MIN_HISTORY=${MIN_HISTORY:-14}
BUILD=${BUILD:-0}
EVAL_PERIODS=${EVAL_PERIODS:-}

# Methods: the standard five, then METHODS, without repeats.
METHOD_LIST=()
for m in seasonal_naive linear linear_dow holt_winters auto ${METHODS:+${METHODS//,/ }}; do
	[[ " ${METHOD_LIST[*]-} " == *" $m "* ]] || METHOD_LIST+=("$m")
done

for h in $HISTORIES; do
	if ! [[ $h =~ ^[0-9]+$ ]] || [ "$h" -eq 0 ]; then echo "HISTORIES must be positive integers" >&2; exit 2; fi
done
[[ $MIN_HISTORY =~ ^[0-9]+$ ]] || { echo "MIN_HISTORY must be a non-negative integer" >&2; exit 2; }
[[ $FUNC_PREFIX =~ ^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$ ]] ||
	{ echo "FUNC_PREFIX must be a lower-case [schema.]name prefix" >&2; exit 2; }
DATE_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}'
[ -z "$EVAL_PERIODS" ] || [[ $EVAL_PERIODS =~ ^$DATE_RE:$DATE_RE(,$DATE_RE:$DATE_RE)*$ ]] ||
	{ echo "EVAL_PERIODS must look like 2021-04-10:2021-06-30,2021-01-09:2021-03-31" >&2; exit 2; }

# Data files, relative paths taken from the caller's directory.
if [ $# -gt 0 ]; then
	FILES=("$@")
elif [ -n "${FORECAST_DATA:-}" ]; then
	read -r -a FILES <<<"$FORECAST_DATA"
else
	FILES=("$(dirname "$REPO")/shared/data/forecast/$SHIPPED.csv")
fi
for i in "${!FILES[@]}"; do
	[[ ${FILES[i]} == /* ]] || FILES[i]=$CALLER_PWD/${FILES[i]}
	[ -r "${FILES[i]}" ] || { echo "cannot read ${FILES[i]}" >&2; exit 2; }
done

# psql against the evaluation database: no psqlrc, stop on the first error.
DB=forecast_eval
fpsql() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---------------------------------------------------------------------------
# Throwaway cluster with test/costopt.conf, the extension and setup.sql.
# ---------------------------------------------------------------------------
ensure_packages
if [ "$BUILD" = 1 ]; then build_and_install; else log "BUILD=0: using the installed costopt"; fi

WORK=$(mktemp -d /tmp/costopt-forecast-eval.XXXXXX)
cleanup() {
	cluster_stop "$WORK"
	if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "cluster kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cluster_start "$WORK" "$(pick_port)" "$REPO/test/costopt.conf"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
fpsql -c "CREATE EXTENSION costopt"
fpsql -f "$BENCH_DIR/setup.sql" >/dev/null
EXT_VERSION=$(fpsql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'costopt'")

SIG="(date[], double precision[], integer, text, double precision)"
FS=${FUNC_PREFIX}forecast_series
FT=${FUNC_PREFIX}forecast_series_total
if [ "$(fpsql -At -c "SELECT to_regprocedure('$FS$SIG') IS NOT NULL AND to_regprocedure('$FT$SIG') IS NOT NULL")" != t ]; then
	echo "$FS$SIG or $FT$SIG does not exist (installed costopt $EXT_VERSION)." >&2
	echo "Install a costopt that has them (or BUILD=1), or run SELFTEST=1 to test the harness on its mock." >&2
	exit 1
fi

# ---------------------------------------------------------------------------
# Series, periods, origins.
# ---------------------------------------------------------------------------
SERIES_LIST=()
for f in "${FILES[@]}"; do
	name=$(basename "$f" .csv | tr -c 'A-Za-z0-9_.\n-' '_')
	while [[ " ${SERIES_LIST[*]-} " == *" $name "* ]]; do name=${name}_; done
	SERIES_LIST+=("$name")
	header=$(head -n 1 "$f" | tr -d '\r" ')
	case "$header" in
		date,value|value,date) ;;
		*) echo "$f: the header must be date,value (found '$header')" >&2; exit 2 ;;
	esac
	log "loading $f as $name"
	fpsql -c "TRUNCATE forecast_eval.staging"
	tr -d '\r' <"$f" |
		fpsql -c "\\copy forecast_eval.staging ($header) FROM pstdin WITH (FORMAT csv, HEADER true)"
	fpsql -v series="$name" <<'SQL'
INSERT INTO forecast_eval.series (series, day, value)
SELECT :'series', date, value FROM forecast_eval.staging WHERE date IS NOT NULL AND value IS NOT NULL;
SQL
	skipped=$(fpsql -At -c "SELECT count(*) FROM forecast_eval.staging WHERE date IS NULL OR value IS NULL")
	[ "$skipped" = 0 ] || log "$name: $skipped rows without a date or value left out"

	if [ -n "$EVAL_PERIODS" ]; then
		periods=$EVAL_PERIODS
	elif [ "$name" = "$SHIPPED" ]; then
		periods=$SHIPPED_PERIODS
	else
		periods=$(fpsql -At -v series="$name" <<'SQL'
SELECT (max(day) - 81) || ':' || max(day) FROM forecast_eval.series WHERE series = :'series';
SQL
)
	fi
	for p in ${periods//,/ }; do
		fpsql -v series="$name" -v p_start="${p%%:*}" -v p_end="${p##*:}" <<'SQL'
INSERT INTO forecast_eval.periods (series, period, p_start, p_end)
VALUES (:'series', :'p_start' || '..' || :'p_end', :'p_start', :'p_end');
SQL
	done
done

# Origins: the day before the period start, then every 3 days while
# origin + 7 <= period end (and the 7 days are in the data).
fpsql -v h="$HORIZON" -v min_history="$MIN_HISTORY" <<'SQL'
INSERT INTO forecast_eval.origins (series, period, origin)
SELECT p.series, p.period, p.p_start - 1 + 3 * k
  FROM forecast_eval.periods p
  JOIN (SELECT series, min(day) AS first_day, max(day) AS last_day
		  FROM forecast_eval.series GROUP BY series) s USING (series),
	   LATERAL generate_series(0, (least(p.p_end, s.last_day) - :h - (p.p_start - 1)) / 3) k
 WHERE least(p.p_end, s.last_day) - :h >= p.p_start - 1
   AND (p.p_start - 1 + 3 * k) - s.first_day + 1 >= :min_history;
ANALYZE forecast_eval.series, forecast_eval.origins;
SQL
fpsql -At -v min_history="$MIN_HISTORY" <<'SQL' | while read -r line; do log "$line"; done
SELECT format('%s %s: %s', p.series, p.period, msg)
  FROM forecast_eval.periods p
  JOIN (SELECT series, min(day) AS first_day, max(day) AS last_day
		  FROM forecast_eval.series GROUP BY series) s USING (series),
	   LATERAL (SELECT count(*) AS n FROM forecast_eval.origins o
				 WHERE o.series = p.series AND o.period = p.period) o,
	   LATERAL (VALUES
		(1, CASE WHEN p.p_end > s.last_day
				 THEN format('the data end on %s: origins only up to 7 days before', s.last_day) END),
		(2, CASE WHEN p.p_start - 1 - s.first_day + 1 < :min_history
				 THEN format('origins with less than MIN_HISTORY=%s days of data (from %s) left out',
							 :min_history, s.first_day) END),
		(3, CASE WHEN o.n = 0 THEN 'no origins' END)) m(k, msg)
 WHERE msg IS NOT NULL
 ORDER BY p.series, p.p_start DESC, k;
SQL
left=$(fpsql -At <<'SQL'
DELETE FROM forecast_eval.periods p
 WHERE NOT EXISTS (SELECT FROM forecast_eval.origins o WHERE o.series = p.series AND o.period = p.period);
SELECT count(*) FROM forecast_eval.periods;
SQL
)
[ "$left" -gt 0 ] || { echo "no evaluation period has an origin" >&2; exit 2; }

# ---------------------------------------------------------------------------
# Forecasts: one statement per (series, period, history, method).
# ---------------------------------------------------------------------------
for s in "${SERIES_LIST[@]}"; do
	mapfile -t PERIODS < <(fpsql -At -v series="$s" <<'SQL'
SELECT period FROM forecast_eval.periods WHERE series = :'series' ORDER BY p_start DESC;
SQL
)
	for p in "${PERIODS[@]}"; do
		for h in $HISTORIES; do
			ord=0
			for m in "${METHOD_LIST[@]}"; do
				ord=$((ord + 1))
				t0=$(now_ms)
				if err=$(fpsql -v series="$s" -v period="$p" -v history="$h" -v method="$m" \
					-v fs="$FS" -v ft="$FT" -v horizon="$HORIZON" -v level="$LEVEL" 2>&1 >/dev/null <<'SQL'
-- The history of every origin as two arrays in day order, then both
-- functions at every origin; the CTE is computed once for both.
WITH o AS MATERIALIZED (
	SELECT o.origin, array_agg(s.day ORDER BY s.day) AS days, array_agg(s.value ORDER BY s.day) AS vals
	  FROM forecast_eval.origins o
	  JOIN forecast_eval.series s
		ON s.series = o.series AND s.day BETWEEN o.origin - (:history - 1) AND o.origin
	 WHERE o.series = :'series' AND o.period = :'period'
	 GROUP BY o.origin
), d AS (
	INSERT INTO forecast_eval.daily
		(series, period, history, method, origin, day, predicted, lower, upper, chosen)
	SELECT :'series', :'period', :history, :'method', o.origin, f.day, f.predicted, f.lower, f.upper, f.method
	  FROM o CROSS JOIN LATERAL :fs(o.days, o.vals, :horizon, :'method', :level) f
	RETURNING 1
), t AS (
	INSERT INTO forecast_eval.total
		(series, period, history, method, origin, first_day, last_day, predicted, lower, upper, chosen)
	SELECT :'series', :'period', :history, :'method', o.origin,
		   f.first_day, f.last_day, f.predicted, f.lower, f.upper, f.method
	  FROM o CROSS JOIN LATERAL :ft(o.days, o.vals, :horizon, :'method', :level) f
	RETURNING 1
)
SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM t);
SQL
				); then
					ms=$(($(now_ms) - t0))
					err=
					log "$s $p history $h: $m $ms ms"
				else
					ms=
					err=$(grep -m1 -E 'ERROR|FATAL' <<<"$err" || echo "$err" | head -n 1)
					log "$s $p history $h: $m failed: $err"
				fi
				fpsql -v series="$s" -v period="$p" -v history="$h" -v method="$m" -v ord="$ord" \
					-v ms="${ms:-NULL}" -v err="$err" <<'SQL'
INSERT INTO forecast_eval.runs (series, period, history, method, ord, ms, error)
VALUES (:'series', :'period', :history, :'method', :ord, :ms, nullif(:'err', ''));
SQL
			done
		done
	done
done

# ---------------------------------------------------------------------------
# Published reference of the shipped series (its README: R forecast 8.20,
# history 365 days, MAPE of the 7-day total over 26 origins).  our_method
# names our method fitting the same model, for the column next to ours.
# ---------------------------------------------------------------------------
fpsql -v series="$SHIPPED" <<'SQL'
INSERT INTO forecast_eval.reference (series, period, history, r_method, ord, mape_total, our_method)
SELECT :'series', v.period, 365, v.r_method, v.ord, v.mape, v.ours
  FROM (VALUES
	('2021-04-10..2021-06-30', 1, 'seasonal naive (weekly)',            39.5, 'seasonal_naive'),
	('2021-04-10..2021-06-30', 2, 'OLS trend + day-of-week, 28 days',   51.2, NULL),
	('2021-04-10..2021-06-30', 3, 'Holt-Winters additive, weekly',      32.1, 'holt_winters'),
	('2021-04-10..2021-06-30', 4, 'ETS (auto)',                         31.0, NULL),
	('2021-04-10..2021-06-30', 5, 'auto.arima',                         34.3, NULL),
	('2021-04-10..2021-06-30', 6, 'STL + ETS (stlf)',                   31.6, NULL),
	('2021-01-09..2021-03-31', 1, 'seasonal naive (weekly)',            18.0, 'seasonal_naive'),
	('2021-01-09..2021-03-31', 2, 'OLS trend + day-of-week, 28 days',   27.0, NULL),
	('2021-01-09..2021-03-31', 3, 'Holt-Winters additive, weekly',      17.0, 'holt_winters'),
	('2021-01-09..2021-03-31', 4, 'ETS (auto)',                         18.3, NULL),
	('2021-01-09..2021-03-31', 5, 'auto.arima',                         20.5, NULL),
	('2021-01-09..2021-03-31', 6, 'STL + ETS (stlf)',                   16.8, NULL)
  ) v(period, ord, r_method, mape, ours);
SQL

# ---------------------------------------------------------------------------
# Tables.
# ---------------------------------------------------------------------------
echo
if [ "$SELFTEST" = 1 ]; then
	echo "=== SELFTEST: $FS / $FT (mock: weekly seasonal naive, empirical-quantile intervals;" \
		"other methods are unknown to it); installed costopt $EXT_VERSION"
else
	echo "=== $FS / $FT of the installed costopt $EXT_VERSION"
fi
echo "=== rolling origin every 3 days, horizon $HORIZON days, ${LEVEL#0.}% intervals;" \
	"MAPE and interval coverage in percent"
for s in "${SERIES_LIST[@]}"; do
	echo
	fpsql -At -F ' ' -v series="$s" <<'SQL' | while read -r n first last gaps; do
SELECT count(*), min(day), max(day), (max(day) - min(day) + 1) - count(*)
  FROM forecast_eval.series WHERE series = :'series';
SQL
		echo "=== series $s: $n days, $first .. $last$([ "$gaps" = 0 ] || echo ", $gaps days missing")"
	done
	mapfile -t PERIODS < <(fpsql -At -v series="$s" <<'SQL'
SELECT period FROM forecast_eval.periods WHERE series = :'series' ORDER BY p_start DESC;
SQL
)
	for p in "${PERIODS[@]}"; do
		for h in $HISTORIES; do
			echo
			fpsql -At -v series="$s" -v period="$p" -v history="$h" <<'SQL'
SELECT format('--- %s, period %s: %s origins %s .. %s, history %s days',
			  :'series', :'period', count(*), min(origin), max(origin), :history)
  FROM forecast_eval.origins WHERE series = :'series' AND period = :'period';
SQL
			has_ref=$(fpsql -At -v series="$s" -v period="$p" -v history="$h" <<'SQL'
SELECT count(*) > 0 FROM forecast_eval.reference
 WHERE series = :'series' AND period = :'period' AND history = :history;
SQL
)
			fpsql -P footer=off -P null=- -v series="$s" -v period="$p" -v history="$h" \
				-v ref="$has_ref" <<'SQL'
SELECT m.method,
	   m.origins,
	   round(100 * m.mape_daily::numeric, 1) AS "MAPE daily",
	   round(100 * m.mape_total::numeric, 1) AS "MAPE 7d total",
	   round(100 * m.within5::numeric, 1) AS "7d total within 5%",
	   round(100 * m.cov_daily::numeric, 1) AS "cover daily",
	   round(100 * m.cov_total::numeric, 1) AS "cover 7d total",
	   round(m.ms) AS "ms"
	   \if :ref
	   , (SELECT r.mape_total FROM forecast_eval.reference r
		   WHERE r.series = m.series AND r.period = m.period AND r.history = m.history
			 AND r.our_method = m.method) AS "R ref MAPE 7d"
	   \endif
  FROM forecast_eval.metrics m
 WHERE m.series = :'series' AND m.period = :'period' AND m.history = :history
 ORDER BY m.ord;
SQL
			# Notes: reference, methods chosen, errors, malformed results.
			fpsql -At -v series="$s" -v period="$p" -v history="$h" <<'SQL'
SELECT line FROM (
	SELECT 1 AS k, 0 AS ord,
		   'published reference (data README, R forecast 8.20, history 365 days, MAPE of the 7-day total):' AS line
	  FROM forecast_eval.reference
	 WHERE series = :'series' AND period = :'period' AND history = :history
	HAVING count(*) > 0
	UNION ALL
	SELECT 1, ord, format('    %-34s %s%%', r_method, mape_total)
	  FROM forecast_eval.reference
	 WHERE series = :'series' AND period = :'period' AND history = :history
	UNION ALL
	SELECT 2, min(x.ord), format('%s chose (7-day total calls): %s%s', x.method, x.chosen_total,
			  CASE WHEN x.chosen_daily = x.chosen_total THEN '; daily calls the same'
				   ELSE '; daily calls: ' || x.chosen_daily END)
	  FROM (SELECT r.method, r.ord,
				   (SELECT string_agg(format('%s %s', chosen, n), ', ' ORDER BY n DESC, chosen)
					  FROM (SELECT coalesce(chosen, '(null)') AS chosen, count(*) AS n
							  FROM forecast_eval.total t
							 WHERE (t.series, t.period, t.history, t.method) = (r.series, r.period, r.history, r.method)
							 GROUP BY 1) c) AS chosen_total,
				   (SELECT string_agg(format('%s %s', chosen, n), ', ' ORDER BY n DESC, chosen)
					  FROM (SELECT coalesce(chosen, '(null)') AS chosen, count(DISTINCT origin) AS n
							  FROM forecast_eval.daily d
							 WHERE (d.series, d.period, d.history, d.method) = (r.series, r.period, r.history, r.method)
							 GROUP BY 1) c) AS chosen_daily
			  FROM forecast_eval.runs r
			 WHERE r.series = :'series' AND r.period = :'period' AND r.history = :history
			   AND (r.method = 'auto'
					OR EXISTS (SELECT FROM forecast_eval.total t
								WHERE (t.series, t.period, t.history, t.method) = (r.series, r.period, r.history, r.method)
								  AND t.chosen IS DISTINCT FROM t.method))
			   AND r.error IS NULL) x
	 GROUP BY x.method, x.chosen_total, x.chosen_daily
	UNION ALL
	SELECT 3, ord, format('%s: %s', method, error)
	  FROM forecast_eval.runs
	 WHERE series = :'series' AND period = :'period' AND history = :history AND error IS NOT NULL
	UNION ALL
	SELECT 4, ord, format('WARNING %s: daily forecasts for %s of %s origins, totals for %s; %s daily rows off'
						  ' origin+1..+7, %s origins without exactly those 7 days; %s total rows with other'
						  ' first/last days, %s extra total rows',
						  method, daily_origins, n_origins, total_origins, bad_daily_rows, bad_daily_origins,
						  bad_total_rows, extra_total_rows)
	  FROM forecast_eval.metrics,
		   (SELECT count(*) AS n_origins FROM forecast_eval.origins
			 WHERE series = :'series' AND period = :'period') o
	 WHERE series = :'series' AND period = :'period' AND history = :history AND error IS NULL
	   AND (daily_origins IS DISTINCT FROM n_origins OR total_origins IS DISTINCT FROM n_origins
			OR bad_daily_rows > 0 OR bad_daily_origins > 0 OR bad_total_rows > 0 OR extra_total_rows > 0)
	UNION ALL
	SELECT 5, 0, format('note: %s origins lack some of their 7 actual days (gaps in the data): left out of the'
						' 7-day total metrics; the daily metrics use the days that are there', count(*))
	  FROM forecast_eval.actual_totals
	 WHERE series = :'series' AND period = :'period' AND days < 7
	HAVING count(*) > 0
) notes
ORDER BY k, ord;
SQL
		done
	done
done

# Exit status 3 when a run failed or returned malformed forecasts (the
# methods the self-test mock does not know fail by design and do not count).
bad=$(fpsql -At <<'SQL'
SELECT count(*)
  FROM forecast_eval.metrics m
  JOIN (SELECT series, period, count(*) AS n FROM forecast_eval.origins GROUP BY series, period) o
	USING (series, period)
 WHERE (m.error IS NOT NULL AND m.error NOT LIKE '%self-test mock knows no method%')
	OR (m.error IS NULL
		AND (m.daily_origins IS DISTINCT FROM o.n OR m.total_origins IS DISTINCT FROM o.n
			 OR m.bad_daily_rows > 0 OR m.bad_daily_origins > 0 OR m.bad_total_rows > 0
			 OR m.extra_total_rows > 0));
SQL
)
if [ "$bad" != 0 ]; then
	echo "$bad runs failed or returned malformed forecasts (see the notes under the tables)" >&2
	exit 3
fi
