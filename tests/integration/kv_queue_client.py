"""Issue 22's durable queue, with redis-py (Debian's python3-redis): producers LPUSH jobs, consumers
take them with BRPOP (and one with the reliable pattern, BLMOVE into its own processing list and
LREM once the job is recorded), while the server is killed with SIGKILL between rounds; then every
acknowledged job must have been consumed exactly once or still be queued.

  /usr/bin/python3 kv_queue_client.py run PORT DIR ROUND SEED [--seconds S] [--jobs N]
  /usr/bin/python3 kv_queue_client.py check PORT DIR

run: one round, until the connection is lost (the server was killed) or S seconds passed (then
the producers stop and each consumer stops after its current pop). ROUND must be new in DIR: job
ids are "p<producer>:<round>:<n>". Exits 0 when the round ended by either; non-zero on anything
else (an error reply, a damaged job, a timeout).

check: after the last round, on the restarted server: reads the queue ("jobs") and the processing
lists, drains them (RPOP with a count, DEL), and checks against every round's records:
  - no job consumed twice, or consumed and still queued, or queued twice;
  - no job consumed or queued that was never sent, and every payload intact;
  - every acknowledged job consumed or queued, except at most one per BRPOP that was sent and
    whose reply the kill took (popped and durable, the reply lost: the job is gone, and no client
    can tell; BLMOVE's reliable pattern loses nothing: such a job stays in processing:<consumer>);
  - FIFO: the queue holds each producer's jobs in push order, each consumer took each producer's
    jobs in push order, and every queued job of a producer is newer than all its consumed ones.
Prints one line ending "queue ok" and exits 0, or the violations and exits 1.

Records (the client's own, flushed and fsynced so that they outlive the test process): one file
per thread and round, DIR/r<round>-<thread>.log, lines "S <job>" (about to be sent), "A <job>"
(LPUSH acknowledged), "C <job>" (received by a consumer), "O" (a pop was sent and its reply lost),
"U <job>" (BLMOVE consumer: recorded but its LREM not acknowledged; the job may still sit in
processing:<consumer>).

The BLMOVE consumer starts a round by finishing what its processing list holds: a job it recorded
(and marked "U") is only removed, any other is recorded, then removed.
"""

import argparse
import glob
import hashlib
import os
import random
import re
import sys
import threading
import time

import redis

QUEUE = "jobs"
BRPOP_CONSUMERS = 3
BLMOVE_CONSUMERS = 1
PRODUCERS = 3
MAX_QUEUE = 2000  # producers wait while the queue is longer: a long run stays small
JOB_RE = re.compile(rb"^p(\d+):(\d+):(\d+)$")


def processing_list(consumer):
    return f"processing:{consumer}"


def payload(job, length):
    """The job's bytes after its id: derived from the id, so any damage shows."""
    seed = hashlib.sha256(job).digest()
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "little")).digest()
        counter += 1
    return bytes(out[:length])


def encode_job(job, length):
    return job + b"|" + str(length).encode() + b"|" + payload(job, length)


def decode_job(value):
    """The job id of an intact value, or None."""
    if not isinstance(value, bytes):
        return None
    parts = value.split(b"|", 2)
    if len(parts) != 3 or not JOB_RE.match(parts[0]) or not parts[1].isdigit():
        return None
    if parts[2] != payload(parts[0], int(parts[1])):
        return None
    return parts[0]


def order_key(job):
    """(producer, (round, n)) of a job id."""
    m = JOB_RE.match(job)
    return int(m.group(1)), (int(m.group(2)), int(m.group(3)))


class Lost(Exception):
    """The connection went away (the server was killed). sent: the command had been sent."""

    def __init__(self, sent):
        super().__init__("connection lost")
        self.sent = sent


class Record:
    """One thread's record file for one round; every append reaches the disk before it returns."""

    def __init__(self, directory, rnd, thread):
        self.f = open(os.path.join(directory, f"r{rnd}-{thread}.log"), "xb")

    def add(self, lines):
        self.f.write(b"".join(line + b"\n" for line in lines))
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self):
        self.f.close()


class Round:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()  # the deadline passed, or a thread lost its connection
        self.deadline = time.monotonic() + args.seconds
        self.lock = threading.Lock()
        self.errors = []
        self.counts = {"sent": 0, "acked": 0, "consumed": 0, "outstanding": 0, "recovered": 0}
        self.ended_by = "deadline"

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] += n

    def error(self, text):
        with self.lock:
            self.errors.append(text)
        self.stop.set()

    def lost(self):
        with self.lock:
            self.ended_by = "connection lost"
        self.stop.set()

    def running(self):
        if time.monotonic() >= self.deadline:
            self.stop.set()
        return not self.stop.is_set()

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.args.port, socket_timeout=30,
                           socket_connect_timeout=10)


