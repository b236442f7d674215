"""Real-looking benchmark corpora: the bundled articles (and the Rhine article,
cut into news-sized pieces) rewritten with other names, places, figures,
outlets and dates, so that thousands of chunks are near-duplicates that differ
in exactly the details questions ask about, and retrieval is not trivial.

Deterministic: corpus(N) is a prefix of corpus(M) for N < M (same seed), so
vectors computed for the 10k corpus can be reused for the first 10k chunks of
the 100k one.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "rag" / "data" / "articles"
RHINE = Path("/work/shared/benchmarks/squad2-rhine/articles/Rhine.txt")
TESTS_DATA = ROOT / "tests" / "data"

PEOPLE = ["Phạm Minh Chính", "Pham Minh Chinh", "Tô Lâm", "Luyen Minh Hong", "Bùi Thanh Sơn"]
NAME_POOL = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Quang Dũng", "Hoàng Minh Đức", "Vũ Thu Hà",
             "Đặng Quốc Khánh", "Phan Thanh Long", "Đỗ Hải Nam", "Ngô Bảo Ngọc", "Dương Tuấn Phong",
             "Maria Keller", "Jonas Weber", "Claire Dubois", "Pieter de Vries", "Anna Kowalska",
             "Lukas Brunner", "Sofia Rossi", "Tomás Novák", "Elif Yılmaz", "Kenji Watanabe"]
PLACES = {
    "Việt Nam": ["Thái Lan", "Indonesia", "Malaysia", "Philippines", "Campuchia", "Lào", "Singapore"],
    "Vietnam": ["Thailand", "Indonesia", "Malaysia", "Philippines", "Cambodia", "Laos", "Singapore"],
    "HÀ NỘI": ["BANGKOK", "JAKARTA", "KUALA LUMPUR", "MANILA", "PHNOM PENH", "VIENTIANE"],
    "Rhine": ["Danube", "Elbe", "Oder", "Loire", "Rhône", "Vistula", "Meuse", "Weser"],
    "Cologne": ["Vienna", "Hamburg", "Wrocław", "Nantes", "Lyon", "Kraków", "Liège", "Bremen"],
    "North Sea": ["Baltic Sea", "Black Sea", "Adriatic Sea", "Bay of Biscay", "Ligurian Sea"],
    "Lake Constance": ["Lake Geneva", "Lake Balaton", "Lake Garda", "Lake Neusiedl"],
    "Netherlands": ["Belgium", "Poland", "Romania", "France", "Austria"],
}
OUTLETS = ["vns", "vov", "tuoitre", "vnexpress", "thanhnien", "reuters", "afp", "dw", "bbc", "nhandan"]
_NUM = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")


@dataclass
class Article:
    name: str  # file name: <outlet>-<date>-<slug>.txt
    text: str


def templates() -> list[tuple[str, str]]:
    """(slug, text) of the articles the corpus is varied from."""
    out = []
    for p in sorted(BUNDLED.glob("*.txt")):
        out.append((p.stem.split("-", 4)[-1], p.read_text(encoding="utf-8")))
    if TESTS_DATA.is_dir():
        for p in sorted(TESTS_DATA.glob("*.txt")):
            out.append((p.stem[-40:], p.read_text(encoding="utf-8")))
    if RHINE.exists():
        paras = [p for p in RHINE.read_text(encoding="utf-8").split("\n\n")[1:] if p.strip()]
        for i in range(0, len(paras), 5):
            body = "\n\n".join(paras[i:i + 5])
            out.append((f"rhine-report-part-{i // 5 + 1}", f"The Rhine: report part {i // 5 + 1}\n\n{body}\n"))
    return out


def _vary_number(m: re.Match, rng: random.Random) -> str:
    s = m.group(1)
    plain = s.replace(",", "")
    if "." in plain:
        v = float(plain) * rng.uniform(0.6, 1.6)
        return f"{v:.{len(plain.split('.')[1])}f}"
    v = int(plain)
    if 1900 <= v <= 2100:  # years move a little
        return str(v + rng.randint(-3, 3))
    if v < 10:
        return str(max(1, v + rng.randint(-2, 3)))
    v = max(10, int(v * rng.uniform(0.6, 1.6)))
    return f"{v:,}" if "," in s else str(v)


def vary(text: str, rng: random.Random) -> str:
    for person in PEOPLE:
        if person in text:
            text = text.replace(person, rng.choice(NAME_POOL))
    for place, pool in PLACES.items():
        if place in text and rng.random() < 0.7:
            text = re.sub(rf"\b{re.escape(place)}\b", rng.choice(pool), text)
    return _NUM.sub(lambda m: _vary_number(m, rng), text)


def generate(n_chunks: int, out_dir: Path, max_words: int = 110, overlap: int = 1, seed: int = 7) -> dict:
    """Write articles to out_dir until they make about n_chunks chunks."""
    from rag.chunking import chunk_document

    out_dir.mkdir(parents=True, exist_ok=True)
    tpl = templates()
    rng = random.Random(seed)
    total_chunks = total_bytes = i = 0
    while total_chunks < n_chunks:
        slug, text = tpl[i % len(tpl)]
        body = text if i < len(tpl) else vary(text, rng)
        outlet = OUTLETS[rng.randrange(len(OUTLETS))]
        date = f"20{rng.randint(23, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        name = f"{outlet}-{date}-{slug}-{i:06d}.txt"
        (out_dir / name).write_text(body, encoding="utf-8")
        total_chunks += len(chunk_document("x", body, max_words, overlap))
        total_bytes += len(body.encode("utf-8"))
        i += 1
    return {"articles": i, "chunks": total_chunks, "bytes": total_bytes, "templates": len(tpl)}


# Questions about the templates; on the varied corpus they have many
# near-duplicate candidates (other figures, other names).
QUESTIONS = [
    "How many vaccine doses did the ministry secure?",
    "How much was the vaccine and medical equipment worth?",
    "How many cooperation agreements did the MoFA help localities sign?",
    "How many countries recognised the market economy status?",
    "Who attended the Patriotic Emulation Congress?",
    "How many high-level visits by Vietnamese leaders were there?",
    "What did the Prime Minister call for at the congress?",
    "How many official documents on foreign affairs were issued?",
    "Where does the Rhine empty?",
    "What is the largest city the Rhine runs through?",
    "How long is the Rhine?",
    "What lake does the Rhine flow through?",
    "Which river is longer than the Rhine?",
    "When was the Rhine Gorge made a World Heritage Site?",
    "What forms the Rhine delta?",
    "Which countries does the Rhine border?",
]
