"""Example SOPs (``refund.json``: 退货退款客服流程, ``paper.json``: 论文检索与总结) and their demo tools."""

from pathlib import Path

SOP_DIR = Path(__file__).resolve().parent
