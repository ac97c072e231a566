"""Benchmark: indexing time and peak memory for one large file without sentence punctuation.

    python bench/bench_indexing.py                 # 1, 2 and 20 MB, Chinese and English text
    python bench/bench_indexing.py --mb 1 2 --kind en

Each size runs ``Index.build`` in a fresh subprocess (so peak RSS is that build's alone) on a
generated file: ``zh`` is CJK text with no punctuation at all (the worst case for the sentence
splitter: one 20 MB "sentence"), ``en`` is space-separated words with no full stops, ``en-punct``
the same words with a full stop every 15 words (the reference: ordinary prose). Reported:
wall seconds of the build (load + chunk + analyse + BM25 + write), peak RSS of the process, the
baseline RSS after imports and jieba's dictionary load, and (peak - baseline) / file size -- the
memory the build itself needed per byte of input. Timings are wall clock on a shared machine; read
the ratios between sizes (linear time means seconds grow like MB), not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from tinyrag.analyzers import Analyzer
from tinyrag.index import Index
Analyzer()("预热结巴词典")  # load jieba's dictionary before the baseline
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
base = rss_mb()
t = time.perf_counter()
_, report = Index.build(sys.argv[1], sys.argv[2])
sec = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": sec, "peak_mb": peak, "base_mb": base, "chunks": report.n_chunks}))
"""

ZH_CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
EN_WORDS = (
    "rotary position embedding attention query key value cache grouped head layer norm model "
    "token vocabulary sequence length batch gradient loss training inference decoder weight"
).split()


def _en_word(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(EN_WORDS)
    return "w" + str(int(rng.paretovariate(0.8)) % 200_000)


def make_file(path: Path, mb: float, kind: str) -> None:
    rng = random.Random(0)
    target = int(mb * 1_000_000)
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < target:
            if kind == "zh":
                s = "".join(rng.choice(ZH_CHARS) for _ in range(4000))
            else:  # Zipf-like: a few frequent words, a long tail of rare made-up ones
                words = [_en_word(rng) for _ in range(1000)]
                if kind == "en-punct":  # the same text with a full stop every 15 words
                    words = [w + ("." if i % 15 == 14 else "") for i, w in enumerate(words)]
                s = " ".join(words) + " "
            f.write(s)
            written += len(s.encode("utf-8"))


def run(mb: float, kind: str, tmp: Path) -> dict:
    src = tmp / f"{kind}-{mb}mb"
    src.mkdir(exist_ok=True)
    make_file(src / "big.txt", mb, kind)
    size = (src / "big.txt").stat().st_size
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), str(tmp / f"{kind}-{mb}.index")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r.update(kind=kind, mb=size / 1e6, per_byte=(r["peak_mb"] - r["base_mb"]) * 2**20 / size)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[1, 2, 20])
    ap.add_argument(
        "--kind", choices=["zh", "en", "en-punct"], nargs="+", default=["en-punct", "en", "zh"]
    )
    args = ap.parse_args()
    print("| text | file MB | build s | s per MB | peak RSS MB | baseline MB | (peak-base)/file |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="tinyrag-bench-") as d:
        for kind in args.kind:
            for mb in args.mb:
                r = run(mb, kind, Path(d))
                print(
                    f"| {kind} | {r['mb']:.1f} | {r['seconds']:.1f} | {r['seconds'] / r['mb']:.2f} "
                    f"| {r['peak_mb']:.0f} | {r['base_mb']:.0f} | {r['per_byte']:.1f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
