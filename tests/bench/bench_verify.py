"""Benchmark of offline receipt verification, side by side with its parts and peers.

    .venv/bin/python tests/bench/bench_verify.py [--size 1000000] [--rounds 2000]

Builds one receipt for an entry of a tree of --size leaves (without building the
tree: a random inclusion path of the right length is folded into the root the
signed checkpoint commits to, which gives a proof of exactly the shape a real tree
of that size has), then measures the median time of:

1. `verify_receipt` on the receipt's JSON text: every check, from parsing to the
   inclusion proof (the figure the target applies to: under 1 ms);
2. its parts: strict JSON parsing, the RFC 8785 leaf hash, opening the signed
   checkpoint (one Ed25519 verification), the inclusion proof alone;
3. peers: a bare Ed25519 verification with `cryptography` (the floor of step 1),
   and pymerkle 7's `verify_inclusion` for a proof of the same tree size.

Figures are medians over --rounds calls after a warm-up; the machine is shared, so
read the ratios rather than the absolutes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import timing  # noqa: E402  (tests/bench/timing.py, beside this script)

from govsvc.ledger import canonical, merkle, note, receipt  # noqa: E402
from govsvc.ledger.keys import Signer  # noqa: E402

TARGET_MS = 1.0
WARMUP = 50


def median_us(fn: Callable[[], object], rounds: int) -> float:
    return timing.median_us(fn, rounds, WARMUP)


def make_receipt(size: int) -> tuple[str, Signer]:
    signer = Signer.generate("bench.govsvc/ledger")
    index = size * 2 // 3  # a leaf deep in the tree, not on an edge
    entry = {
        "kind": "decision",
        "decision_id": "8d2c6a8e-1f0b-4a55-9a43-3b1f6c1f7e21",
        "model": {"name": "credit-scoring", "version": "1.4.2", "domain": "lending"},
        "verdict": "review",
        "tier": "high",
        "policy_bundle": "sha256:" + "ab" * 32,
        "reasons": [{"rule": "fairness.dp_gap", "observed": 0.12, "threshold": 0.1}],
    }
    leaf = canonical.entry_leaf_hash(entry)
    path = [os.urandom(32) for _ in merkle.inclusion_ranges(index, size)]
    root = merkle.root_from_inclusion_proof(leaf, index, size, path)
    checkpoint = note.sign_checkpoint(
        note.Checkpoint("bench.govsvc/ledger", size, root), signer
    )
    doc = receipt.build_receipt(entry, index, path, checkpoint, signer.verifier_key)
    return receipt.dumps_receipt(doc), signer


def pymerkle_inclusion_us(size: int, rounds: int) -> tuple[float, int]:
    """pymerkle's verification of an inclusion proof in a tree of `size` leaves."""
    from pymerkle import InmemoryTree, verify_inclusion

    tree = InmemoryTree(algorithm="sha256")
    for i in range(size):
        tree.append_entry(f"entry {i}".encode())
    index = size * 2 // 3 + 1  # pymerkle counts leaves from 1
    proof = tree.prove_inclusion(index, size)
    base = tree.get_leaf(index)
    target = tree.get_root(size)
    return median_us(lambda: verify_inclusion(base, target, proof), rounds), len(
        proof.path
    )


def ours_inclusion_us(size: int, rounds: int) -> float:
    """Our verification of an inclusion proof in a tree of `size` leaves."""
    index = size * 2 // 3 + 1
    leaf = merkle.leaf_hash(b"entry")
    path = [os.urandom(32) for _ in merkle.inclusion_ranges(index, size)]
    root = merkle.root_from_inclusion_proof(leaf, index, size, path)
    return median_us(
        lambda: merkle.verify_inclusion(leaf, index, size, path, root), rounds
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="tree size")
    parser.add_argument("--rounds", type=int, default=2000, help="calls per median")
    parser.add_argument(
        "--pymerkle-size",
        type=int,
        default=1 << 16,
        help="pymerkle tree size (built in memory; 2**16 has the same proof "
        "length class as 10**6 minus 4)",
    )
    args = parser.parse_args()

    text, signer = make_receipt(args.size)
    trusted = [signer.verifier]
    parsed = receipt.parse_receipt(text)
    proof_len = len(parsed.inclusion_proof)
    print(
        f"receipt: {len(text.encode())} bytes for an entry of a tree of "
        f"{args.size:,} leaves ({proof_len} proof hashes); medians of {args.rounds} "
        "calls\n"
    )

    full = median_us(lambda: receipt.verify_receipt(text, trusted), args.rounds)
    parts = {
        "parse (strict JSON, base64, key)": median_us(
            lambda: receipt.parse_receipt(text), args.rounds
        ),
        "entry leaf hash (RFC 8785)": median_us(
            lambda: canonical.entry_leaf_hash(parsed.entry), args.rounds
        ),
        "checkpoint signature (Ed25519)": median_us(
            lambda: note.open_checkpoint(parsed.checkpoint, trusted), args.rounds
        ),
    }
    cp = note.open_checkpoint(parsed.checkpoint, trusted).checkpoint
    parts["inclusion proof (RFC 9162)"] = median_us(
        lambda: merkle.verify_inclusion(
            parsed.leaf_hash, parsed.index, cp.size, parsed.inclusion_proof, cp.root
        ),
        args.rounds,
    )

    message = cp.body().encode()
    signature = signer.sign(message)
    bare_ed25519 = median_us(
        lambda: signer.verifier.verify(message, signature), args.rounds
    )
    pym_us, pym_len = pymerkle_inclusion_us(args.pymerkle_size, args.rounds)

    verdict = "meets" if full / 1000 < TARGET_MS else "MISSES"
    print(
        f"{'verify_receipt (all checks)':<38} {full:9.1f} us   "
        f"{verdict} the {TARGET_MS:g} ms target"
    )
    for name, value in parts.items():
        print(f"  {name:<36} {value:9.1f} us   {value / full:6.1%} of the whole")
    print()
    print("peers")
    print(
        f"  {'bare Ed25519 verify (cryptography)':<36} {bare_ed25519:9.1f} us   "
        f"verify_receipt is {full / bare_ed25519:.1f}x this floor"
    )
    ours_same = ours_inclusion_us(args.pymerkle_size, args.rounds)
    print(
        f"  {'pymerkle verify_inclusion':<36} {pym_us:9.1f} us   "
        f"size {args.pymerkle_size:,} ({pym_len} path entries)"
    )
    print(
        f"  {'ours, verify_inclusion, same size':<36} {ours_same:9.1f} us   "
        f"{pym_us / ours_same:.1f}x faster than pymerkle"
    )
    return 0 if full / 1000 < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
