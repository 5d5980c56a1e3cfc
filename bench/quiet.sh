#!/bin/bash
# Run a timing-sensitive command alone: one timing at a time (flock on $QUIET_LOCK), with a background
# job paused meanwhile (SIGSTOP/SIGCONT to the process group whose id is in $QUIET_PAUSE_PGID_FILE, e.g. a
# long `snapcheck train` started with `setsid ... & echo $! > /tmp/catface-train.pgid`).
#   bench/quiet.sh .venv/bin/python bench/check_speed.py --reps 9
exec 9>"${QUIET_LOCK:-/tmp/bench.lock}"
flock 9
pg=$(cat "${QUIET_PAUSE_PGID_FILE:-/tmp/catface-train.pgid}" 2>/dev/null)
[ -n "$pg" ] && kill -STOP -- "-$pg" 2>/dev/null
trap '[ -n "$pg" ] && kill -CONT -- "-$pg" 2>/dev/null' EXIT
"$@"
