# Sourced by bench/run (and bench/smoke-run, which tests it): running one
# scenario program and leaving its row, a result, an error or a skip, as
# $work/NNN.json. Expects $work (a directory), $only ("" for every
# scenario) and $bench_programs (where the programs are).

# wanted NAME: --only allows NAME.
wanted() { [[ -z $only || $only == "$1" ]]; }

# bench NAME PROGRAM ARGS...: $bench_programs/PROGRAM ARGS into
# $work/NNN.json when --only allows NAME. A run that fails is recorded as
# an error row, one that cannot run here (77) as skipped; the rest go on.
# $last_result is the file this call left, "" when none.
count=0
last_result=""
bench() {
  local name=$1 program=$2
  shift 2
  last_result=""
  wanted "$name" || return 0
  count=$((count + 1))
  local out
  out=$(printf '%s/%03d.json' "$work" "$count")
  echo "== $program $*" >&2
  local rc=0 err="${out%.json}.err"
  # stderr through tee, in a pipeline rather than a process substitution:
  # the pipeline's end waits for tee, so $err is complete, and no `wait $!`
  # can pick up the Serf side's background job instead of the tee.
  "$bench_programs/$program" "$@" 2>&1 >"$out" | tee "$err" >&2 || rc=${PIPESTATUS[0]}
  if ((rc == 77)); then
    echo "   skipped: it cannot run on this machine" >&2
    rm -f "$out" "$err"
    return 0
  elif ((rc != 0)); then
    local system=domian
    [[ " $* " == *" --system serf "* ]] && system=serf
    # With its N, so that the report can set Serf's figure beside it,
    # detect's junk rows, so that it is not taken for the clean figure,
    # and a plaintext run's transport, so that it is not taken for TLS.
    local fields="" previous="" arg
    for arg in "$@"; do
      [[ $previous == --nodes ]] && fields+=",\"nodes\":$arg"
      [[ $previous == --junk ]] && fields+=",\"junk_rows\":$arg"
      [[ $arg == --plaintext ]] && fields+=',"transport":"plaintext"'
      previous=$arg
    done
    # The program's own last word on why, as a JSON string.
    local why
    # A program that died without a word (a crash) leaves none: grep's
    # "no match" must not end the run.
    why=$({ grep "^$program: " "$err" || true; } | tail -n 1 | cut -c1-400 |
      tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')
    printf '{"scenario":"%s","system":"%s"%s,"error":"%s exited %d%s"}\n' \
      "$name" "$system" "$fields" "$program" "$rc" "${why:+: ${why#"$program: "}}" >"$out"
  fi
  rm -f "$err"
  last_result=$out
}
membership() { bench "$1" membership_bench --scenario "$@"; }

# skip NAME NODES WHY: records domian's NAME at N=NODES as skipped, for
# WHY, when --only allows NAME; the report shows it as a row of its own.
skip() {
  local name=$1 nodes=$2 why=$3
  wanted "$name" || return 0
  count=$((count + 1))
  echo "== $name N=$nodes skipped: $why" >&2
  printf '{"scenario":"%s","system":"domian","nodes":%d,"skipped":"%s"}\n' \
    "$name" "$nodes" "$why" >"$(printf '%s/%03d.json' "$work" "$count")"
}

