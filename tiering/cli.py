"""The `tiering` command line. Each subcommand delegates to one module; imports are lazy so that
`tiering --help` is instant."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path


def _month(text: str) -> str:
    try:
        year, month = text.split("-")
        if not (1 <= int(month) <= 12 and len(year) == 4):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from None
    return text


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiering", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write simulated department deliveries and ground truth")
    sim.add_argument("--out", type=Path, required=True, help="landing zone to write")
    sim.add_argument("--truth", type=Path, required=True, help="folder for the ground truth")
    sim.add_argument("--clients", type=int, default=2000)
    sim.add_argument("--months", type=int, default=24)
    sim.add_argument("--start", type=_month, default="2024-11", help="first month, YYYY-MM")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--rates", type=Path, help="JSON file overriding the mess rates")

    ing = sub.add_parser("ingest", help="load complete deliveries into the raw layer")
    ing.add_argument("--as-of", type=_date, help="only deliveries cut on or before this date")

    ref = sub.add_parser("refresh", help="ingest, build, check, publish and report")
    ref.add_argument("--as-of", type=_date, help="default: latest complete period")

    back = sub.add_parser("backfill", help="build tier history month by month, in order "
                                           "(or in one run: --restate)")
    back.add_argument("--from", dest="start", type=_month, required=True, help="YYYY-MM")
    back.add_argument("--to", dest="end", type=_month, required=True, help="YYYY-MM")
    back.add_argument("--publish", action=argparse.BooleanOptionalAction, default=None,
                      help="publish and report the last month (default: only when it is not "
                           "older than the latest published period)")
    back.add_argument("--restate", action="store_true",
                      help="rebuild the months in one run with today's identity resolution "
                           "instead of month by month (docs/dynamics.md)")

    rep = sub.add_parser("report", help="regenerate the refresh report")
    rep.add_argument("--as-of", type=_date, help="default: the latest published period")

    sub.add_parser("status", help="what state this home is in (read-only): deliveries, "
                                   "history, published, running now, alerts")

    cli = sub.add_parser("client", help="one client traced from its tiers to the rows "
                                        "departments delivered (read-only)")
    cli.add_argument("query", help="a client key, department:record_id (crm:CRM000123), a "
                                   "USCC, or part of a registered name")
    cli.add_argument("--vs", metavar="RECORD", help="another source record: why the two are, or "
                                                    "are not, one client (reads the build "
                                                    "database)")

    dec = sub.add_parser("decide", help="record a data steward's decision that two source records "
                                        "are, or are not, one company (seed identity_decisions)")
    dec.add_argument("record_a", nargs="?", help="department|entity|record_id (as "
                                                 "identity_review_queue lists it) or "
                                                 "department:record_id")
    dec.add_argument("record_b", nargs="?", help="the other record, in either form")
    dec.add_argument("decision", nargs="?", choices=("same", "different"))
    dec.add_argument("--by", dest="decided_by", help="who decided (required to record)")
    dec.add_argument("--reason", help="why (the audit trail; with --from-file, for the rows "
                                      "that give none)")
    dec.add_argument("--valid-from", type=_date,
                     help="first as-of date it applies to (default: every as-of date; with "
                          "--from-file, for the rows that give none)")
    dec.add_argument("--from-file", type=Path, metavar="CSV",
                     help="record every decided row of a worksheet (record_key_a, record_key_b, "
                          "decision[, reason, valid_from]), all or nothing")
    dec.add_argument("--export-queue", type=Path, metavar="CSV",
                     help="write the published identity_review_queue as such a worksheet")
    dec.add_argument("--seed-file", type=Path,
                     help="default: seeds/identity/identity_decisions.csv of this project")

    sub.add_parser("serve", help="start the Dagster UI on this project")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "simulate":
            from tiering.simulate import main as simulate_main

            return simulate_main(args)
        if args.command == "ingest":
            from tiering.config import get_paths
            from tiering.ingest import ingest

            from tiering.runlock import EXIT_BUSY, HomeBusy, held_by_command

            paths = get_paths()
            try:
                with held_by_command(paths, "ingest"):  # not under a running refresh's feet
                    summary = ingest(paths, as_of=args.as_of)
            except HomeBusy as busy:
                print(f"tiering: {busy}", file=sys.stderr)
                return EXIT_BUSY
            print(summary.describe())
            return 0
        if args.command == "refresh":
            from tiering.pipeline import refresh

            return refresh(as_of=args.as_of)
        if args.command == "backfill":
            from tiering.pipeline import backfill, restate

            if args.restate:
                return restate(start=args.start, end=args.end, publish=args.publish)
            return backfill(start=args.start, end=args.end, publish=args.publish)
        if args.command == "report":
            from tiering.report import main as report_main

            return report_main(as_of=args.as_of)
        if args.command == "status":
            from tiering.status import main as status_main

            return status_main()
        if args.command == "client":
            from tiering.explain import main as explain_main

            return explain_main(args.query, args.vs)
        if args.command == "decide":
            from tiering.decide import main as decide_main

            return decide_main(args.record_a, args.record_b, args.decision, args.decided_by,
                               args.reason, args.valid_from, args.seed_file, args.from_file,
                               args.export_queue)
        if args.command == "serve":
            from tiering.pipeline import serve

            return serve()
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
