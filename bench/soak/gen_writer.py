#!/usr/bin/env python3
"""Workload of one soak writer, as a psql script on stdout.

The script writes --rows calls into costopt.api_usage_logs in numbered
batches, one transaction each, of three kinds (share of the rows):

  copy    80%  COPY ... FROM STDIN of 200 to 4,000 rows; half of them as
               two COPY statements inside BEGIN ... COMMIT, half as one
               autocommitted COPY
  multi   15%  BEGIN; one to three multi-row INSERT ... VALUES statements
               (5 to 100 rows in all); COMMIT
  single   5%  one autocommitted single-row INSERT

Every row carries its batch in tags ({"w": writer, "e": epoch, "b": batch,
"n": rows in the batch}) and a unique request_hash.  After each batch's
COMMIT has returned, the script runs  \\warn L <writer> <epoch> <batch> <rows>.
psql runs with ON_ERROR_STOP, so that line is printed only when every
statement of the batch, the COMMIT included, succeeded; \\warn writes to
stderr, which is unbuffered, so the line reaches the ledger file at once.
An epoch is one psql session: a writer that loses its connection starts a
new epoch, so batch keys never repeat.

Token counts are drawn from the Azure LLM inference trace 2023 (conversation
and code services; Microsoft Azure, AzurePublicDataset, CC BY 4.0; Patel et
al., "Splitwise", ISCA 2024) when --trace-dir has it, else from log-normal
distributions of similar shape.  Models are seed-catalog models, plus 1% of a
model the catalog does not price.  Standard library only; deterministic for
given --seed, --writer and --epoch.

--calibrate N writes instead one COPY of N rows into soak.calib (same
distribution, writer 0), from which run.sh sizes the budgets.

--rate R paces the batches at R calls per second at most (0: no limit).

Usage: gen_writer.py --writer W --epoch E --rows N [--rate R] [--seed S] [--trace-dir DIR]
       gen_writer.py --calibrate N [--seed S] [--trace-dir DIR]
"""

import argparse
import csv
import os
import random
import signal
import sys
import time

COLUMNS = ("organization_id", "user_id", "project", "provider", "model",
           "input_tokens", "output_tokens", "cached_input_tokens",
           "cache_write_tokens", "latency_ms", "status", "request_hash", "tags")

# Organisations and their share of the calls.
ORGS = (("acme", 35), ("globex", 25), ("initech", 20), ("umbrella", 12), ("hooli", 8))
# Users (None: a service key without a user).
USERS = (("u1", 40), ("u2", 25), ("u3", 15), ("u4", 10), ("u5", 5), (None, 5))
# Projects; "code" calls take their token counts from the code trace.
PROJECTS = (("support", 50), ("research", 30), ("code", 20))
# (provider, model, share, prompt caching: auto = provider reports cache
# reads, explicit = reads and writes billed, None = none)
MODELS = (
    ("openai", "gpt-4o-mini", 35, "auto"),
    ("openai", "gpt-4o", 20, "auto"),
    ("anthropic", "claude-3-5-sonnet", 15, "explicit"),
    ("anthropic", "claude-3-5-haiku", 10, "explicit"),
    ("google", "gemini-2.0-flash", 15, "auto"),
    ("google", "gemini-1.5-pro", 4, "auto"),
    # served in house, not in the price catalog: stored 'unpriced'
    ("selfhosted", "acme-ft-llama-70b", 1, None),
)
# Batch kinds: (name, share of rows, smallest, largest batch).
KINDS = (("copy", 0.80, 200, 4000), ("multi", 0.15, 5, 100), ("single", 0.05, 1, 1))

TABLE = "costopt.api_usage_logs"


def read_trace(path):
    """(context tokens, generated tokens) of every request in a trace file."""
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out.append((int(r["ContextTokens"]), int(r["GeneratedTokens"])))
    return out


