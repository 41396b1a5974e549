"""``dlproof repro FILE [--target SPEC] [--trust] [--repeat K] [--json]``: replay a saved failing example.

The file is never trusted (see `dlproof.properties.replay`): its target is imported only if it is a built-in
or ``--trust`` is given, its sizes are checked before anything is allocated, nothing is unpickled.

Exit codes: 0 the example passed (every replay), 1 a failure or error reproduced (in at least one replay),
2 a usage error or a file that cannot be replayed (unreadable, corrupt, too large, refused target, unknown
property), 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys


def _repeat(text: str) -> int:
    from dlproof.properties.replay import MAX_REPEAT

    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 1 <= k <= MAX_REPEAT:
        raise argparse.ArgumentTypeError(f"{k} is out of range: replay 1 to {MAX_REPEAT} times")
    return k


def register(sub) -> argparse.ArgumentParser:
    """Add the ``repro`` subcommand to ``sub`` (the subparsers of ``dlproof``)."""
    rp = sub.add_parser("repro", help="replay a saved failing example (.npz from a report)",
                        description="Replay a saved failing example. The file's own target is imported only if "
                                    "it is a built-in or --trust is given. Exit 0 pass, 1 failure reproduced, "
                                    "2 unreadable or refused file, 130 interrupted.")
    rp.add_argument("file", help="the .npz a failing row of a report names (repro/...npz)")
    rp.add_argument("--target", metavar="SPEC",
                    help="replay against this target (built-in name or module:attr) instead of the file's")
    rp.add_argument("--trust", action="store_true",
                    help="import the target the file names even if it is not a built-in (runs its code)")
    rp.add_argument("--repeat", type=_repeat, default=1, metavar="K",
                    help="replay K times; differing verdicts are reported as 'reproduced in j of K'")
    rp.add_argument("--json", action="store_true", help="print the result as JSON")
    rp.set_defaults(fn=run)
    return rp


def text(out: dict) -> str:
    """The human-readable result: verdict and summary, then property, target, message, part, likely bug."""
    lines = [f"{out['verdict']}: {out['summary']}",
             f"  property:   {out['property']}",
             f"  target:     {out['target']}" + ("" if out["target"] == out["saved_target"]
                                                 else f" (the file was saved for {out['saved_target']})")]
    if out.get("note"):
        lines.append(f"  note:       {out['note']}")
    if out["message"]:
        lines.append(f"  message:    {out['message']}")
    if out.get("part"):
        lines.append(f"  wrong part: {out['part']}")
    if out.get("likely_bug"):
        lines.append(f"  likely bug: {out['likely_bug']}")
    for w in out.get("warnings") or ():
        lines.append(f"  warning:    {w}")
    if out["repeat"] > 1:
        lines.append(f"  verdicts:   {' '.join(out['verdicts'])}")
    return "\n".join(lines)


def run(args) -> int:
    from dlproof.properties.replay import ReproFileError, replay

    try:
        out = replay(args.file, args.target, trust=args.trust, repeat=args.repeat)
    except ReproFileError as exc:  # unreadable, corrupt, too large or refused: exit 2, never 1 ("fail")
        print(f"dlproof repro: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dlproof repro: interrupted while replaying {args.file}", file=sys.stderr)
        return 130
    print(json.dumps(out, indent=1, default=str) if args.json else text(out))
    return 0 if out["verdict"] == "pass" else 1
