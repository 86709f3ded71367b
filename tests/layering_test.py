#!/usr/bin/env python3
"""The build's include rule: each folder of the project includes only from the folders below it.

    base      the error model, clocks, files, hex, text and JSON checks: nothing of ours
    schemas   the Cap'n Proto schemas and the wire and format documents: nothing of ours
    crypto    identities, keys, signatures                     -> base
    http      bearer auth, JSON replies, the error handler,    -> base
              the bounded server (connection limit, header deadline)
    conflict  the CRDT core (pure)                             -> base, schemas
    store     RocksDB, the merge operator, audit, quarantine   -> base, conflict
    transport the wire protocol, CURVE sockets, ZAP, sealing   -> base, crypto, schemas
    broker / agents  the two daemons (never each other)        -> all of the above
    sim       the CRDT and protocol simulators                 -> the above
    testing   harnesses: temp dir, free port, the one fork/exec -> the above (not bench/, demo/:
              process harness (used by tests, demo and bench)      they use it)
    bench     benchmarks                                       -> the above, testing (not sim/)
    demo      the narrated demo (real child processes)         -> base, testing
    cli       main() and the commands                          -> anything but tests/

Headers under <folder>/internal/ are that folder's own: only its files and its tests
(tests/<folder>/, tests/fuzz/) include them.

Two libraries are private to the folder that wraps them: RocksDB to store/ and ZeroMQ to
transport/ (whose sockets.h hands cppzmq's sockets to the two daemons' socket loops). The
exceptions are named below, file by file: the benchmarks' raw baselines measure the bare
libraries on purpose.

A wrong include fails this test with the file, the line and the rule it breaks.
Usage: layering_test.py SOURCE_ROOT
"""
import pathlib
import re
import sys

LOW = {"base", "schemas", "crypto", "http", "conflict", "store", "transport"}
ALLOWED = {
    "base": set(),
    "schemas": set(),
    "crypto": {"base"},
    "http": {"base"},
    "conflict": {"base", "schemas"},
    "store": {"base", "conflict"},
    "transport": {"base", "crypto", "schemas"},
    "broker": LOW,
    "agents": LOW,
    "sim": LOW | {"broker", "agents"},
    "testing": LOW | {"broker", "agents", "sim"},
    "bench": LOW | {"broker", "agents", "testing"},
    "demo": {"base", "testing"},
    "cli": LOW | {"broker", "agents", "bench", "sim", "testing", "demo"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([a-z_]+/)?')
LIBRARY = re.compile(r'^\s*#\s*include\s+<(rocksdb/|zmq)')
# library include prefix -> the folders and files that may include it
PRIVATE = {
    "rocksdb/": {"store/", "bench/bench_net.cpp", "bench/store_bench.cpp",
                 "bench/import_bench.cpp"},
    "zmq": {"transport/", "crypto/identity.cpp",  # libzmq's CURVE key generator
            "agents/sync_client.cpp", "broker/broker_server.cpp",  # the daemons' socket loops
            "bench/bench_net.cpp", "bench/swarm_bench.cpp", "bench/sync_bench.cpp"},
}


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    known = set(ALLOWED) | {"tests"}
    problems, checked = [], 0
    for folder, allowed in sorted(ALLOWED.items()):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".h", ".cpp") or not path.is_file():
                continue
            checked += 1
            rel = path.relative_to(root).as_posix()
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                lib = LIBRARY.match(line)
                if lib:
                    where = PRIVATE[lib.group(1)]
                    if not any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in where):
                        problems.append(f"{rel}:{n}: includes <{lib.group(1)}...> (private to "
                                        f"{', '.join(sorted(where))})")
                    continue
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                if m.group(2) == "internal/" and target != folder:
                    problems.append(f"{rel}:{n}: includes {target}/internal/ "
                                    f"(only {target}/ and its tests may)")
                    continue
                if target == folder or target not in known:
                    continue  # its own folder, or a library's header ("capnp/...")
                if target not in allowed:
                    rule = ", ".join(sorted(allowed)) or "nothing of the project's"
                    problems.append(f"{path.relative_to(root)}:{n}: includes {target}/ "
                                    f"({folder}/ may include {rule})")
    # Tests may include their own component's internal headers, and nothing else internal,
    # but for these, named: the broker's test forges causal contexts no honest replica sends.
    forging = {"tests/broker/broker_core_test.cpp": {"conflict"}}
    for path in sorted((root / "tests").rglob("*")):
        if path.suffix not in (".h", ".cpp") or not path.is_file() or "node_modules" in path.parts:
            continue
        rel = path.relative_to(root).as_posix()
        parts = path.relative_to(root / "tests").parts
        own = parts[0] if len(parts) > 1 else ""
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if (m and m.group(2) == "internal/" and m.group(1) != own and own != "fuzz" and
                    m.group(1) not in forging.get(rel, set())):
                problems.append(f"{rel}:{n}: includes {m.group(1)}/internal/ "
                                f"(only {m.group(1)}/ and tests/{m.group(1)}/ may)")
    if checked == 0:
        print(f"layering: no sources under {root}", file=sys.stderr)
        return 1
    for p in problems:
        print(p, file=sys.stderr)
    print(f"layering: {checked} files, {len(problems)} wrong includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
