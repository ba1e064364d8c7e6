"""``mabgui doctor``: what multi-platform builds need here."""

from __future__ import annotations

import argparse

from mabgui.cli.render import (
    command,
    json_flag,
    print_json,
)


async def _doctor(args: argparse.Namespace) -> int:
    from mabgui.core import doctor

    diagnosis = await doctor.diagnose()
    if args.json:
        print_json(diagnosis.to_json())
    else:
        marks = {"ok": "✔", "warn": "!", "fail": "✘"}
        for check in diagnosis.checks:
            print(f"{marks[check.status]} {check.title}: {check.detail}")
            if check.fix and check.status != "ok":
                print(f"    fix: {check.fix}")
        print()
        print(
            "Multi-platform builds can run."
            if diagnosis.multiplatform_ready
            else "Multi-platform builds cannot run yet: fix the ✘ items above."
        )
    return 0 if diagnosis.multiplatform_ready else 1


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check what multi-platform builds need on this machine")
    json_flag(p)
    command(p, _doctor)