def call(conn, *args):
    """One command on a redis-py Connection; Lost tells whether it was sent."""
    try:
        conn.send_command(*args)
    except redis.ConnectionError:
        raise Lost(sent=False)
    try:
        return conn.read_response()
    except redis.ConnectionError:
        raise Lost(sent=True)


def payload_size(rng):
    """Mostly small, some up to 4 KiB (more than one of the server's buffers)."""
    pick = rng.random()
    return (rng.randrange(0, 64) if pick < 0.7 else
            rng.randrange(64, 1024) if pick < 0.95 else
            rng.randrange(1024, 4097))


def cap(groups, limit):
    """The first groups, cut to `limit` jobs in all."""
    out = []
    for g in groups:
        if limit <= 0:
            break
        out.append(min(g, limit))
        limit -= out[-1]
    return out


def producer(rd, p, rng):
    rec = Record(rd.args.dir, rd.args.round, f"p{p}")
    r = rd.client()
    n = 0
    try:
        while rd.running() and (rd.args.jobs == 0 or n < rd.args.jobs):
            if n % 64 == 0:
                while r.llen(QUEUE) > MAX_QUEUE and rd.running():
                    time.sleep(0.01)
            shape = rng.random()
            if shape < 0.5:
                groups = [1]  # one LPUSH of one job
            elif shape < 0.75:
                groups = [rng.randrange(2, 9)]  # one LPUSH of several
            else:
                groups = [rng.randrange(1, 4) for _ in range(rng.randrange(2, 9))]  # a pipeline
            if rd.args.jobs:
                groups = cap(groups, rd.args.jobs - n)
            batch = []
            for g in groups:
                batch.append([f"p{p}:{rd.args.round}:{n + i}".encode() for i in range(g)])
                n += g
            jobs = [j for g in batch for j in g]
            rec.add([b"S " + j for j in jobs])
            rd.count("sent", len(jobs))
            values = [[encode_job(j, payload_size(rng)) for j in g] for g in batch]
            if len(batch) == 1:
                replies = [r.lpush(QUEUE, *values[0])]
            else:
                pipe = r.pipeline(transaction=False)
                for v in values:
                    pipe.lpush(QUEUE, *v)
                replies = pipe.execute()
            for g, reply in zip(batch, replies):
                if not isinstance(reply, int) or reply < len(g):
                    rd.error(f"producer {p}: LPUSH of {len(g)} answered {reply!r}")
                    return
            rec.add([b"A " + j for j in jobs])
            rd.count("acked", len(jobs))
    except redis.ConnectionError:
        rd.lost()
    except Exception as e:  # an error reply, a timeout: the round fails
        rd.error(f"producer {p}: {type(e).__name__}: {e}")
    finally:
        rec.close()


def take(rd, rec, c, value):
    """Records a job a consumer received and returns its id; None (and an error) when the value is
    not an intact job."""
    job = decode_job(value)
    if job is None:
        rd.error(f"consumer {c}: received a damaged job {value[:80]!r}")
        return None
    rec.add([b"C " + job])
    rd.count("consumed")
    return job


def brpop_consumer(rd, c):
    rec = Record(rd.args.dir, rd.args.round, c)
    client = rd.client()  # its own connection: Lost tells whether a pop was sent
    conn = client.connection_pool.get_connection("BRPOP")
    try:
        while rd.running():
            reply = call(conn, "BRPOP", QUEUE, 1)
            if reply is None:
                continue  # timed out with nothing queued
            if not isinstance(reply, list) or len(reply) != 2 or reply[0] != QUEUE.encode():
                rd.error(f"consumer {c}: BRPOP answered {reply!r}")
                return
            if take(rd, rec, c, reply[1]) is None:
                return
    except Lost as e:
        if e.sent:
            rec.add([b"O"])  # a pop that may have happened: its job may be gone
            rd.count("outstanding")
        rd.lost()
    except Exception as e:
        rd.error(f"consumer {c}: {type(e).__name__}: {e}")
    finally:
        rec.close()


def load_records(directory):
    """{thread: [(round, kind, job)]} over every round, each thread's lines in round order."""
    out = {}
    for path in glob.glob(os.path.join(directory, "r*-*.log")):
        m = re.match(r"^r(\d+)-(.+)\.log$", os.path.basename(path))
        rnd, thread = int(m.group(1)), m.group(2)
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        entries = out.setdefault(thread, [])
        for line in lines:
            if line:
                kind, _, job = line.partition(b" ")
                entries.append((rnd, kind.decode(), job))
    for entries in out.values():
        entries.sort(key=lambda e: e[0])  # stable: a round's lines keep their order
    return out


