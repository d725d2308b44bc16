"""`python -m bench.load`: the bot against the bare protocol, under three workload mixes.

The package, by concern:

    plan.py        the mixes (burst, spaced, realistic): each person's commands and the answer
                   each one must get
    workspace.py   the workspace's accounts and settings, the two targets, creating the people
    targets.py     starting the bot or the baseline (bench/baseline.py), py-spy
    server_log.py  the sandbox with a log of REST calls: which calls each command cost
    drive.py       closed loops, paced visits, answers checked and timed, visibility sampled
    phases.py      one load phase: fresh sandbox, target, people, mix; its figures
    footprint.py   start-up time and memory with many tokens or pending conversations
    stats.py       percentiles; per-round ratios, their median and spread
    report.py      the report per mix, its problems, text and JSON
    goals.py       issue 18's targets and `--check-targets`
    __main__.py    the command line: mixes × rounds × (baseline, bot), then the footprint
"""
