# Shell helpers shared by the benchmarks (sourced after scripts/common.sh,
# once WORK is set by bench_cluster).

# psql against one database: no psqlrc, stop on the first error.
bpsql() { local db=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# Results, one "key value" line each, in $WORK/results.
put() { echo "$1 $2" >>"$WORK/results"; }
get() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$WORK/results"; }
# calc EXPR: floating-point arithmetic on results (awk syntax)
calc() { awk "BEGIN { print $1 }"; }
# median PREFIX, range PREFIX: of the values (ms) whose key starts with
# PREFIX; range prints seconds with RANGE_FORMAT.
RANGE_FORMAT=${RANGE_FORMAT:-'%.2f - %.2f s'}
median() {
  awk -v p="$1" 'index($1, p) == 1 { print $2 }' "$WORK/results" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() {
  awk -v p="$1" 'index($1, p) == 1 { print $2 }' "$WORK/results" | sort -g |
    awk -v f="$RANGE_FORMAT" 'NR == 1 { lo = $1 } { hi = $1 } END { printf f, lo / 1000, hi / 1000 }'
}
