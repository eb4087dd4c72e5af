#!/usr/bin/env python3
"""Model of domian's planned "membership v2" failure detector: how long a
crash takes until every survivor says "dead", and what the detector costs
on the wire at steady state, for cluster sizes the benchmark cannot run on
one small machine (N up to 1000). Standard library only.

What is modelled
================
v2 is SWIM with Lifeguard's suspicion (core/membership/prober.*,
suspicion.*, rumours.*):

* Probing. Every member starts one probe round per period T, walking a
  shuffled round-robin order of the other N-1 members (reshuffled every
  lap), at its own random phase. A round probes the target directly
  (timeout `probe_timeout`); when that fails it asks k random other members
  to probe (indirect probes), and without an ack within another
  `probe_timeout` -- or as soon as every relay has nacked (prober.cc ends
  the round early then) -- the prober suspects the target.
* Hints (SIGKILL). The kernel of a killed process closes its sockets, so
  every peer holding a connection to it learns within `hint_ms` and starts
  a round out of turn. A probe of a killed process is refused in
  `refused_ms`, and so are the relays' probes, whose nacks then end the
  round in a few milliseconds. A silent failure (power cut, SIGSTOP) gives
  no hint: the target waits for its turn in the probers' orders and every
  probe times out.
* Suspicion (Lifeguard). min = suspicion_base * max(1, log10 N),
  max = 6 * min, timeout = max(min, max - (max-min) * log(C+1)/log(K+1)),
  C = distinct suspectors besides the first (capped at K = 3), counted
  from when THIS member began to suspect. A member that hears "X suspected
  by S" starts its own timer with S as first suspector; its own failed
  probe counts as one more suspector. The first timer to expire declares X
  dead; "dead" is accepted by everybody on receipt.
* Dissemination. A rumour that is new to a member -- a suspicion it did
  not hold, a suspector that still shortened its timer (Suspicion::Confirm
  returned true), a death -- is pushed at once to `fanout` random members
  (infect-and-die with immediate forwarding); a push takes `hop_ms` plus
  jitter. Infect-and-die misses about e^-fanout of the members, so "dead"
  is also piggybacked on probes: a member that knows tells it
  lambda*ceil(log10(N+1)) times, on its own probes (requests) and on the
  acks it gives to probes of members that do not know yet. Probes go to a
  random member (a shuffled order looks random from outside). Suspect
  rumours are not piggybacked in the model (for a SIGKILL everyone
  suspects on its own anyway; for a silent failure the death reaches the
  few who missed them).
* Jitter: every message and every local step waits an extra
  exponential(`jitter_ms`) for scheduling.

Assumptions (what the model leaves out)
=======================================
* Every survivor holds a connection to the victim (`hint_fraction` 1): at
  N=1000 that is 999 TLS connections per node, each used for a probe once
  a lap (~17 min). If idle connections are closed, hints vanish; try
  --param hint_fraction=0.1 or 0 (a hint-less SIGKILL still has refused,
  fast-failing probes, but waits for the probers' turns).
* No packet loss, no CPU stalls, no slow members: the tails are only those
  of the protocol (probe turns, infect-and-die stragglers) and of the
  exponential jitter; a loaded 2-core machine has longer ones.
* Local health (Lifeguard's stretching of a slow node's timeouts) is not
  modelled. Note the race it would meet: in a silent failure a relay's
  probe times out after `probe_timeout`, the same time the prober waits
  for the relays, so the nacks always arrive too late and every prober of
  a silently failed member counts "missing nacks" against its own health.
* Only the victim fails; relays and pushes to live members always work.

How the simulation stays cheap
==============================
One kill is simulated as discrete events over the window around the
crash only. Each survivor's next regular round that targets the dead
member is sampled directly from the lap structure (position of the dead
member in the current and the next shuffled lap, and the member's phase),
so no other probe is simulated. A probe round's outcome depends only on the
dead member and on timing (the relays are alive), so its verdict time is
computed in closed form when the round starts: one event per round.
Rumour pushes, suspicion timers and piggybacked deaths are events. The run
stops when the last survivor has said dead. Large N gets fewer kills
(printed in the "kills" column), since each kill there costs O(N) events.

Closed-form estimates (columns "cf")
====================================
Means, to check the simulation's order of magnitude:
* SIGKILL: hint + 2*(refused + hop) + suspicion min + the hops of an
  infect-and-die flood, ceil(log_fanout N) + 1, each hop_ms + jitter.
* Silent: expected first probe of the dead member (computed from the lap
  structure: min over N-1 probers), + 2*probe_timeout, + the suspicion wait
  min over c of max(c*T, timeout(c)) (later suspectors arrive about one per
  T: N-1 probers each probe a given member once per lap of N-1 periods),
  + the flood.

Traffic
=======
At steady state nothing changes, so there are no gossip pushes; a node
sends one probe round trip per T (request and response; a standalone TCP
ACK only with `standalone_ack`, none having been seen at one message a
second per connection) and one anti-entropy push-pull every `pushpull_s`
(a round trip carrying the view digest, or with `pushpull_rows` a digest
row per member each way). Every packet on
the wire is counted once, by the node that started the exchange, so the
totals are bytes and packets per second per node, comparable with the
bench's `traffic` scenario (loopback bytes sent / N). Bytes include IP/TCP
headers, TLS records and HTTP/2 frames, which is what the defaults of
`probe_request_bytes` etc. stand for. The cost of one rumour (one fanout
push by every member + its piggybacked copies) and the burst of one
simulated kill are printed beside it.

v1 calibration
==============
v1 (current design, core/membership/peer_table.cc PaceFor) starts
exchanges_per_tick = min(fanout, 64 / members) heartbeat exchanges every
h = 200 ms, each a round trip whose request and response carry one row per
member. The model fits bytes/s = E * (overhead + 2*N*row) and
packets/s = E * (p0 + p1*N) by least squares to the measured runs and
prints the fit and residuals: whether the overhead + per-row structure
(reused for v2) explains what the bench saw.

Reading the output
==================
Times are ms from the crash until the LAST survivor says dead ("all say
dead", the bench's all_dead_ms); p50/p99 are nearest-rank percentiles over
the simulated kills, as bench/percentile.h computes them. Goals from the
bench README: p50 <= 1.5 s, p99 <= 3 s for SIGKILL. Serf's measured traffic
is 267 B/s and 2 packets/s per node.

Usage
=====
  bench/membership_model.py [--nodes 5,20,...] [--kills 400] [--seed 1]
      [--json] [--param name=value ...] [--compare RESULTS.json]
  bench/membership_model.py --list-params
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys

# ---------------------------------------------------------------------------
# Parameters. Times in ms, sizes in bytes on the wire.

DEFAULTS: dict[str, float] = {
    # probing
    "probe_period_ms": 1000.0,   # T
    "probe_timeout_ms": 500.0,   # direct probe, then again for the relays
    "relays": 3,                 # k, members asked to probe indirectly
    "hint_ms": 2.0,              # SIGKILL: connection-broke hint delay
    "hint_fraction": 1.0,        # share of survivors holding a connection to the victim
    "refused_ms": 1.0,           # a probe of a killed process is refused this fast
    # suspicion (Lifeguard)
    "suspicion_base_ms": 500.0,
    "suspicion_max_factor": 6,
    "confirmations_for_min": 3,  # K
    # dissemination
    "fanout": 3,
    "hop_ms": 1.0,               # one push: a gRPC round trip
    "jitter_ms": 0.5,            # mean of the exponential processing delay
    "tell_lambda": 3,            # piggybacked lambda * ceil(log10(N+1)) times
    # bytes
    # One round trip over an open mutual-TLS connection, headers included,
    # as measured: `membership_bench --scenario traffic --nodes 2` with a
    # 1 s heartbeat (v1; each message its sender row and one digest row)
    # counted 157.8 B/s and 1.0 packets/s per node, i.e. one exchange a
    # second of ~315 B in 2 packets (ASan build, 2026-12-08). At one
    # message a second per connection no standalone ACK was seen.
    "probe_request_bytes": 150.0,
    "probe_response_bytes": 165.0,
    "ack_bytes": 66.0,           # a TCP/IP header alone, for extra segments
    "standalone_ack": 0,         # 1: count a delayed ACK per round trip
    "rumour_bytes": 30.0,
    "digest_row_bytes": 25.0,
    "pushpull_s": 30.0,
    "pushpull_rows": 0,          # 1: a digest row per member each way; 0: one view digest only
                                 # (the design: rows only when digests differ)
    "view_digest_bytes": 16.0,   # used when pushpull_rows=0
    "mss": 65483.0,              # TCP payload per segment (loopback; 1448 on Ethernet)
    "rumours_per_hour": 0.0,     # churn added to steady-state traffic (rumours cluster-wide)
    # v1 calibration
    "v1_heartbeat_ms": 200.0,
    "v1_fanout": 3,
    "v1_rows_per_tick": 64.0,
    "v1_budget_counts_self": 1,  # 1: 64/N as PaceFor (members incl. self); 0: 64/(N-1)
}

# Measured by bench/run at commit f17bf7c (mutual TLS, loopback, headers
# included): membership-2026-12-01T10-03-47Z.json.
V1_MEASURED = [  # nodes, bytes/s per node, packets/s per node
    (5, 3466.84534997916, 20.03956849698936),
    (50, 14755.235250451833, 23.578460285507294),
    (100, 18105.30857167385, 21.264061421290762),
]
SERF_BYTES_PER_S = 267.0
SERF_PACKETS_PER_S = 2.0
GOAL_P50_MS = 1500.0
GOAL_P99_MS = 3000.0


def parse_params(items: list[str]) -> dict[str, float]:
    params = dict(DEFAULTS)
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--param wants name=value, got {item!r}")
        name, value = item.split("=", 1)
        name = name.strip().replace("-", "_")
        if name not in params:
            raise SystemExit(f"unknown parameter {name!r}; known: {', '.join(sorted(params))}")
        try:
            params[name] = float(value)
        except ValueError:
            raise SystemExit(f"parameter {name} wants a number, got {value!r}")
    return params


# ---------------------------------------------------------------------------
# Suspicion (mirrors core/membership/suspicion.cc, whole milliseconds).

def suspicion_min(p: dict, n: int) -> float:
    scale = max(1.0, math.log10(max(n, 1)))
    return math.ceil(p["suspicion_base_ms"] * scale - 1e-6)


def suspicion_timeout(p: dict, n: int, confirmations: int) -> float:
    lo = suspicion_min(p, n)
    hi = lo * p["suspicion_max_factor"]
    k = p["confirmations_for_min"]
    fraction = math.log(confirmations + 1) / math.log(k + 1)
    return max(lo, hi - math.floor((hi - lo) * fraction))


def tell_count(p: dict, n: int) -> int:
    return int(p["tell_lambda"] * math.ceil(math.log10(n + 1)))


def percentile(values: list[float], q: float) -> float:
    """Nearest rank, as bench/percentile.h."""
    if not values:
        return float("nan")
    s = sorted(values)
    rank = math.ceil(q / 100.0 * len(s))
    return s[min(max(rank, 1), len(s)) - 1]


# ---------------------------------------------------------------------------
# Discrete-event simulation of one crash.

# event kinds
ROUND, VERDICT, SUSPECT, TIMER, DEAD, PIGGY, OWNPROBE = range(7)
VICTIM = 0  # member 0 is the one that crashes at t = 0


class Crash:
    """One crash of member 0 in a cluster of n, from t=0 until every
    survivor says dead. `kill`: SIGKILL (hints, refused probes) or silent."""

    def __init__(self, p: dict, n: int, kill: bool, rng: random.Random):
        self.p, self.n, self.kill, self.rng = p, n, kill, rng
        self.T = p["probe_period_ms"]
        self.k_min = int(p["confirmations_for_min"])
        self.fanout = int(p["fanout"])
        self.tells = tell_count(p, n)
        j = p["jitter_ms"]
        # expovariate is the hot path; a closure avoids re-reading params.
        self.jit = (lambda: rng.expovariate(1.0 / j)) if j > 0 else (lambda: 0.0)
        self.timeouts = [suspicion_timeout(p, n, c) for c in range(self.k_min + 1)]
        self.events: list = []
        self.seq = 0
        self.pushes = 0          # gossip pushes sent (for the burst bytes)
        self.piggybacked = 0     # rumour rows piggybacked on probes
        self.probes = 0          # direct + indirect probes of the victim

    def at(self, t: float, kind: int, m: int, arg=None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, m, arg))

    def pick(self, m: int) -> list[int]:
        """`fanout` distinct random members other than m (the victim may be
        among them: a sender does not know it is dead, the push is lost)."""
        n, f, rng = self.n, self.fanout, self.rng
        if n - 1 <= f:
            return [x for x in range(n) if x != m]
        out: list[int] = []
        while len(out) < f:
            x = rng.randrange(n)
            if x != m and x not in out:
                out.append(x)
        return out

    def first_round(self, L: int) -> float:
        """Start time of a member's next regular round that targets the
        victim: the member's next round is at phase U(0,T) and is slot i of
        its current lap (i uniform: a random moment in a lap of fixed
        length); the victim sits at slot q of this lap or, if already
        passed, at slot q' of the next, freshly shuffled lap."""
        rng = self.rng
        i = rng.randrange(L)
        q = rng.randrange(L)
        rounds = q - i if q >= i else L - i + rng.randrange(L)
        return rng.random() * self.T + rounds * self.T

    def verdict_time(self, t: float) -> float:
        """A round that starts at t ends in a suspicion at the returned
        time: direct probe fails (refused or timed out), k relays probe too
        and nack; the round ends when every relay nacked or at the relay
        deadline, whichever comes first (prober.cc)."""
        p, jit = self.p, self.jit
        pt, hop = p["probe_timeout_ms"], p["hop_ms"]
        fail = p["refused_ms"] if self.kill else pt
        t_relays = t + fail + jit()
        deadline = t_relays + pt
        last_nack = t_relays
        k = int(p["relays"])
        self.probes += 1 + k
        for _ in range(k):
            nack = t_relays + hop + jit() + fail + jit() + hop + jit()
            last_nack = max(last_nack, nack)
        # In a silent failure the relays' nacks come after the deadline
        # (their own timeout equals the prober's, plus two hops).
        return min(deadline, last_nack) + jit()

    def run(self) -> dict:
        n, p, rng, T, jit = self.n, self.p, self.rng, self.T, self.jit
        L = n - 1
        INF = math.inf
        said_dead = [INF] * n
        since = [INF] * n          # when the member began to suspect
        suspectors: list = [None] * n
        timer_version = [0] * n
        busy_until = [-1.0] * n    # a round for the victim is running
        tells_left = [0] * n       # times "dead" is still to be piggybacked
        phase = [rng.random() * T for _ in range(n)]  # regular round phases, for piggybacking
        hop = p["hop_ms"]
        first_suspect = INF

        # Regular rounds reaching the victim, for every survivor.
        self.events = [(self.first_round(L), m, ROUND, m, None) for m in range(1, n)]
        heapq.heapify(self.events)
        self.seq = n
        if self.kill:
            hf = p["hint_fraction"]
            for m in range(1, n):
                if hf >= 1.0 or rng.random() < hf:
                    self.at(p["hint_ms"] + jit(), ROUND, m)

        remaining = n - 1

        def counts(m: int, s: int, now: float) -> bool:
            """m learns that s suspects the victim: True when it was news
            (Suspicion::Confirm semantics), and reschedules m's timer."""
            nonlocal first_suspect
            sus = suspectors[m]
            if sus is None:
                suspectors[m] = {s}
                since[m] = now
                first_suspect = min(first_suspect, now)
            elif s in sus or len(sus) > self.k_min:
                return False
            else:
                sus.add(s)
            timer_version[m] += 1
            c = len(suspectors[m]) - 1
            self.at(since[m] + self.timeouts[c], TIMER, m, timer_version[m])
            return True

        def declare(m: int, now: float) -> None:
            nonlocal remaining
            said_dead[m] = now
            remaining -= 1
            for x in self.pick(m):
                self.pushes += 1
                self.at(now + hop + jit(), DEAD, x)
            tells_left[m] = self.tells
            if self.tells > 0:
                self.at(next_probe(m, now), PIGGY, m)
            if remaining == n - 2:
                # The first death: from now on the regular probes of those
                # who do not know yet can bring it back in their acks.
                for x in range(1, n):
                    if said_dead[x] == INF:
                        self.at(next_probe(x, now), OWNPROBE, x)

        def next_probe(m: int, now: float) -> float:
            return phase[m] + math.ceil((now - phase[m]) / T) * T

        events = self.events
        pop = heapq.heappop
        now = 0.0
        while remaining > 0 and events:
            now, _, kind, m, arg = pop(events)
            if kind == PIGGY:
                # m (which said dead) sends its next probe, to whoever its
                # shuffled order names: a random member; the probe carries
                # the death, while m has tells left (requests and acks
                # share the count).
                if tells_left[m] > 0:
                    tells_left[m] -= 1
                    x = rng.randrange(n - 1)
                    x = x + 1 if x >= m else x
                    self.piggybacked += 1
                    self.at(now + hop + jit(), DEAD, x)
                    self.at(now + T, PIGGY, m)
                continue
            if kind == OWNPROBE:
                # m does not know yet and probes somebody: the ack carries
                # the death if that member knows and still tells it.
                if said_dead[m] < INF:
                    continue
                x = rng.randrange(n - 1)
                x = x + 1 if x >= m else x
                if x != VICTIM and said_dead[x] <= now and tells_left[x] > 0:
                    tells_left[x] -= 1
                    self.piggybacked += 1
                    self.at(now + hop + jit(), DEAD, m)
                self.at(now + T, OWNPROBE, m)
                continue
            if m == VICTIM or said_dead[m] < INF:
                continue  # the victim hears nothing; a member that said dead is done
            if kind == ROUND:
                # A member that already counted itself, or is mid-round,
                # gains nothing from another round (prober: one round per target).
                if busy_until[m] > now or (suspectors[m] is not None and m in suspectors[m]):
                    continue
                v = self.verdict_time(now)
                busy_until[m] = v
                self.at(v, VERDICT, m)
            elif kind == VERDICT:
                if counts(m, m, now):
                    for x in self.pick(m):
                        self.pushes += 1
                        self.at(now + hop + jit(), SUSPECT, x, m)
            elif kind == SUSPECT:
                if counts(m, arg, now):
                    for x in self.pick(m):
                        self.pushes += 1
                        self.at(now + hop + jit(), SUSPECT, x, arg)
            elif kind == TIMER:
                if arg == timer_version[m]:
                    declare(m, now)
            elif kind == DEAD:
                declare(m, now)
        alive = said_dead[1:]
        return {
            "all_dead": max(alive),
            "first_dead": min(alive),
            "first_suspect": first_suspect,
            "pushes": self.pushes,
            "piggybacked": self.piggybacked,
            "probes": self.probes,
        }


