"""Benchmark: indexing time and peak memory for one large file without sentence punctuation.

    python bench/bench_indexing.py                 # 1, 2 and 20 MB, Chinese and English text
    python bench/bench_indexing.py --mb 1 2 --kind en

Each size runs ``Index.build`` in a fresh subprocess (so peak RSS is that build's alone) on a
generated file: ``zh`` is Chinese words with no punctuation at all (the worst case for the
sentence splitter: one 20 MB "sentence"; words from a fixed list, so the vocabulary stays bounded
as in real text -- random characters would make every jieba token a new term), ``en`` is space-separated words with no full stops, ``en-punct``
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

ZH_WORDS = (
    "模型 注意力 位置 编码 旋转 查询 键值 缓存 显存 内存 训练 推理 生成 分词 词表 向量 矩阵 参数 梯度 "
    "优化 学习率 损失 数据 语料 文档 检索 排序 索引 问题 答案 引用 段落 句子 标点 中文 英文 系统 用户 "
    "助手 工具 函数 调用 结果 文件 目录 网络 服务 请求 响应 长度 上下文 窗口 批次 并行 线程 进程 时间 "
    "空间 速度 精度 误差 实验 基准 评测 指标 召回 准确 分数 权重 归一化 激活 残差 层数 头数 维度 隐藏 "
    "输入 输出 序列 令牌 采样 温度 概率 分布 随机 种子 配置 检查点 下载 加载 保存 压缩 量化 整数 浮点 "
    "北京 上海 城市 国家 历史 文化 经济 科学 技术 教育 医学 艺术 音乐 电影 体育 自然 环境 气候 河流 山脉"
).split()
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
            if kind == "zh":  # real words (a bounded vocabulary, as in real text), no punctuation
                s = "".join(rng.choice(ZH_WORDS) for _ in range(2000))
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
