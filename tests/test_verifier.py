"""The answer verifier: training runs and writes what answering loads, the plain-PyTorch network
computes what transformers computes, and a decision that needs it refuses to run without it.

The sentences are written here, not taken from any set the verifier was trained or measured on.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answering.decide import load_decision
from rag.answering.reader import SHIPPED_READER
from rag.answering.verifier import SHIPPED_VERIFIER, VERIFIER_FOLDER, AnswerVerifier, marked_context

ROOT = Path(__file__).resolve().parent.parent
TRAIN_JSON = ROOT.parent / "shared" / "datasets" / "squad2-train" / "squad2-train.json"

REPORT = ("A fire broke out at the Binh Duong paint factory on Monday night. About 40 firefighters "
          "were sent to the site, the city said. Three of them were injured when a tank exploded. "
          "The factory, built in 1998, employs 212 people.")


def at(text: str, phrase: str) -> tuple[int, int]:
    i = text.index(phrase)
    return i, i + len(phrase)


def test_the_context_marks_the_candidate_in_its_sentence_and_the_one_before():
    s, e = at(REPORT, "Three")
    ctx = marked_context(REPORT, s, e)
    assert ctx.startswith("About 40 firefighters were sent") and "« Three »" in ctx
    assert ctx.endswith("when a tank exploded.") and "paint factory" not in ctx and "212" not in ctx
    s, e = at(REPORT, "Monday night")  # the first sentence has none before it
    assert marked_context(REPORT, s, e).startswith("A fire broke out at the Binh Duong paint factory on  « Monday")
    # cut from a window of the text: sentences are looked for inside it only
    lo = REPORT.index("About 40")
    s, e = at(REPORT, "1998")
    assert marked_context(REPORT, s, e, lo, len(REPORT)).startswith("Three of them were injured")


def test_the_shipped_reader_has_no_verifier_and_its_decision_does_not_need_one():
    """The verifier was measured and not shipped (eval/candidates/2026-11-27-verifier.md): the
    shipped reader folder carries none, and its decision answers without one."""
    assert not SHIPPED_VERIFIER.exists()
    assert not load_decision(SHIPPED_READER).uses_verifier


def test_training_runs_a_few_steps_and_answering_loads_the_result(tmp_path):
    """`rag train-verifier` on a tiny slice: int8 weights + tokenizer + training.json, and the
    plain-PyTorch network (answering/bert.py BertPairScore) gives what transformers'
    BertForSequenceClassification gives on those weights."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    assert TRAIN_JSON.exists(), "the training set is ../shared/datasets/squad2-train"
    out = tmp_path / "reader" / VERIFIER_FOLDER
    r = subprocess.run([sys.executable, "-m", "rag", "train-verifier", "--data", str(TRAIN_JSON), "--out", str(out),
                        "--limit", "24", "--epochs", "1", "--batch-size", "8"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((out / "training.json").read_text())
    assert meta["train_pairs"] == 24 and meta["history"][-1]["epoch"] == 1
    assert meta["history"][-1]["held_out_auc"] is not None and "held-out AUC" in r.stderr
    assert (out / "model.int8.safetensors").exists() and not (out / "model.safetensors").exists()

    v = AnswerVerifier(out)
    q = "How many firefighters were injured?"
    contexts = [marked_context(REPORT, *at(REPORT, "About 40")), marked_context(REPORT, *at(REPORT, "Three")),
                marked_context(REPORT, *at(REPORT, "1998")) + " filler" * 300]  # truncated at 160 tokens
    ours = v.score(q, contexts)
    hf = BertForSequenceClassification(BertConfig.from_pretrained(out)).eval()
    hf.load_state_dict(v.model.state_dict(), strict=False)  # the dequantized weights answering runs
    tok = AutoTokenizer.from_pretrained(out)
    x = tok([q] * 3, contexts, truncation="only_second", max_length=160, padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = hf(**x).logits[:, 0].numpy()
    assert abs(ours - theirs).max() < 1e-4, (ours, theirs)

    # wired into answering: a reader folder carrying it and a decision with the verified gate
    reader = out.parent
    for f in SHIPPED_READER.iterdir():
        if f.is_file():
            shutil.copy(f, reader / f.name)
    d = json.loads((reader / "decision.json").read_text())
    d.update(gate="verified", mix=[0.5, 0.0, 1.0, 0.0, 1.0], threshold=-100.0)
    (reader / "decision.json").write_text(json.dumps(d))
    a = _assistant(tmp_path, reader)
    ev = a.evidence(q)
    assert ev.candidates and all(c.features["verifier"] != 0.0 for c in ev.candidates)
    best = ev.candidates[0]
    doc = a.document(best.doc_id)
    assert abs(best.features["verifier"] - v.score(q, [marked_context(doc.text, best.start, best.end)])[0]) < 1e-4
    ans = a.ask(q)
    z = 0.5 * math.log(best.p_correct / (1 - best.p_correct)) + 0.5 * best.features["verifier"]
    assert not ans.abstained and abs(ans.confidence - 1 / (1 + math.exp(-z))) < 1e-3
    assert doc.text[ans.short.start:ans.short.end] == ans.short.text
    d["threshold"] = 100.0  # nothing reaches it: abstains, saying what fell short
    (reader / "decision.json").write_text(json.dumps(d))
    ans = _assistant(tmp_path, reader).ask(q)
    assert ans.abstained and ans.abstain_reason.detail["gate"] == "verified"
    assert abs(ans.abstain_reason.detail["gate_value"] - z) < 1e-3


def _assistant(tmp_path, reader):
    from rag import Assistant
    from rag.settings import Settings

    s = Settings(bootstrap_dir=None)
    s = s.model_copy(update={"reader": s.reader.model_copy(update={"path": reader})})
    src = tmp_path / "report.txt"
    src.write_text("Factory fire\n\n" + REPORT + "\n", encoding="utf-8")
    a = Assistant(index_dir=tmp_path / "index", settings=s, bootstrap=False)
    assert a.ingest([src]).ok
    return a


def test_train_verifier_refuses_a_measuring_set(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rag", "train-verifier", "--data",
                        str(ROOT.parent / "shared" / "benchmarks" / "squad2-rhine" / "gold.jsonl"),
                        "--out", str(tmp_path / "v")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 2 and "measuring set" in r.stderr and not (tmp_path / "v").exists()


def test_a_decision_that_uses_the_verifier_says_how_to_fix_a_missing_one(tmp_path):
    """A reader folder whose decision.json names the verifier feature but holds no verifier:
    asking fails with a message naming the folder and the command that writes it."""
    from rag import Assistant
    from rag.errors import ConfigError
    from rag.settings import Settings

    reader = tmp_path / "reader"
    shutil.copytree(SHIPPED_READER, reader, ignore=shutil.ignore_patterns(VERIFIER_FOLDER))
    d = json.loads((reader / "decision.json").read_text())
    if "verifier" not in d["features"]:
        for k, v in (("features", "verifier"), ("mean", 0.0), ("scale", 1.0), ("coef", 0.5)):
            d[k].append(v)
        (reader / "decision.json").write_text(json.dumps(d))
    s = Settings(bootstrap_dir=None)
    s = s.model_copy(update={"reader": s.reader.model_copy(update={"path": reader})})
    (tmp_path / "a.txt").write_text("Mill report\n\nThe Kelvar mill employs 312 people.\n", encoding="utf-8")
    a = Assistant(index_dir=tmp_path / "index", settings=s, bootstrap=False)
    assert a.ingest([tmp_path / "a.txt"]).ok
    with pytest.raises(ConfigError) as e:
        a.ask("How many people does the Kelvar mill employ?")
    assert str(reader / VERIFIER_FOLDER) in str(e.value) and "rag train-verifier" in str(e.value)
