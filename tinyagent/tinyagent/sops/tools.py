"""Demo tools for the example SOPs: a tiny order table (refund.json) and a tiny paper shelf
(paper.json). Offline and deterministic, so the examples run with any model and in tests.

    >>> lookup_order("A1001")["status"]
    '已签收'
    >>> [p["id"] for p in search_papers("ReAct reasoning acting")][:1]
    ['react']
"""

from __future__ import annotations

from tinyagent.tool import Tool, tool

ORDERS = {
    "A1001": {
        "order_id": "A1001",
        "item": "蓝牙耳机",
        "status": "已签收",
        "days_since_delivery": 3,
        "amount": 199.0,
    },
    "A1002": {
        "order_id": "A1002",
        "item": "电饭煲",
        "status": "已签收",
        "days_since_delivery": 12,
        "amount": 459.0,
    },
    "A1003": {
        "order_id": "A1003",
        "item": "运动鞋",
        "status": "运输中",
        "days_since_delivery": 0,
        "amount": 329.0,
    },
}
PAPERS = {
    "react": (
        "ReAct: Synergizing Reasoning and Acting in Language Models (2022)",
        "Interleaves reasoning traces (Thought) with actions (tool calls) and observations; "
        "on HotpotQA and FEVER it reduces hallucination versus chain-of-thought alone, and on "
        "ALFWorld/WebShop it beats imitation and RL baselines with one or two examples.",
    ),
    "toolformer": (
        "Toolformer: Language Models Can Teach Themselves to Use Tools (2023)",
        "A model annotates its own pretraining text with API calls (calculator, search, "
        "QA, translation, calendar) and keeps those that lower perplexity; fine-tuned on "
        "them, a 6.7B GPT-J improves zero-shot on math and factual tasks.",
    ),
    "bfcl": (
        "Berkeley Function Calling Leaderboard (2024)",
        "Evaluates function calling with AST matching against possible answers over simple, "
        "multiple, parallel and irrelevance categories, plus live user-contributed functions "
        "and multi-turn tasks.",
    ),
    "rag": (
        "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks (2020)",
        "Combines a dense retriever (DPR) with a seq2seq generator (BART), marginalising over "
        "retrieved passages; sets the state of the art on open-domain QA.",
    ),
}
_REFUNDS: dict[str, str] = {}


@tool
def lookup_order(order_id: str) -> dict:
    """查询订单：商品、状态、签收后天数、金额。

    Args:
        order_id: 订单号，例如 A1001
    """
    order = ORDERS.get(order_id.strip().upper())
    if order is None:
        raise ValueError(f"没有订单 {order_id}；已知订单：{', '.join(ORDERS)}")
    return dict(order)


@tool
def issue_refund(order_id: str, amount: float) -> dict:
    """为订单退款，返回退款单号。

    Args:
        order_id: 订单号
        amount: 退款金额（元），不超过订单金额
    """
    order = ORDERS.get(order_id.strip().upper())
    if order is None:
        raise ValueError(f"没有订单 {order_id}")
    if amount <= 0 or amount > order["amount"]:
        raise ValueError(f"退款金额 {amount} 不在 (0, {order['amount']}] 之内")
    refund_id = _REFUNDS.setdefault(order["order_id"], f"R-{order['order_id']}")
    return {"refund_id": refund_id, "amount": amount}


@tool
def search_papers(query: str) -> list:
    """按关键词检索论文，返回 id 和标题（最多 3 篇）。

    Args:
        query: 关键词（英文效果更好）
    """
    words = [w for w in query.lower().replace(",", " ").split() if w]
    scored = []
    for pid, (title, abstract) in PAPERS.items():
        text = (pid + " " + title + " " + abstract).lower()
        score = sum(text.count(w) for w in words)
        if score:
            scored.append((-score, pid, title))
    return [{"id": pid, "title": title} for _, pid, title in sorted(scored)[:3]]


@tool
def read_paper(paper_id: str) -> str:
    """读取一篇论文的标题和摘要。

    Args:
        paper_id: search_papers 返回的 id
    """
    if paper_id not in PAPERS:
        raise ValueError(f"没有论文 {paper_id!r}；已知：{', '.join(PAPERS)}")
    title, abstract = PAPERS[paper_id]
    return f"{title}\n{abstract}"


EXAMPLE_TOOLS: list[Tool] = [lookup_order, issue_refund, search_papers, read_paper]
