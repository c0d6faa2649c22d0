#!/usr/bin/env python3
"""Generate a synthetic but realistic costopt usage log as CSV.

Token counts are sampled, with replacement, from the real per-request counts
of the Azure LLM inference trace 2023 (conversation and code services; data
by Microsoft Azure, AzurePublicDataset, CC BY 4.0; Patel et al., "Splitwise",
ISCA 2024).  Everything else is an invented but plausible mix: 50
organizations of Zipf-like size, their users, seeded catalog models plus 1%
of a model the catalog does not price, prompt-cache reads and writes where
the provider offers them, a few batch calls and failed calls, and created_at
spread over 30 days, and 0.5% of calls whose token counts the gateway had
to estimate (a stream without a usage report).

The output is deterministic for a given --rows and --seed: only one seeded
random.Random is used, in a fixed order.  Standard library only.

Usage: gen_usage.py --trace-dir DIR --rows N --seed S --out FILE
"""

import argparse
import csv
import datetime
import os
import random
import sys

# The columns written, in order; run.sh copies them with the same list.
COLUMNS = [
    "created_at", "organization_id", "user_id", "project", "provider", "model",
    "operation", "is_batch", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "tokens_estimated",
    "latency_ms", "status", "error_message",
]

# (provider, model, share of calls, cache behaviour).  Cache behaviour:
# "auto" = provider caches long prompts itself and reports cache reads
# (OpenAI, Gemini 2.0); "explicit" = the caller marks cache breakpoints and
# is billed for writes and reads (Anthropic); None = no caching.
MODELS = [
    ("openai", "gpt-4o-mini", 0.33, "auto"),
    ("openai", "gpt-4o", 0.22, "auto"),
    ("anthropic", "claude-3-5-sonnet", 0.17, "explicit"),
    ("anthropic", "claude-3-haiku", 0.09, "explicit"),
    ("google", "gemini-2.0-flash", 0.18, "auto"),
    # a fine-tune served in house: not in the price catalog -> 'unpriced'
    ("selfhosted", "acme-support-llama-70b-ft", 0.01, None),
]

N_ORGS = 50
DAYS = 30
START = datetime.datetime(2025, 3, 1, tzinfo=datetime.timezone.utc)


def read_trace(path):
    """(context tokens, generated tokens) of every request in one trace file."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        for r in reader:
            rows.append((int(r["ContextTokens"]), int(r["GeneratedTokens"])))
    if not rows:
        sys.exit("gen_usage.py: no rows in %s" % path)
    return rows


def cumulative(weights):
    """Running sums, for random.choices(cum_weights=...)."""
    out = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace-dir", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--seed", type=int, default=20231116)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    rng = random.Random(args.seed)

    # Both services in one pool, so the mix follows their real volumes
    # (about 69% conversation, 31% code); the service becomes the project.
    pool = []
    for name, project in (("AzureLLMInferenceTrace_conv.csv", "chat"),
                          ("AzureLLMInferenceTrace_code.csv", "code-assist")):
        for ctx, gen in read_trace(os.path.join(args.trace_dir, name)):
            pool.append((ctx, gen, project))

    # Organizations: Zipf-like volume (org-01 is the biggest customer);
    # bigger organizations also have more users.
    org_cum = cumulative([1.0 / (i + 1) for i in range(N_ORGS)])
    org_users = [max(3, 400 // (i + 1)) for i in range(N_ORGS)]
    model_cum = cumulative([m[2] for m in MODELS])

    # Call times: uniform over 30 days with a day/night cycle (accepted
    # with probability 0.35 at night up to 1.0 in the afternoon), sorted as
    # a log would arrive.
    span = DAYS * 86400
    times = []
    while len(times) < args.rows:
        t = rng.random() * span
        hour = (t % 86400) / 3600.0
        accept = 0.35 + 0.65 * max(0.0, 1.0 - abs(hour - 15.0) / 9.0)
        if rng.random() < accept:
            times.append(t)
    times.sort()

    tmp = args.out + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for t in times:
            ctx, gen, project = pool[rng.randrange(len(pool))]
            org = rng.choices(range(N_ORGS), cum_weights=org_cum)[0]
            provider, model, _, cache = MODELS[rng.choices(range(len(MODELS)),
                                                           cum_weights=model_cum)[0]]
            created = START + datetime.timedelta(seconds=t)

            # 4% of calls come from service keys without a user
            if rng.random() < 0.04:
                user = ""
            else:
                user = "org%02d-u%03d" % (org + 1, rng.randrange(org_users[org]))

            inp, out = ctx, gen
            cached = 0
            written = 0
            if cache == "auto" and inp >= 1024 and rng.random() < 0.45:
                # OpenAI-style: a cached prefix of at least 1024 tokens, in
                # 128-token steps, never the whole prompt
                steps = (inp - 1024) // 128
                cached = 1024 + 128 * rng.randint(0, steps)
                cached = min(cached, inp - 1)
            elif cache == "explicit" and inp >= 1024:
                r = rng.random()
                if r < 0.35:            # cache hit on a system prompt / document
                    cached = int(inp * rng.uniform(0.5, 0.95))
                elif r < 0.45:          # first call of a session writes the cache
                    written = int(inp * rng.uniform(0.5, 0.95))

            # 2% batch API calls (half-price tier where the model has one)
            is_batch = "t" if rng.random() < 0.02 else "f"

            # 0.5% streamed calls without a usage report: counts estimated
            # from the text, no cache information
            estimated = "f"
            if rng.random() < 0.005:
                estimated = "t"
                cached = written = 0

            status = "success"
            error = ""
            r = rng.random()
            if r < 0.008:
                status, error, out = "error", "upstream returned 500", 0
            elif r < 0.012:
                status, error, out = "timeout", "no response within 60 s", 0

            latency = int(180 + out * rng.uniform(8, 25) + inp * 0.02)

            w.writerow([
                created.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
                "org-%02d" % (org + 1),
                user,
                project,
                provider,
                model,
                "chat",
                is_batch,
                inp,
                out,
                cached,
                written,
                estimated,
                latency,
                status,
                error,
            ])
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