class Calls:
    """Draws calls; one seeded random.Random, used in a fixed order."""

    def __init__(self, rnd, trace_dir):
        self.rnd = rnd
        self.conv = self.code = None
        if trace_dir and os.path.isdir(trace_dir):
            conv = os.path.join(trace_dir, "AzureLLMInferenceTrace_conv.csv")
            code = os.path.join(trace_dir, "AzureLLMInferenceTrace_code.csv")
            if os.path.exists(conv) and os.path.exists(code):
                self.conv, self.code = read_trace(conv), read_trace(code)
        self.org_w = [w for _, w in ORGS]
        self.user_w = [w for _, w in USERS]
        self.proj_w = [w for _, w in PROJECTS]
        self.model_w = [m[2] for m in MODELS]

    def tokens(self, project):
        r = self.rnd
        trace = self.code if project == "code" else self.conv
        if trace is not None:
            return trace[r.randrange(len(trace))]
        # no trace: log-normal shapes close to it (code: long prompts, short
        # completions; conversation: ~1k prompts, ~200 completions)
        if project == "code":
            return (max(1, int(r.lognormvariate(7.3, 0.9))), max(1, int(r.lognormvariate(2.5, 1.0))))
        return (max(1, int(r.lognormvariate(6.7, 0.9))), max(1, int(r.lognormvariate(5.0, 0.8))))

    def row(self, key, i, n):
        """One call as a tuple of COLUMNS (None = NULL)."""
        r = self.rnd
        org = ORGS[r.choices(range(len(ORGS)), self.org_w)[0]][0]
        user = USERS[r.choices(range(len(USERS)), self.user_w)[0]][0]
        project = PROJECTS[r.choices(range(len(PROJECTS)), self.proj_w)[0]][0]
        provider, model, _, cache = MODELS[r.choices(range(len(MODELS)), self.model_w)[0]]
        inp, out = self.tokens(project)
        cached = written = 0
        if cache is not None and inp >= 1024 and r.random() < 0.4:
            cached = 128 * int(r.random() * 0.9 * inp / 128)
            if cache == "explicit" and r.random() < 0.25:
                written = min(inp - cached, 128 * int(r.random() * 0.3 * inp / 128))
        status = "success"
        if r.random() < 0.01:
            status, out = "error", 0
        latency = int(150 + out * r.uniform(8, 25) + inp * 0.02)
        w, e, b = key
        tags = '{"w": %d, "e": %d, "b": %d, "n": %d}' % (w, e, b, n)
        return (org, user, project, provider, model, inp, out, cached, written, latency,
                status, "w%de%db%dr%d" % (w, e, b, i), tags)


def copy_line(row):
    return "\t".join("\\N" if v is None else str(v) for v in row)


def sql_value(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("'", "''") + "'"


def values_stmt(rows):
    return ("INSERT INTO %s (%s) VALUES\n" % (TABLE, ", ".join(COLUMNS))
            + ",\n".join("(" + ", ".join(sql_value(v) for v in row) + ")" for row in rows)
            + ";")


def copy_stmt(rows, out, table=TABLE):
    out.write("COPY %s (%s) FROM STDIN;\n" % (table, ", ".join(COLUMNS)))
    for row in rows:
        out.write(copy_line(row))
        out.write("\n")
    out.write("\\.\n")


def writer(args, out):
    rnd = random.Random("%d-%d-%d" % (args.seed, args.writer, args.epoch))
    calls = Calls(rnd, args.trace_dir)
    # the kind of a batch is drawn with probability proportional to its row
    # share over its mean size, so that the rows split as KINDS says
    kind_w = [share / ((lo + hi) / 2.0) for _, share, lo, hi in KINDS]
    left = args.rows
    b = 0
    t0 = time.monotonic()
    while left > 0:
        b += 1
        if args.rate > 0:
            # pace: no batch before its rows are due at --rate calls/s (psql
            # runs at most a pipe buffer behind)
            ahead = (args.rows - left) / args.rate - (time.monotonic() - t0)
            if ahead > 0:
                out.flush()
                time.sleep(ahead)
        kind, _, lo, hi = KINDS[rnd.choices(range(len(KINDS)), kind_w)[0]]
        n = min(left, rnd.randint(lo, hi))
        key = (args.writer, args.epoch, b)
        rows = [calls.row(key, i, n) for i in range(1, n + 1)]
        if kind == "copy":
            if n >= 2 and rnd.random() < 0.5:
                cut = rnd.randint(1, n - 1)
                out.write("BEGIN;\n")
                copy_stmt(rows[:cut], out)
                copy_stmt(rows[cut:], out)
                out.write("COMMIT;\n")
            else:
                copy_stmt(rows, out)
        elif kind == "multi":
            parts = min(n, rnd.randint(1, 3))
            cuts = sorted(rnd.sample(range(1, n), parts - 1)) if parts > 1 else []
            bounds = [0] + cuts + [n]
            out.write("BEGIN;\n")
            for j in range(parts):
                out.write(values_stmt(rows[bounds[j]:bounds[j + 1]]))
                out.write("\n")
            out.write("COMMIT;\n")
        else:
            out.write(values_stmt(rows))
            out.write("\n")
        out.write("\\warn L %d %d %d %d\n" % (args.writer, args.epoch, b, n))
        left -= n


def calibrate(args, out):
    rnd = random.Random("%d-calibrate" % args.seed)
    calls = Calls(rnd, args.trace_dir)
    n = args.calibrate
    copy_stmt([calls.row((0, 0, 0), i, n) for i in range(1, n + 1)], out, "soak.calib")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writer", type=int, default=0)
    ap.add_argument("--epoch", type=int, default=0)
    ap.add_argument("--rows", type=int, default=0)
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--trace-dir", default=None)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--calibrate", type=int, default=0)
    args = ap.parse_args()
    # psql exits when its connection is lost; end quietly on the broken pipe
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    out = sys.stdout
    if args.calibrate > 0:
        calibrate(args, out)
    else:
        out.write("\\set ON_ERROR_STOP on\n")
        writer(args, out)
    out.flush()


if __name__ == "__main__":
    main()
