"""Subcommands: ingest, ask, show, remove, docs (eval, serve register themselves too)."""
from __future__ import annotations

import json
import sys

from .common import add_index_arg, open_assistant


def _progress_bar(total_hint: str = "files"):
    from tqdm import tqdm

    state = {"bar": None}

    def update(done: int, total: int, path: str) -> None:
        if state["bar"] is None:
            state["bar"] = tqdm(total=total, unit=total_hint, disable=total < 3 or not sys.stderr.isatty(), file=sys.stderr,
                                leave=False)
        bar = state["bar"]
        bar.n = done
        bar.set_postfix_str(path[-40:], refresh=True)
        if done >= total:
            bar.close()

    return update


def cmd_ingest(args) -> int:
    a = open_assistant(args)
    report = a.ingest(args.paths, progress=_progress_bar())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for d in report.added:
            print(f"added    {d}")
        for d in report.updated:
            print(f"updated  {d}")
        for d in report.skipped:
            print(f"skipped  {d} (unchanged)")
        for d in report.kept:
            print(f"kept     {d} (its new version is unreadable; the indexed one stays)")
        for e in report.refused:
            print(f"refused  {e.source}: {e.reason}", file=sys.stderr)
        kept = f", {len(report.kept)} kept" if report.kept else ""
        print(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.skipped)} "
              f"unchanged{kept}, {len(report.refused)} refused; {report.chunks} chunks written.")
    return 0 if report.ok else 1


def cmd_ask(args) -> int:
    a = open_assistant(args, retrieval__top_k=args.top_k)
    if args.json:
        ans = a.ask(args.question, llm=args.llm)
        d = ans.to_dict()
        print(json.dumps(d, ensure_ascii=False, indent=2))
        return 0
    streamed = []
    live = sys.stdout.isatty() or args.llm not in (None, "none")
    for item in a.ask_stream(args.question, llm=args.llm):
        if isinstance(item, str):
            streamed.append(item)
            if live:
                print(item, end="", flush=True)
        else:
            ans = item
    if not live:
        print(ans.text)
    elif ans.text != "".join(streamed):  # the LLM's text failed the citation check, or was renumbered
        if streamed:
            print()
        if ans.path == "extractive-fallback":
            print(f"(unsupported by the sources: {ans.fallback_reason}; extractive answer instead)",
                  file=sys.stderr)
        print(ans.text)
    else:
        print()
    label = "Closest passages found (not an answer)" if ans.abstained else "Sources"
    quotes = ans.closest if ans.abstained else ans.quotes
    if quotes:
        print(f"\n{label}:")
    for n, q in enumerate(quotes, start=1):
        meta = ", ".join(x for x in (q.source_label if q.outlet else None, q.date) if x)
        print(f"[{n}] \"{q.text}\"\n    — {q.title}{f' ({meta})' if meta else ''}; {q.doc_id} chars {q.start}-{q.end}"
              + (f"\n      [{q.provenance.describe()}]" if q.provenance else ""))
    print(f"\n({ans.timings.get('total_ms', 0):.0f} ms)", file=sys.stderr)
    return 0


def cmd_show(args) -> int:
    doc = open_assistant(args).document(args.doc_id)
    if args.json:
        print(json.dumps(doc.to_dict(with_text=True), ensure_ascii=False, indent=2))
    elif args.start is not None:
        end = args.end if args.end is not None else len(doc.text)
        print(doc.text[args.start:end])
    else:
        print(f"# {doc.title}\n{doc.outlet or ''} {doc.date or ''}  {doc.source}\n")
        print(doc.text)
    return 0


def cmd_remove(args) -> int:
    outcome = open_assistant(args).remove(args.doc_id)
    print(f"removed {args.doc_id}" if outcome == "removed" else f"{args.doc_id} was already removed")
    return 0


def cmd_docs(args) -> int:
    docs = open_assistant(args).documents()
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2))
        return 0
    for d in docs:
        print(f"{d['doc_id']}\t{d['date'] or '-'}\t{d['outlet'] or '-'}\t{d['chunks']} chunks\t{d['title']}"
              f"\t[{d['provenance_text']}]")
    clashes = list(dict.fromkeys(d["clash"] for d in docs if d["clash"]))
    for c in clashes:
        print(f"⚠ {c}")
    print(f"{len(docs)} documents" + (f", {len(clashes)} title clash{'es' if len(clashes) > 1 else ''}"
                                      if clashes else ""), file=sys.stderr)
    return 0


def register_core(sub) -> None:
    p = sub.add_parser("ingest", help="index files or folders (.txt .md .html .jsonl)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_index_arg(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--top-k", type=int, default=None, help="passages to read (RAG_RETRIEVAL__TOP_K)")
    p.add_argument("--llm", metavar="BACKEND", default=None,
                   help="answer writer: none, local, openai, ollama (RAG_LLM__BACKEND)")
    add_index_arg(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("show", help="print a document (or a span of it)")
    p.add_argument("doc_id")
    p.add_argument("--start", type=int, default=None)
    p.add_argument("--end", type=int, default=None)
    p.add_argument("--json", action="store_true")
    add_index_arg(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("remove", help="delete a document from the index")
    p.add_argument("doc_id")
    add_index_arg(p)
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("docs", help="list indexed documents")
    p.add_argument("--json", action="store_true")
    add_index_arg(p)
    p.set_defaults(func=cmd_docs)


from .eval_cmd import register_eval  # noqa: E402
from .serve_cmd import register_serve  # noqa: E402
from .bench_cmd import register_bench  # noqa: E402
from .doctor_cmd import register_doctor  # noqa: E402
from .train_cmd import register_train  # noqa: E402

REGISTRY = [register_core, register_eval, register_serve, register_bench, register_doctor, register_train]
