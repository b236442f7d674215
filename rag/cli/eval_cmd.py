"""`rag eval GOLD.jsonl`: measure answer quality against a gold set."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ..errors import RagError
from .common import add_index_arg


def cmd_eval(args) -> int:
    from tqdm import tqdm

    from ..assistant import Assistant
    from ..evaluate.report import summary_table, write_report
    from ..evaluate.runner import compare, run_eval
    from ..evaluate.samples import load_gold
    from ..settings import Settings

    samples = load_gold(args.gold)
    # inputs read after the run are checked before it: a typo fails now, not after every question
    old = _read_compare(args.compare) if args.compare else None
    gate = _find_gate(args.gate, args.gold) if args.gate else None
    settings = Settings()
    if args.llm:
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"backend": args.llm})})
    if args.top_k:
        settings = settings.model_copy(
            update={"retrieval": settings.retrieval.model_copy(update={"top_k": args.top_k})})
    tmp = None
    if args.articles:
        if not Path(args.articles).is_dir():
            raise RagError(f"{args.articles}: not a folder; --articles takes a folder of articles.")
        tmp = tempfile.TemporaryDirectory(prefix="rag-eval-")
        assistant = Assistant(index_dir=tmp.name, settings=settings)
        report = assistant.ingest([args.articles])
        for e in report.refused:
            print(f"refused  {e.source}: {e.reason}", file=sys.stderr)
    elif args.index:
        assistant = Assistant(index_dir=args.index, settings=settings)
    else:
        assistant = Assistant(settings=settings)
    bar = tqdm(total=len(samples), unit="q", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    label = f"temporary index of {args.articles}" if args.articles else None
    result = run_eval(assistant, samples, progress, index_label=label)
    bar.close()
    corpus = result["corpus"]
    print(f"evaluated on {corpus['index']}: {corpus['n_articles']} article(s), "
          f"{corpus['n_articles'] - len(corpus['uncovered'])} with gold evidence", file=sys.stderr)
    for w in corpus["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    result["config"] = {"gold": str(args.gold), "llm_backend": assistant.settings.llm.backend,
                        "top_k": assistant.settings.retrieval.top_k}
    comparison = None
    if old is not None:
        comparison = compare(old, result)
        result["comparison"] = comparison
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.report:
        path = write_report(result, args.report, f"Evaluation of {args.gold}", comparison)
        print(f"report: {path}", file=sys.stderr)
    print(summary_table(result["summary"]))
    if comparison is not None:
        print(f"\n{len(comparison['better'])} better, {len(comparison['worse'])} worse than {args.compare}")
        for r in comparison["worse"]:
            print(f"  worse: {r['id']} {r['question']}")
    if tmp is not None:
        tmp.cleanup()
    if gate is not None:
        from ..evaluate.gate import check

        failures = check(result["summary"], gate)
        for f in failures:
            print(f"gate [{gate.name}]: {f}", file=sys.stderr)
        if failures:
            if corpus["uncovered"]:
                print(f"gate [{gate.name}]: note: the index also holds {len(corpus['uncovered'])} article(s) "
                      f"outside the gold set ({', '.join(corpus['uncovered'])}); the floors were set on "
                      f"{_rel(gate.articles)} alone: try --articles {_rel(gate.articles)}", file=sys.stderr)
            return 1
        print(f"gate [{gate.name}]: passed", file=sys.stderr)
    return 0


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_compare(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise RagError(f"--compare {path}: no such file; pass the --json output of an earlier "
                       "`rag eval` run (e.g. --json eval-out/old.json).")
    try:
        old = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RagError(f"--compare {path}: not JSON ({e}); pass the --json output of an earlier "
                       "`rag eval` run.") from None
    if not isinstance(old, dict) or not isinstance(old.get("results"), list):
        raise RagError(f"--compare {path}: has no \"results\" list; pass the --json output of an "
                       "earlier `rag eval` run.")
    return old


def _find_gate(path: str, gold: str):
    from ..evaluate.gate import load_thresholds

    gates = {g.name: g for g in load_thresholds(path)}
    gate = next((g for g in gates.values() if g.gold.resolve() == Path(gold).resolve()), None)
    if gate is None:
        raise RagError(f"{path} has no table whose gold is {gold}; "
                       f"tables: {', '.join(gates) or 'none'}.")
    return gate


def register_eval(sub) -> None:
    p = sub.add_parser("eval", help="score answers against a gold Q&A file")
    p.add_argument("gold", metavar="GOLD.jsonl")
    add_index_arg(p)
    p.add_argument("--articles", metavar="DIR", help="ingest this folder into a fresh temporary index first")
    p.add_argument("--json", metavar="OUT", help="write summary and per-question results as JSON")
    p.add_argument("--report", metavar="DIR", help="write report.md and PNG plots here")
    p.add_argument("--compare", metavar="OLD.json", help="list questions that got better or worse")
    p.add_argument("--llm", metavar="BACKEND", help="answer writer for this run (none, local, openai, ollama)")
    p.add_argument("--gate", metavar="THRESHOLDS.toml",
                   help="exit 1 when a metric is below its floor in this file (eval/thresholds.toml)")
    p.add_argument("--top-k", type=int, default=None, help="chunks read per question")
    p.set_defaults(func=cmd_eval)
