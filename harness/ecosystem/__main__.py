"""``python -m harness.ecosystem``: the helper commands (write lm-eval tasks, print their folder, import).

Kept on argparse and separate from the main ``harness`` CLI so it works with only the ecosystem extra.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.ecosystem", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("lm-eval-path", help="print the shipped lm-eval task folder (for --include_path)")
    w = sub.add_parser("lm-eval-tasks", help="write frozen lm-eval tasks (jsonl + YAML) into a folder")
    w.add_argument("out_dir")
    w.add_argument("--data-dir", default=None, help="benchmark data (default $HARNESS_DATA_DIR)")
    w.add_argument(
        "--task", action="append", dest="tasks", help="name or name@version (repeatable; default all)"
    )
    w.add_argument("--repeats", type=int, default=None, help="samples per problem, all scored (default 8)")
    w.add_argument("--max-gen-toks", type=int, default=None, help="token budget per sample (default 16384)")
    w.add_argument("--split", default="test")
    i = sub.add_parser("import", help="import an inspect log or lm-eval sample file as a run directory")
    i.add_argument("path", help="inspect .eval/.json log or lm-eval samples_<task>_<date>.jsonl")
    i.add_argument("--out", required=True, help="run directory to write")
    i.add_argument("--task", default=None, help="benchmark name when the log is not from our tasks")
    i.add_argument("--version", default=None)
    a = p.parse_args(argv)

    if a.cmd == "lm-eval-path":
        from harness.ecosystem.lm_eval_tasks import TASKS_DIR

        print(TASKS_DIR)
    elif a.cmd == "lm-eval-tasks":
        from harness.ecosystem.lm_eval_export import write_lm_eval_tasks

        out = write_lm_eval_tasks(
            a.out_dir,
            a.data_dir,
            tasks=a.tasks,
            repeats=a.repeats,
            max_gen_toks=a.max_gen_toks,
            split=a.split,
        )
        print(out)
    else:
        from harness.ecosystem.importers import import_run

        try:
            results = import_run(a.path, a.out, task=a.task, version=a.version)
        except (ValueError, FileNotFoundError) as exc:  # bad input: one line, no traceback
            print(f"error: {exc}", file=sys.stderr)
            return 1
        summary = {
            k: {"avg@k": v["metrics"].get("avg@k"), "samples": v["counts"]["samples"]}
            for k, v in results["tasks"].items()
        }
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
