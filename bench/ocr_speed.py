"""OCR speed (pages/s) on generated scanned pages, and how many of their words OCR gets right.

Pages of English filler with a made-up word of their own ("kmk" + letters) are drawn with
PyMuPDF, then kept only as a grey picture at the scan's resolution (no text layer), as a
scanner without OCR writes them (``tests/docs_factory.py``). Each PDF is read the way the
reading children read it (``core.extract.extract(path, ocr=True)``), in this process, and
timed; the same text as a PDF with a text layer is the baseline. "words" is the share of the
filler's words found in the OCR text, "found" the pages whose own word came through exactly.

    nice -n 10 python bench/ocr_speed.py                  # 6 pages at 200 and 300 dpi
    nice -n 10 python bench/ocr_speed.py --pages 10 --dpi 300
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.extract import extract  # noqa: E402
from core.extract.ocr import find_ocr_engine  # noqa: E402
from tests.docs_factory import make_pdf, make_scanned_pdf  # noqa: E402

_FILLER = " ".join((
    "the tenant shall keep the premises in good repair and return them at the end of the "
    "term in the same condition allowing for fair wear and tear the landlord may inspect "
    "the flat at reasonable times after giving written notice of at least one day rent is "
    "payable monthly in advance by standing order to the account named in the schedule",
)).split(" ")


def _page_text(rng: random.Random, word: str) -> str:
    words = [rng.choice(_FILLER) for _ in range(250)]  # most of a typed page
    words.insert(rng.randrange(len(words)), word)
    lines = [" ".join(words[at: at + 11]) for at in range(0, len(words), 11)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--dpi", default="200,300", help="scan resolutions, comma-separated")
    args = parser.parse_args()
    engine = find_ocr_engine()
    if not engine.available:
        print(f"OCR cannot run: {engine.problem}")
        return 1
    rng = random.Random(21)
    words = ["kmk" + "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(5))
             for _ in range(args.pages)]
    texts = [_page_text(rng, word) for word in words]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    print(f"{dt.date.today()}, commit {commit}, tessdata {engine.tessdata}")
    with tempfile.TemporaryDirectory() as scratch:
        typed = make_pdf(Path(scratch) / "typed.pdf", texts)
        started = time.perf_counter()
        extract(typed)
        baseline = args.pages / (time.perf_counter() - started)
        print(f"text layer (no OCR): {baseline:,.0f} pages/s")
        print("| scan dpi | pages | seconds | pages/s | words | found |")
        print("|---|---|---|---|---|---|")
        for dpi in (int(value) for value in args.dpi.split(",")):
            scan = make_scanned_pdf(Path(scratch) / f"scan{dpi}.pdf", texts, dpi=dpi)
            started = time.perf_counter()
            document = extract(scan, ocr=True)
            seconds = time.perf_counter() - started
            read = " ".join(page.text for page in document.pages).lower().split()
            expected = " ".join(texts).lower().split()
            vocabulary = set(read)
            share = sum(word in vocabulary for word in expected) / len(expected)
            found = sum(word in page.text for word, page in zip(words, document.pages,
                                                                strict=True))
            print(f"| {dpi} | {args.pages} | {seconds:.1f} | {args.pages / seconds:.2f} | "
                  f"{share:.1%} | {found}/{args.pages} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