def blmove_consumer(rd, c):
    rec = Record(rd.args.dir, rd.args.round, c)
    client = rd.client()  # its own connection: Lost tells whether a pop was sent
    conn = client.connection_pool.get_connection("BLMOVE")
    mine = processing_list(c)
    pending = None  # recorded, LREM not yet acknowledged
    try:
        # Recovery: what the last round left in the processing list, oldest first.
        earlier = load_records(rd.args.dir).get(c, [])
        unremoved = {job for _, kind, job in earlier if kind == "U"}
        left = call(conn, "LRANGE", mine, 0, -1)
        for value in reversed(left):
            job = decode_job(value)
            if job is None:
                rd.error(f"consumer {c}: {mine} holds a damaged job {value[:80]!r}")
                return
            if job not in unremoved:
                if take(rd, rec, c, value) is None:
                    return
            pending = job
            rd.count("recovered")
            if call(conn, "LREM", mine, 1, value) != 1:
                rd.error(f"consumer {c}: LREM {mine} of {job!r} removed nothing")
                return
            pending = None
        while rd.running():
            value = call(conn, "BLMOVE", QUEUE, mine, "RIGHT", "LEFT", 1)
            if value is None:
                continue
            job = take(rd, rec, c, value)
            if job is None:
                return
            pending = job
            removed = call(conn, "LREM", mine, 1, value)
            if removed != 1:
                rd.error(f"consumer {c}: LREM {mine} of {job!r} answered {removed!r}")
                return
            pending = None
    except Lost:
        if pending is not None:
            rec.add([b"U " + pending])
        rd.lost()
    except Exception as e:
        rd.error(f"consumer {c}: {type(e).__name__}: {e}")
    finally:
        rec.close()


