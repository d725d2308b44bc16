"""`python -m bench.replicas --users N --commands M [--replicas 1,2,3]`: throughput by replicas.

One run measures every replica count R in `--replicas` (1, 2 and 3 by default), each against a
fresh `python -m sandbox` process and a fresh PostgreSQL database, with R `python -m bot run`
processes sharing that database (`RCBOT_DB=postgresql://…`, a short `--lease`, each with its own
health port). The load is one pass of bench.load's burst mix: N users, each with a token
delegated in the DM, send M commands in closed loops over DDP (`plan_commands`, `join_users`,
`drive`).

Before the load, every replica must answer `/healthz` and every heartbeat row in `replicas` must
have been written again after all R rows existed, so each replica's live set is complete and
rendezvous hashing splits the users as it will during the load. The figures per R: throughput,
reply latency p50/p95/p99/max, the bot processes' CPU seconds (summed) per command, the
sandbox's and the database server's CPU per command, and per replica the users it owns, the
commands it ran (`/metrics`) and its CPU. CPU is counted until `defer` + 0.5 s after the last
answer, so the other replicas' (failed) claims of the last commands are included. Each figure is
compared with the smallest R (1: the single replica is this benchmark's baseline) measured in
the same run; with `--rounds K` the order of the R alternates and every figure and ratio is the
median over the rounds. `--sample-db-waits` also samples `pg_stat_activity` during the load
(what the bots' connections do, and who blocks those waiting for a lock).

Exactly once, checked after the load and a settling pause (defer + lease + a heartbeat, so late
claims and take-overs would have shown): every bot message in each user's DM history
(`im.history`) is attributed to the command it answers (nickname and bio by their quoted value,
status by its presence: the latest such command sent before it), and each command must have
exactly one answer; in the database no claim is left (`handled_messages.claimed_by`) and
`audit_log` holds one row with cause `command …` per command, per user. Any duplicate, missing or
unattributable answer, timeout, leftover claim or audit mismatch makes the exit status 1.

PostgreSQL: `--postgres URL` (a superuser's URL, to create the databases), else
$RCBOT_TEST_POSTGRES, else a throwaway server (tests/postgres_server.py) for the run. Every run
is bounded (per-answer timeout, overall `--timeout`), its children are stopped in `finally`, and
everything listens on 127.0.0.1.
"""