def kills_for(n: int, kills: int) -> int:
    """Each kill costs O(N) events: large clusters get fewer kills so the
    default run stays within ~30 s on one core (still >= 100, or all asked)."""
    if n <= 100:
        return kills
    return min(kills, max(100, kills * 100 // n))


def simulate(p: dict, n: int, kill: bool, kills: int, seed: int) -> dict:
    # One RNG per (seed, N, case): results for one N do not depend on which
    # other sizes were asked for.
    rng = random.Random(f"{seed}/{n}/{'kill' if kill else 'silent'}")
    runs = [Crash(p, n, kill, rng).run() for _ in range(kills)]
    all_dead = [r["all_dead"] for r in runs]
    return {
        "kills": kills,
        "all_dead_ms": {
            "p50": percentile(all_dead, 50),
            "p99": percentile(all_dead, 99),
            "max": max(all_dead),
            "mean": sum(all_dead) / len(all_dead),
        },
        "first_dead_ms_p50": percentile([r["first_dead"] for r in runs], 50),
        "first_suspect_ms_p50": percentile([r["first_suspect"] for r in runs], 50),
        "pushes_mean": sum(r["pushes"] for r in runs) / kills,
        "piggybacked_mean": sum(r["piggybacked"] for r in runs) / kills,
        "probes_mean": sum(r["probes"] for r in runs) / kills,
    }


# ---------------------------------------------------------------------------
# Closed-form (mean) estimates.

def flood_ms(p: dict, n: int) -> float:
    """Infect-and-die with fanout f reaches most of N in about
    log_f(N) + 1 hops; the stragglers come by piggyback or own timers."""
    f = max(2, int(p["fanout"]))
    hops = math.ceil(math.log(max(n, 2)) / math.log(f)) + 1
    return hops * (p["hop_ms"] + p["jitter_ms"])


def expected_first_probe_ms(p: dict, n: int) -> float:
    """E[min over the N-1 probers of the time until their next regular
    round on the victim], from the lap structure: round index R = q - i if
    q >= i else L - i + q' (i, q, q' uniform on 0..L-1), time = U(0,T) + R*T."""
    T, L = p["probe_period_ms"], n - 1
    pmf = [0.0] * (2 * L)
    for r in range(L):                       # q >= i
        pmf[r] += (L - r) / L**2
    # q < i (prob i/L), then R = L - i + q' is uniform on [L-i, 2L-i):
    # added as a difference array, O(L).
    diff = [0.0] * (2 * L + 1)
    for i in range(1, L):
        w = (i / L) / L / L
        diff[L - i] += w
        diff[2 * L - i] -= w
    run = 0.0
    for r in range(2 * L):
        run += diff[r]
        pmf[r] += run
    tail = [0.0] * (2 * L + 1)               # tail[r] = P(R >= r)
    for r in range(2 * L - 1, -1, -1):
        tail[r] = tail[r + 1] + pmf[r]
    total, steps = 0.0, 20
    for k in range(2 * L):
        for s in range(steps):
            frac = (s + 0.5) / steps
            surv = tail[k + 1] + pmf[k] * (1.0 - frac)
            total += surv ** L * T / steps
        if tail[k + 1] ** L < 1e-9:
            break
    return total


def closed_form(p: dict, n: int) -> dict:
    hop, j = p["hop_ms"], p["jitter_ms"]
    kill = (p["hint_ms"] + j + 2 * (p["refused_ms"] + j) + 2 * (hop + j) + j
            + suspicion_min(p, n) + flood_ms(p, n))
    K = int(p["confirmations_for_min"])
    T = p["probe_period_ms"]
    wait = min(max(c * T, suspicion_timeout(p, n, c)) for c in range(K + 1))
    silent = (expected_first_probe_ms(p, n) + 2 * p["probe_timeout_ms"] + wait
              + flood_ms(p, n))
    return {"sigkill_mean_ms": kill, "silent_mean_ms": silent}


# ---------------------------------------------------------------------------
# Traffic.

def round_trip(p: dict, request_extra: float, response_extra: float) -> tuple[float, float]:
    """Bytes and packets of one gRPC round trip over an open TLS
    connection: request, response (each one segment up to `mss`), and,
    with `standalone_ack`, a delayed ACK of its own."""
    req = p["probe_request_bytes"] + request_extra
    resp = p["probe_response_bytes"] + response_extra
    mss = p["mss"]
    # A message longer than one segment costs another header (~66 B) per
    # extra segment: counted in packets and bytes.
    extra_req = max(0, math.ceil(req / mss) - 1)
    extra_resp = max(0, math.ceil(resp / mss) - 1)
    header = p["ack_bytes"]
    ack = 1 if p["standalone_ack"] else 0
    bytes_ = req + resp + ack * p["ack_bytes"] + (extra_req + extra_resp) * header
    packets = 2 + ack + extra_req + extra_resp
    return bytes_, packets


def v2_traffic(p: dict, n: int) -> dict:
    T_s = p["probe_period_ms"] / 1000.0
    probe_b, probe_pk = round_trip(p, 0, 0)
    if p["pushpull_rows"]:
        digest = n * p["digest_row_bytes"]
    else:
        digest = p["view_digest_bytes"]
    pp_b, pp_pk = round_trip(p, digest, digest)
    # One rumour: every member pushes it to `fanout` members (a unary call
    # each) and piggybacks it on its next tell_count probes.
    push_b, push_pk = round_trip(p, p["rumour_bytes"], 0)
    rumour_b = p["fanout"] * push_b + tell_count(p, n) * p["rumour_bytes"]
    rumour_pk = p["fanout"] * push_pk
    churn = p["rumours_per_hour"] / 3600.0  # rumours per second, each costing every node rumour_b
    bytes_s = probe_b / T_s + pp_b / p["pushpull_s"] + churn * rumour_b
    packets_s = probe_pk / T_s + pp_pk / p["pushpull_s"] + churn * rumour_pk
    return {
        "bytes_per_s_per_node": bytes_s,
        "packets_per_s_per_node": packets_s,
        "probe_bytes_per_s": probe_b / T_s,
        "pushpull_bytes_per_s": pp_b / p["pushpull_s"],
        "rumour_bytes_per_node": rumour_b,
        "rumour_packets_per_node": rumour_pk,
        "vs_serf_bytes": bytes_s / SERF_BYTES_PER_S,
    }


def kill_burst_bytes(p: dict, n: int, sim: dict) -> float:
    """Bytes per node one SIGKILL costs: the extra probes of the victim
    (refused: SYN + RST, ~2 headers, plus relay requests/nacks as round
    trips), every gossip push, every piggybacked row."""
    push_b, _ = round_trip(p, p["rumour_bytes"], 0)
    relay_b, _ = round_trip(p, 0, 0)
    probes = sim["probes_mean"]
    k = p["relays"]
    rounds = probes / (1 + k)
    total = (sim["pushes_mean"] * push_b + sim["piggybacked_mean"] * p["rumour_bytes"]
             + rounds * (2 * p["ack_bytes"] + k * (relay_b + 2 * p["ack_bytes"])))
    return total / n


# ---------------------------------------------------------------------------
# v1 calibration.

def v1_exchanges_per_s(p: dict, n: int) -> float:
    members = n if p["v1_budget_counts_self"] else max(n - 1, 1)
    per_tick = min(p["v1_fanout"], p["v1_rows_per_tick"] / members)
    return per_tick * 1000.0 / p["v1_heartbeat_ms"]


def lstsq2(xs: list[tuple[float, float]], ys: list[float]) -> tuple[float, float]:
    """Least squares for y = a*x0 + b*x1 (normal equations, 2x2)."""
    s00 = sum(x0 * x0 for x0, _ in xs)
    s01 = sum(x0 * x1 for x0, x1 in xs)
    s11 = sum(x1 * x1 for _, x1 in xs)
    t0 = sum(x0 * y for (x0, _), y in zip(xs, ys))
    t1 = sum(x1 * y for (_, x1), y in zip(xs, ys))
    det = s00 * s11 - s01 * s01
    return (t0 * s11 - t1 * s01) / det, (s00 * t1 - s01 * t0) / det


def v1_calibration(p: dict, nodes: list[int]) -> dict:
    # bytes/s = E * overhead + E * 2N * row ; packets/s = E * p0 + E * N * p1
    xs_b, xs_p, ys_b, ys_p = [], [], [], []
    for n, b, pk in V1_MEASURED:
        e = v1_exchanges_per_s(p, n)
        xs_b.append((e, 2 * n * e))
        xs_p.append((e, n * e))
        ys_b.append(b)
        ys_p.append(pk)
    overhead, row = lstsq2(xs_b, ys_b)
    p0, p1 = lstsq2(xs_p, ys_p)

    def bytes_at(n):
        e = v1_exchanges_per_s(p, n)
        return e * (overhead + 2 * n * row)

    def packets_at(n):
        e = v1_exchanges_per_s(p, n)
        return e * (p0 + p1 * n)

    residuals = []
    for n, b, pk in V1_MEASURED:
        mb, mp = bytes_at(n), packets_at(n)
        residuals.append({
            "nodes": n,
            "exchanges_per_s": v1_exchanges_per_s(p, n),
            "measured_bytes_per_s": b, "model_bytes_per_s": mb,
            "bytes_residual": b - mb, "bytes_residual_pct": 100 * (b - mb) / b,
            "measured_packets_per_s": pk, "model_packets_per_s": mp,
            "packets_residual": pk - mp, "packets_residual_pct": 100 * (pk - mp) / pk,
            "measured_bytes_per_exchange": b / v1_exchanges_per_s(p, n),
            "measured_packets_per_exchange": pk / v1_exchanges_per_s(p, n),
        })
    # What a probe round trip costs by the defaults, beside the fitted
    # per-exchange overhead (the same kind of message: a unary gRPC call).
    default_rt, _ = round_trip(p, 0, 0)
    return {
        "fit": {
            "overhead_bytes_per_exchange": overhead,
            "row_bytes": row,
            "packets_per_exchange": p0,
            "packets_per_exchange_per_member": p1,
            "v2_default_round_trip_bytes": default_rt,
            "v2_default_rumour_row_bytes": p["rumour_bytes"],
            "v2_default_digest_row_bytes": p["digest_row_bytes"],
        },
        "residuals": residuals,
        "estimate": [{"nodes": n, "bytes_per_s_per_node": bytes_at(n),
                      "packets_per_s_per_node": packets_at(n),
                      "exchanges_per_s": v1_exchanges_per_s(p, n)} for n in nodes],
    }


# ---------------------------------------------------------------------------
# Compare with a bench results file.

def load_results(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"--compare: cannot read {path}: {e}")


def compared_sizes(path: str) -> set[int]:
    sizes = set()
    for r in load_results(path).get("results", []):
        if (r.get("scenario") in ("detect", "traffic") and r.get("system", "domian") == "domian"
                and "error" not in r and isinstance(r.get("nodes"), int) and r["nodes"] >= 3):
            sizes.add(r["nodes"])
    return sizes


def compare(path: str, model: dict, p: dict, v1: dict) -> dict:
    data = load_results(path)
    rows, notes = [], []
    by_n = {r["nodes"]: r for r in model["v2"]}
    fit = v1["fit"]
    for r in data.get("results", []):
        scen = r.get("scenario")
        if scen not in ("detect", "traffic"):
            continue
        system = r.get("system", "domian")
        n = r.get("nodes")
        if system != "domian":
            continue
        if "error" in r:
            notes.append(f"{scen} N={n}: skipped, the row has an error: {str(r['error'])[:120]}")
            continue
        if n not in by_n:
            notes.append(f"{scen} N={n}: not modelled (add it to --nodes)")
            continue
        m = by_n[n]
        if scen == "detect":
            ad = r.get("all_dead_ms") or {}
            for q in ("p50", "p99"):
                if q in ad:
                    mv = m["sigkill"]["all_dead_ms"][q]
                    rows.append({"scenario": "detect", "nodes": n, "metric": f"SIGKILL all dead {q} ms",
                                 "model": mv, "measured": ad[q], "ratio": mv / ad[q]})
        else:
            e = v1_exchanges_per_s(p, n)
            v1b = e * (fit["overhead_bytes_per_exchange"] + 2 * n * fit["row_bytes"])
            v1p = e * (fit["packets_per_exchange"] + fit["packets_per_exchange_per_member"] * n)
            for key, v2v, v1v in (("bytes_per_s_per_node", m["traffic"]["bytes_per_s_per_node"], v1b),
                                  ("packets_per_s_per_node", m["traffic"]["packets_per_s_per_node"], v1p)):
                if key in r:
                    rows.append({"scenario": "traffic", "nodes": n, "metric": key,
                                 "model": v2v, "measured": r[key], "ratio": v2v / r[key],
                                 "v1_model": v1v, "v1_ratio": v1v / r[key]})
    return {"file": path, "commit": data.get("commit"), "date": data.get("date"),
            "rows": rows, "notes": notes}


# ---------------------------------------------------------------------------
# Output.

def fmt_ms(v: float) -> str:
    return f"{v:7.0f}" if math.isfinite(v) else "    inf"


def print_table(out: dict) -> None:
    p = out["params"]
    print("membership v2 model (SWIM + Lifeguard, hinted probes); times in ms from the crash "
          "until the last survivor says dead")
    print(f"T={p['probe_period_ms']:g} ms, probe timeout {p['probe_timeout_ms']:g} ms, k={p['relays']:g}, "
          f"fanout {p['fanout']:g}, hop {p['hop_ms']:g} ms, jitter {p['jitter_ms']:g} ms, "
          f"hint {p['hint_ms']:g} ms, refused {p['refused_ms']:g} ms, seed {out['seed']}")
    print()
    hdr = (f"{'N':>5} {'kills':>5} | {'SIGKILL p50':>11} {'p99':>7} {'cf':>7} | "
           f"{'silent p50':>10} {'p99':>7} {'cf':>7} | {'susp.min':>8} | "
           f"{'B/s/node':>8} {'pkt/s':>6} {'xSerf':>6} | {'B/kill/node':>11}")
    print(hdr)
    print("-" * len(hdr))
    for r in out["v2"]:
        k, s, t = r["sigkill"], r["silent"], r["traffic"]
        print(f"{r['nodes']:>5} {k['kills']:>5} | {fmt_ms(k['all_dead_ms']['p50']):>11} "
              f"{fmt_ms(k['all_dead_ms']['p99'])} {fmt_ms(r['closed_form']['sigkill_mean_ms'])} | "
              f"{fmt_ms(s['all_dead_ms']['p50']):>10} {fmt_ms(s['all_dead_ms']['p99'])} "
              f"{fmt_ms(r['closed_form']['silent_mean_ms'])} | {r['suspicion_min_ms']:>8.0f} | "
              f"{t['bytes_per_s_per_node']:>8.0f} {t['packets_per_s_per_node']:>6.2f} "
              f"{t['vs_serf_bytes']:>6.2f} | {r['kill_burst_bytes_per_node']:>11.0f}")
    print()
    print("cf: closed-form mean estimate. xSerf: bytes/s per node over Serf's measured 267 B/s.")
    print("B/kill/node: extra bytes per node one SIGKILL costs (probes of the victim, pushes, piggyback).")
    r0 = out["v2"][0]["traffic"]
    print(f"steady state = probes {r0['probe_bytes_per_s']:.0f} B/s + push-pull "
          f"({'a digest row per member' if p['pushpull_rows'] else 'view digest only'}) every "
          f"{p['pushpull_s']:g} s; one rumour costs each node ~{r0['rumour_bytes_per_node']:.0f} B "
          f"(rumours_per_hour={p['rumours_per_hour']:g} added).")
    misses = out["goal_misses"]
    if misses:
        print("goals missed (SIGKILL p50 <= 1.5 s, p99 <= 3 s):")
        for m in misses:
            print(f"  {m}")
    else:
        print("SIGKILL goals (p50 <= 1.5 s, p99 <= 3 s) met at every N modelled.")

    v1 = out["v1"]
    fit = v1["fit"]
    print()
    print("v1 calibration (bench f17bf7c, mTLS, loopback): bytes/s = E*(overhead + 2N*row), "
          "packets/s = E*(p0 + p1*N),")
    print("E = (1000/h) * min(fanout, 64/members) exchanges started per node per second")
    print(f"  fitted: overhead {fit['overhead_bytes_per_exchange']:.1f} B/exchange, row "
          f"{fit['row_bytes']:.2f} B; packets {fit['packets_per_exchange']:.3f} + "
          f"{fit['packets_per_exchange_per_member']:.4f}*N per exchange")
    print(f"  (v2 defaults: round trip {fit['v2_default_round_trip_bytes']:.0f} B, rumour row "
          f"{fit['v2_default_rumour_row_bytes']:.0f} B, digest row {fit['v2_default_digest_row_bytes']:.0f} B)")
    print(f"  {'N':>5} {'E/s':>6} {'meas B/s':>9} {'model':>9} {'resid':>8} {'%':>6} | "
          f"{'meas pkt/s':>10} {'model':>6} {'resid':>6} {'%':>6} | {'B/exch':>7} {'pkt/exch':>8}")
    for r in v1["residuals"]:
        print(f"  {r['nodes']:>5} {r['exchanges_per_s']:>6.2f} {r['measured_bytes_per_s']:>9.0f} "
              f"{r['model_bytes_per_s']:>9.0f} {r['bytes_residual']:>8.0f} {r['bytes_residual_pct']:>6.1f} | "
              f"{r['measured_packets_per_s']:>10.1f} {r['model_packets_per_s']:>6.1f} "
              f"{r['packets_residual']:>6.2f} {r['packets_residual_pct']:>6.1f} | "
              f"{r['measured_bytes_per_exchange']:>7.0f} {r['measured_packets_per_exchange']:>8.2f}")
    print("  v1 estimate with the fit: " + ", ".join(
        f"N={e['nodes']} {e['bytes_per_s_per_node']:.0f} B/s {e['packets_per_s_per_node']:.1f} pkt/s"
        for e in v1["estimate"]))
    for w in v1.get("warnings", []):
        print(f"  note: {w}")

    if "compare" in out:
        c = out["compare"]
        print()
        print(f"compare with {c['file']} (commit {c['commit']}, {c['date']}); "
              "traffic: v2 model vs measured (and the v1 fit)")
        for r in c["rows"]:
            line = (f"  {r['scenario']:<7} N={r['nodes']:<5} {r['metric']:<26} model {r['model']:>9.1f}  "
                    f"measured {r['measured']:>9.1f}  ratio {r['ratio']:.2f}")
            if "v1_model" in r:
                line += f"  (v1 fit {r['v1_model']:.1f}, ratio {r['v1_ratio']:.2f})"
            print(line)
        for note in c["notes"]:
            print(f"  note: {note}")
        if not c["rows"]:
            print("  no domian detect or traffic rows found")


def v1_warnings(v1: dict) -> list[str]:
    out = []
    fit = v1["fit"]
    if fit["overhead_bytes_per_exchange"] < fit["v2_default_round_trip_bytes"] / 2:
        out.append(
            f"fitted overhead {fit['overhead_bytes_per_exchange']:.0f} B/exchange is far below what a "
            f"gRPC+TLS round trip costs (~{fit['v2_default_round_trip_bytes']:.0f} B): the bench saw "
            "fewer (or cheaper) exchanges than E assumes at small N")
    for r in v1["residuals"]:
        if r["measured_packets_per_exchange"] < 2:
            out.append(
                f"N={r['nodes']}: {r['measured_packets_per_exchange']:.2f} packets per exchange, below the 2 "
                "a round trip needs: the exchange rate E overstates what v1 sends there")
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", default="5,20,50,100,200,500,1000")
    ap.add_argument("--kills", type=int, default=400,
                    help="simulated kills per N and case (fewer beyond N=100, see kills column)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--compare", metavar="RESULTS.json")
    ap.add_argument("--list-params", action="store_true")
    args = ap.parse_args(argv)
    p = parse_params(args.param)
    if args.list_params:
        for k, v in DEFAULTS.items():
            print(f"{k}={v:g}")
        return 0
    try:
        nodes = sorted({int(x) for x in args.nodes.split(",") if x.strip()})
    except ValueError:
        raise SystemExit(f"--nodes wants a comma-separated list of integers, got {args.nodes!r}")
    if not nodes or min(nodes) < 3:
        raise SystemExit("--nodes: every cluster needs at least 3 members (a victim, a prober, a relay)")
    if args.kills < 1:
        raise SystemExit("--kills must be >= 1")
    if args.compare:
        # Every domian row of the file gets a model row, whatever --nodes says.
        nodes = sorted(set(nodes) | compared_sizes(args.compare))

    out: dict = {"model": "domian membership v2", "seed": args.seed, "params": p, "v2": []}
    misses = []
    for n in nodes:
        kills = kills_for(n, args.kills)
        sk = simulate(p, n, True, kills, args.seed)
        si = simulate(p, n, False, kills, args.seed)
        row = {
            "nodes": n,
            "suspicion_min_ms": suspicion_min(p, n),
            "suspicion_max_ms": suspicion_min(p, n) * p["suspicion_max_factor"],
            "sigkill": sk,
            "silent": si,
            "closed_form": closed_form(p, n),
            "traffic": v2_traffic(p, n),
            "kill_burst_bytes_per_node": kill_burst_bytes(p, n, sk),
        }
        out["v2"].append(row)
        if sk["all_dead_ms"]["p50"] > GOAL_P50_MS:
            misses.append(f"N={n}: SIGKILL p50 {sk['all_dead_ms']['p50']:.0f} ms > 1500 ms")
        if sk["all_dead_ms"]["p99"] > GOAL_P99_MS:
            misses.append(f"N={n}: SIGKILL p99 {sk['all_dead_ms']['p99']:.0f} ms > 3000 ms")
    out["goal_misses"] = misses
    v1 = v1_calibration(p, nodes)
    v1["warnings"] = v1_warnings(v1)
    out["v1"] = v1
    out["serf_measured"] = {"bytes_per_s_per_node": SERF_BYTES_PER_S,
                            "packets_per_s_per_node": SERF_PACKETS_PER_S}
    if args.compare:
        out["compare"] = compare(args.compare, out, p, v1)
    if args.json:
        json.dump(out, sys.stdout, sort_keys=True)
        print()
    else:
        print_table(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