def run(args):
    if glob.glob(os.path.join(args.dir, f"r{args.round}-*.log")):
        sys.exit(f"round {args.round} already has records in {args.dir}")
    rd = Round(args)
    master = random.Random(args.seed)
    threads = [threading.Thread(target=producer, args=(rd, p, random.Random(master.random())))
               for p in range(PRODUCERS)]
    threads += [threading.Thread(target=brpop_consumer, args=(rd, f"b{c}"))
                for c in range(BRPOP_CONSUMERS)]
    threads += [threading.Thread(target=blmove_consumer, args=(rd, f"m{c}"))
                for c in range(BLMOVE_CONSUMERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    k = rd.counts
    print(f"round {args.round}: {k['sent']} jobs sent, {k['acked']} acknowledged, "
          f"{k['consumed']} consumed, {k['outstanding']} pops outstanding, {k['recovered']} "
          f"left in processing lists finished; ended by {rd.ended_by}")
    if rd.errors:
        print("\n".join(rd.errors))
        sys.exit(1)


def check(args):
    records = load_records(args.dir)
    sent, acked, consumed_by = set(), set(), {}
    consumed_seq = {}  # consumer: [job] in the order taken
    unremoved = {}  # consumer: {job}
    outstanding = 0
    errors = []
    for thread, entries in sorted(records.items()):
        for rnd, kind, job in entries:
            if kind == "S":
                sent.add(job)
            elif kind == "A":
                acked.add(job)
            elif kind == "C":
                consumed_by.setdefault(job, []).append(thread)
                consumed_seq.setdefault(thread, []).append(job)
            elif kind == "O":
                outstanding += 1
            elif kind == "U":
                unremoved.setdefault(thread, set()).add(job)
    r = redis.Redis(host="127.0.0.1", port=args.port, socket_timeout=60)
    queued_values = r.lrange(QUEUE, 0, -1)
    llen = r.llen(QUEUE)
    if llen != len(queued_values):
        errors.append(f"LLEN {QUEUE} is {llen}, LRANGE returned {len(queued_values)}")
    lists = {t for t in records if t.startswith("m")} | {
        k.decode().split(":", 1)[1] for k in r.scan_iter(match="processing:*")}
    processing = {c: r.lrange(processing_list(c), 0, -1) for c in sorted(lists)}

    def decode_all(values, where):
        jobs = []
        for v in values:
            job = decode_job(v)
            if job is None:
                errors.append(f"{where} holds a damaged job {v[:80]!r}")
            else:
                jobs.append(job)
        return jobs

    queued = decode_all(queued_values, QUEUE)
    in_processing = {c: decode_all(v, processing_list(c)) for c, v in processing.items()}
    # Drain: RPOP with a count returns the oldest first, as LRANGE read them backwards.
    drained = []
    while True:
        got = r.rpop(QUEUE, 100)
        if not got:
            break
        drained += got
    if drained != list(reversed(queued_values)):
        errors.append(f"RPOP drained {len(drained)} jobs, not the {len(queued_values)} LRANGE read"
                      " in reverse")
    for c, values in processing.items():
        if r.delete(processing_list(c)) != (1 if values else 0):
            errors.append(f"DEL {processing_list(c)} disagrees with LRANGE ({len(values)} jobs)")
    if r.exists(QUEUE):
        errors.append(f"{QUEUE} is still there after the drain")

    # Exactly once.
    for job, who in consumed_by.items():
        if len(who) > 1:
            errors.append(f"{job!r} consumed {len(who)} times, by {who}")
    seen_queued = {}
    for job in queued:
        seen_queued[job] = seen_queued.get(job, 0) + 1
    awaiting_lrem = 0
    pending = set()  # in a processing list, not yet recorded: the consumer's recovery takes it
    for c, jobs in in_processing.items():
        for job in jobs:
            if job in consumed_by:
                if consumed_by[job] == [c] and job in unremoved.get(c, ()):
                    awaiting_lrem += 1  # taken; its LREM's reply was lost
                    continue
                errors.append(f"{job!r} consumed by {consumed_by[job]} and still in "
                              f"{processing_list(c)}")
            seen_queued[job] = seen_queued.get(job, 0) + 1
            pending.add(job)
    for job, times in seen_queued.items():
        if times > 1:
            errors.append(f"{job!r} queued {times} times")
        if job in consumed_by:
            errors.append(f"{job!r} consumed by {consumed_by[job]} and still queued")
    # Nothing invented.
    for job in list(consumed_by) + list(seen_queued):
        if job not in sent:
            errors.append(f"{job!r} was never sent")
    # Every acknowledged job is there, but for the pops whose replies the kills took.
    present = set(consumed_by) | set(seen_queued)
    vanished = sorted(acked - present)
    if len(vanished) > outstanding:
        errors.append(f"{len(vanished)} acknowledged jobs vanished, more than the {outstanding} "
                      f"pops outstanding at the kills: {vanished[:20]!r}")
    unacked_lost = len(sent - acked - present)
    # FIFO per producer.
    newest_consumed = {}
    for job in consumed_by:
        p, key = order_key(job)
        newest_consumed[p] = max(newest_consumed.get(p, key), key)
    last = {}
    for job in reversed(queued):  # oldest first
        p, key = order_key(job)
        if p in last and key <= last[p]:
            errors.append(f"{QUEUE} holds {job!r} behind a newer job of its producer")
        last[p] = key
        if p in newest_consumed and key < newest_consumed[p]:
            errors.append(f"{job!r} is queued, but a newer job of its producer was consumed")
    for c, jobs in consumed_seq.items():
        last = {}
        for job in jobs:
            p, key = order_key(job)
            if p in last and key <= last[p]:
                errors.append(f"consumer {c} took {job!r} after a newer job of its producer")
            last[p] = key
    by_brpop = sum(len(v) for c, v in consumed_seq.items() if c.startswith("b"))
    by_blmove = sum(len(v) for c, v in consumed_seq.items() if c.startswith("m"))
    rounds = len({rnd for entries in records.values() for rnd, _, _ in entries})
    summary = (f"{rounds} rounds: {len(sent)} jobs sent, {len(acked)} acknowledged, "
               f"{len(consumed_by)} consumed ({by_brpop} by BRPOP, {by_blmove} by BLMOVE), "
               f"{len(queued)} queued, {len(pending)} in processing lists to be taken, "
               f"{awaiting_lrem} taken and awaiting LREM, {len(vanished)} acknowledged vanished "
               f"of at most {outstanding} pops outstanding at kills, {unacked_lost} "
               f"unacknowledged absent")
    if errors:
        print(summary)
        print(f"{len(errors)} violations:")
        print("\n".join(errors[:100]))
        sys.exit(1)
    print(summary + ": queue ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("run")
    a.add_argument("port", type=int)
    a.add_argument("dir")
    a.add_argument("round", type=int)
    a.add_argument("seed", type=int)
    a.add_argument("--seconds", type=float, default=1.5)
    a.add_argument("--jobs", type=int, default=0, help="jobs per producer (0: no limit)")
    c = sub.add_parser("check")
    c.add_argument("port", type=int)
    c.add_argument("dir")
    args = ap.parse_args()
    if args.mode == "run":
        run(args)
    else:
        check(args)


if __name__ == "__main__":
    main()
