"""Command line: ``python -m tinyrag {index,search,ask,chat,eval,demo}``.

    python -m tinyrag index docs/ --index my.index            # build or update (incremental)
    python -m tinyrag search "旋转位置编码" --index my.index --k 5 --json
    python -m tinyrag ask "Qwen2 用了什么位置编码？" --index my.index              # extractive
    python -m tinyrag ask "..." --index my.index --model path/to/Qwen2.5-0.5B-Instruct
    python -m tinyrag chat --index my.index --model http://127.0.0.1:8000/v1
    python -m tinyrag eval --dataset cranfield --stem   # after: python -m tinyrag data fetch cranfield
    python -m tinyrag eval --corpus docs.trec --queries topics.txt --qrels qrels.txt
    python -m tinyrag demo                                    # the project's own docs
    python -m tinyrag demo --model tiny-universe              # towns: a cited answer + a refusal

``--model SPEC`` is any ``tinyqwen.connect`` spec (checkpoint dir, ``tiny-random``, or an
OpenAI-compatible URL). ``ask``/``chat`` without ``--model`` answer extractively (labelled; no
model is loaded), because the only model that needs no download, ``tiny-random``, is random.
An index built with ``--embed-model`` stores dense vectors; ``search``/``ask`` reconnect to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tinyqwen.connection import add_quantize_argument
from tinyrag.analyzers import Analyzer
from tinyrag.chunking import Chunker
from tinyrag.support import MIN_SUPPORT


def _connect(spec: str | None, quantize: str | None = None) -> Any:
    if not spec:
        return None
    import tinyqwen

    model = tinyqwen.connect(spec, quantize=quantize)
    if spec == "tiny-random":
        print(
            "note: tiny-random is a randomly initialised model; its output is gibberish.",
            file=sys.stderr,
        )
    return model


def _embedder(
    spec: str | None, instruction: str | None = None, pooling: str = "last", fmt: str = "auto"
) -> Any:
    """An Embedder for ``spec``; ``instruction=None`` means tinyrag's default query instruction,
    ``fmt="auto"`` the query format of the model ``spec`` names (``embedder.query_format_for``)."""
    if not spec:
        return None
    from tinyrag.embedder import DEFAULT_INSTRUCTION, Embedder, query_format_for

    instruction = DEFAULT_INSTRUCTION if instruction is None else (instruction or None)
    fmt = query_format_for(spec) if fmt == "auto" else fmt
    return Embedder(_connect(spec), instruction=instruction, pooling=pooling, query_format=fmt)


def _load_index(args: argparse.Namespace) -> Any:
    """Load the index; reconnect its embedding model (same instruction and pooling) unless bm25."""
    from tinyrag.index import Index

    m = Index.read_manifest(args.index)
    cfg = m.get("embedder") or {}
    embedder = None
    if cfg and args.mode != "bm25":
        spec = args.embed_model or cfg["model"]
        embedder = _embedder(
            spec, cfg.get("instruction") or "", cfg.get("pooling", "last"),
            cfg.get("query_format", "gte-qwen2"),
        )  # fmt: skip
    return Index.load(args.index, embedder=embedder, vector_backend=args.vector_backend)


def _where(items: list[str] | None) -> dict[str, Any] | None:
    if not items:
        return None
    out: dict[str, Any] = {}
    for it in items:
        key, sep, val = it.partition("=")
        if not sep:
            raise ValueError(f"--where expects key=value, got {it!r}")
        out[key] = (
            val.split(",") if "," in val else (int(val) if val.isdigit() and key == "page" else val)
        )
    return out


def cmd_index(args: argparse.Namespace) -> int:
    from tinyrag.index import Index

    analyzer = Analyzer(stem=args.stem, chinese=args.chinese)
    chunker = Chunker(args.max_tokens, args.overlap)
    embedder = _embedder(args.embed_model, args.embed_instruction, fmt=args.embed_format)
    tokenizer = None
    if args.tokenizer:
        import tinyqwen

        tokenizer = tinyqwen.Tokenizer.from_pretrained(args.tokenizer)
    _, report = Index.build(
        args.dir, args.index, analyzer=analyzer, chunker=chunker, embedder=embedder,
        embedder_spec=args.embed_model, full=args.full, tokenizer=tokenizer,
        bm25_params={"k1": args.k1, "b": args.b},
    )  # fmt: skip
    print(f"{args.index}: {report.summary()} in {report.seconds:.2f}s")
    for path, why in report.failed:
        print(f"  skipped {path}: {why}", file=sys.stderr)
    _print_unsupported(report.skipped)
    return 0


def _print_unsupported(skipped: list[tuple[str, str]], show: int = 3) -> None:
    """Unsupported files, grouped by type: a folder of 500 images is one line, not 500."""
    by_ext: dict[str, list[str]] = {}
    for path, why in skipped:
        by_ext.setdefault(why, []).append(path)
    for why, paths in by_ext.items():
        more = f" and {len(paths) - show} more" if len(paths) > show else ""
        print(f"  skipped {', '.join(paths[:show])}{more}: {why}", file=sys.stderr)


def cmd_search(args: argparse.Namespace) -> int:
    index = _load_index(args)
    hits = index.search(args.query, k=args.k, mode=args.mode, where=_where(args.where))
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("no hits")
    for rank, h in enumerate(hits, 1):
        snippet = " ".join(h.text.split())[:160]
        print(f"{rank:>2}. {h.score:8.4f}  {h.location()}\n    {snippet}")
    return 0


def _print_answer(a: Any, streamed: bool, as_json: bool) -> None:
    if as_json:
        print(json.dumps(a.to_dict(), ensure_ascii=False, indent=1))
        return
    print("" if streamed else a.text)
    print(a.sources_text())


def _reranker(args: argparse.Namespace, model: Any) -> Any:
    """The reranker: ``--rerank-model``, else the chat model when ``--rerank`` is given, judging in
    ``--rerank-format`` (auto: qwen3-reranker for a spec naming Qwen3-Reranker, else yes-no).
    Reranking is on by default when a reranker is configured; ``--no-rerank`` turns it off."""
    if args.rerank is False:
        return None
    from tinyrag.rerank import Reranker, rerank_format_for

    fmt = getattr(args, "rerank_format", "auto")
    judge = _connect(args.rerank_model) if args.rerank_model else None
    if judge is None and args.rerank:
        if model is None:
            raise ValueError("--rerank needs a model to judge passages (--rerank-model or --model)")
        judge = model
    if judge is None:
        return None
    spec = args.rerank_model or args.model or ""
    return Reranker(judge, rerank_format_for(spec) if fmt == "auto" else fmt)


def cmd_ask(args: argparse.Namespace) -> int:
    from tinyrag.answer import answer_question

    index = _load_index(args)
    model = _connect(args.model, args.quantize)
    stream = model is not None and not args.no_stream and not args.json
    a = answer_question(
        index, args.question, model, k=args.k, mode=args.mode, min_support=args.min_support,
        max_new_tokens=args.max_new_tokens, on_delta=(lambda d: print(d, end="", flush=True)) if stream else None,
        rerank_model=_reranker(args, model), rerank_top=args.rerank_top,
    )  # fmt: skip
    _print_answer(a, stream, args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from tinyrag.answer import answer_question
    from tinyrag.conversation import rewrite_query

    index = _load_index(args)
    model = _connect(args.model, args.quantize)
    reranker = _reranker(args, model)
    history: list[dict] = []
    print("tinyrag chat -- empty line or /exit to quit", file=sys.stderr)
    for line in sys.stdin:
        q = line.strip()
        if not q or q == "/exit":
            break
        query = rewrite_query(q, history[-6:], model)
        if args.verbose:
            print(f"(standalone query: {query})", file=sys.stderr)
        a = answer_question(
            index, q, model, k=args.k, mode=args.mode, min_support=args.min_support, query=query,
            max_new_tokens=args.max_new_tokens, history=history[-6:], on_delta=(lambda d: print(d, end="", flush=True)) if model else None,
            rerank_model=reranker, rerank_top=args.rerank_top,
        )  # fmt: skip
        if args.verbose:
            print(f"(support {a.support:.2f})", file=sys.stderr)
        _print_answer(a, model is not None, False)
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": a.text}]
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from tinyrag.evaluate import evaluate, load_custom, load_dataset

    if args.dataset:
        ds = load_dataset(args.dataset, args.data_dir)
    else:
        ds = load_custom(args.corpus, args.queries, args.qrels, args.squad)
    analyzer = Analyzer(stem=args.stem, chinese=args.chinese)
    model = _connect(args.model, args.quantize)
    if args.answers:
        from tinyrag.answer_eval import evaluate_answers
        from tinyrag.index import Index

        embedder = _embedder(args.embed_model)
        index = Index.from_texts(ds.docs, analyzer=analyzer, embedder=embedder)
        r = evaluate_answers(
            ds, model, limit=args.answer_limit, judge=_connect(args.judge), index=index,
            mode=args.mode, rerank_model=_reranker(args, model), rerank_top=args.rerank_top,
        )  # fmt: skip
    else:
        r = evaluate(
            ds, analyzer=analyzer, bm25_params={"k1": args.k1, "b": args.b}, mode=args.mode,
            embedder=_embedder(args.embed_model), model=model,
            answer_limit=args.answer_limit, ks=(args.k, 100) if args.k != 100 else (10, 100),
            rerank_model=_reranker(args, model), rerank_top=args.rerank_top,
        )  # fmt: skip
    if args.json:
        print(json.dumps(r, ensure_ascii=False))
        return 0
    print("| " + " | ".join(r) + " |")
    print("|" + "---|" * len(r))
    print(
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r.values()) + " |"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tinyrag.demo import run_demo

    docs = args.docs
    if docs == "auto":
        docs = "towns" if args.model == "tiny-universe" else "project"
    run_demo(_connect(args.model, args.quantize), docs, args.question, args.index)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tinyrag", description="Retrieval-augmented generation by hand."
    )
    sub = p.add_subparsers(dest="command", required=True)

    def analyzer_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--stem", action="store_true", help="Porter-stem English words")
        sp.add_argument("--chinese", choices=["jieba", "bigram"], default="jieba")
        sp.add_argument("--k1", type=float, default=1.2)
        sp.add_argument("--b", type=float, default=0.75)

    def rerank_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--rerank-model", help="tinyqwen spec of the reranking model")
        sp.add_argument(
            "--rerank-format", choices=["auto", "yes-no", "qwen3-reranker"], default="auto",
            help="qwen3-reranker: tinyqwen's Qwen3-Reranker scoring (LLM.rerank); yes-no: any "
            "chat model's yes/no log-likelihood; auto: qwen3-reranker when the spec names "
            "Qwen3-Reranker",
        )  # fmt: skip
        sp.add_argument("--rerank-top", type=int, default=10, help="passages to rerank")

    def query_opts(sp: argparse.ArgumentParser, k: int) -> None:
        sp.add_argument("--index", required=True, help="index folder")
        sp.add_argument("--k", type=int, default=k)
        sp.add_argument("--mode", choices=["auto", "bm25", "dense", "hybrid"], default="auto")
        sp.add_argument(
            "--embed-model", help="override the embedding model spec stored in the index"
        )
        sp.add_argument("--vector-backend", choices=["numpy", "faiss"], default="numpy")

    sp = sub.add_parser("index", help="build or update an index from a folder")
    sp.add_argument("dir")
    sp.add_argument("--index", required=True)
    analyzer_opts(sp)
    sp.add_argument("--max-tokens", type=int, default=256)
    sp.add_argument("--overlap", type=int, default=32)
    sp.add_argument(
        "--tokenizer", help="count chunk tokens with this tokenizer (dir or *.tiktoken); "
        "default: 1 per CJK char / word / punctuation mark",
    )  # fmt: skip
    sp.add_argument(
        "--embed-model",
        help="tinyqwen spec of the embedding model (separate from ask's --model), e.g. a "
        "Qwen3-Embedding-0.6B or gte-Qwen2-1.5B-instruct folder",
    )
    sp.add_argument(
        "--embed-format", choices=["auto", "gte-qwen2", "qwen3-embedding"], default="auto",
        help="query format of the embedding model (auto: from the --embed-model name)",
    )  # fmt: skip
    sp.add_argument(
        "--embed-instruction",
        help="query instruction for the embedding model ('' = none; default: "
        "'Given a question, retrieve passages that answer it')",
    )
    sp.add_argument("--full", action="store_true", help="rebuild from scratch")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("search", help="retrieve chunks")
    sp.add_argument("query")
    query_opts(sp, 10)
    sp.add_argument("--json", action="store_true")
    sp.add_argument(
        "--where", action="append", help="metadata filter key=value (source, ext, page)"
    )
    sp.set_defaults(func=cmd_search)

    for name, func in (("ask", cmd_ask), ("chat", cmd_chat)):
        sp = sub.add_parser(
            name, help="answer with citations" if name == "ask" else "multi-turn ask"
        )
        if name == "ask":
            sp.add_argument("question")
            sp.add_argument("--json", action="store_true")
            sp.add_argument("--no-stream", action="store_true")
        query_opts(sp, 5)
        sp.add_argument("--model", help="tinyqwen spec; omitted -> extractive answer")
        add_quantize_argument(sp)
        sp.add_argument(
            "--min-support", type=float, default=MIN_SUPPORT,
            help=f"refuse below this retrieval support (default {MIN_SUPPORT}, calibrated on "
            "CMRC 2018: bench/calibrate_refusal.py)",
        )  # fmt: skip
        sp.add_argument("--max-new-tokens", type=int, default=512)
        sp.add_argument(
            "--rerank", action=argparse.BooleanOptionalAction, default=None,
            help="rerank the top passages by a model's yes/no judgement (default: on when "
            "--rerank-model is given; --rerank alone uses --model)",
        )  # fmt: skip
        rerank_opts(sp)
        if name == "chat":
            sp.add_argument(
                "--verbose", action="store_true", help="show the standalone query and support"
            )
        sp.set_defaults(func=func)

    sp = sub.add_parser("eval", help="retrieval metrics on a test collection")
    sp.add_argument("--dataset", choices=["cranfield", "vaswani", "cmrc2018"])
    sp.add_argument(
        "--data-dir", default=None, help="default $TINYU_DATA_DIR or ~/.cache/tiny-universe/data"
    )
    sp.add_argument("--corpus")
    sp.add_argument("--queries")
    sp.add_argument("--qrels")
    sp.add_argument("--squad", help="SQuAD-style JSON (one relevant context per question)")
    analyzer_opts(sp)
    sp.add_argument("--k", type=int, default=10, help="recall cut-off (R@k and R@100 reported)")
    sp.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="bm25")
    sp.add_argument("--embed-model")
    sp.add_argument("--model", help="answer SQuAD-style questions and report EM/F1")
    add_quantize_argument(sp)
    sp.add_argument("--answer-limit", type=int, default=50)
    sp.add_argument(
        "--answers", action="store_true",
        help="answer quality through ask's pipeline: EM/F1, refusals, citation faithfulness "
        "(SQuAD-style sets; extractive without --model)",
    )  # fmt: skip
    sp.add_argument("--judge", help="tinyqwen spec judging citation faithfulness (default lexical)")
    sp.add_argument(
        "--rerank", action=argparse.BooleanOptionalAction, default=None,
        help="rerank with --rerank-model (or --model) before scoring",
    )  # fmt: skip
    rerank_opts(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser(
        "demo", help="index shipped documents and answer questions with citations (see --docs)"
    )
    sp.add_argument(
        "--docs", choices=["auto", "project", "towns"], default="auto",
        help="project: the repo's docs, a question about Qwen2; towns: examples/towns, one "
        "answerable and one unanswerable question (auto: towns for --model tiny-universe)",
    )  # fmt: skip
    sp.add_argument("--question", help="ask this instead of the demo's question(s)")
    sp.add_argument(
        "--model", help="tinyqwen spec, e.g. tiny-universe; omitted -> extractive answer"
    )
    add_quantize_argument(sp)
    sp.add_argument("--index", help="keep the demo index here (default: a temp folder)")
    sp.set_defaults(func=cmd_demo)

    from tinyqwen.data_cache import add_data_parser
    from tinyrag.data import DATASETS

    add_data_parser(sub, DATASETS, "python -m tinyrag")
    return p


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    from tinyqwen.errors import run_cli

    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
