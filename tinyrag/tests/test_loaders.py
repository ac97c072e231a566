"""Loaders: every format, exact text for offsets, failures reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyrag.loaders import LoadError, html_to_text, load_directory, load_file


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one Helvetica text line per page (offsets in the xref are exact)."""
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        None,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode()}\nendstream")
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {len(objs)} 0 R >>"
        )
        kids.append(f"{len(objs)} 0 R")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_txt_keeps_exact_text_including_crlf(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes("第一行\r\n第二行 English\r\n".encode())
    (doc,) = load_file(p)
    assert doc.text == "第一行\r\n第二行 English\r\n"
    with open(p, encoding="utf-8", newline="") as f:
        assert f.read() == doc.text


def test_gb18030_fallback(tmp_path: Path) -> None:
    p = tmp_path / "old.txt"
    p.write_bytes("旧编码的中文文件".encode("gb18030"))
    assert load_file(p)[0].text == "旧编码的中文文件"


def test_markdown_flag_and_html(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# 标题\n正文", encoding="utf-8")
    assert load_file(tmp_path / "a.md")[0].is_markdown
    html = "<html><head><title>RoPE 简介</title><style>p{}</style></head><body><h1>旋转</h1><p>位置&amp;编码</p><script>x=1</script><p>第二段</p></body></html>"
    text, title = html_to_text(html)
    assert title == "RoPE 简介"
    assert text == "旋转\n\n位置&编码\n\n第二段"


def test_json_and_jsonl_records(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps({"data": [{"id": 7, "title": "T", "text": "甲"}, "乙"]}), encoding="utf-8"
    )
    docs = load_file(tmp_path / "a.json")
    assert [d.text for d in docs] == ["甲", "乙"] and docs[0].meta == {"id": 7, "title": "T"}
    (tmp_path / "b.jsonl").write_text('{"content": "丙"}\n\n{"context": "丁"}\n', encoding="utf-8")
    assert [d.text for d in load_file(tmp_path / "b.jsonl")] == ["丙", "丁"]
    (tmp_path / "c.jsonl").write_text('{"content": "ok"}\n{"nope": 1}\n', encoding="utf-8")
    with pytest.raises(LoadError, match=r"c.jsonl:2: no text field"):
        load_file(tmp_path / "c.jsonl")


def test_pdf_pages(tmp_path: Path) -> None:
    pytest.importorskip("pypdf")
    (tmp_path / "a.pdf").write_bytes(minimal_pdf(["Hello RAG page one", "Second page text"]))
    docs = load_file(tmp_path / "a.pdf")
    assert [d.page for d in docs] == [1, 2]
    assert "Hello RAG page one" in docs[0].text and "Second page text" in docs[1].text


def test_broken_files_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("好文件", encoding="utf-8")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    (tmp_path / ".hidden.md").write_text("skip me", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs, errors = load_directory(tmp_path)
    assert [d.text for d in docs] == ["好文件"]
    assert sorted(Path(p).name for p, _ in errors) == ["bad.json", "bad.pdf"]
    assert all(Path(p).name in why for p, why in errors)  # messages name the file


def test_docx_paragraphs_headings_tables_and_title(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.core_properties.title = "模型笔记"
    d.add_heading("注意力", level=1)
    d.add_paragraph("Qwen2 使用分组查询注意力。")
    d.add_heading("显存", level=2)
    d.add_paragraph("KV cache 缩小到七分之一。")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "模型", "KV 头"
    t.cell(1, 0).text, t.cell(1, 1).text = "0.5B", "2"
    d.save(tmp_path / "notes.docx")
    (doc,) = load_file(tmp_path / "notes.docx")
    assert doc.text == (
        "# 注意力\n\nQwen2 使用分组查询注意力。\n\n## 显存\n\nKV cache 缩小到七分之一。"
        "\n\n模型 | KV 头\n0.5B | 2"
    )
    assert doc.meta == {"title": "模型笔记"} and doc.is_markdown


def test_broken_docx_is_a_named_load_error(tmp_path: Path) -> None:
    (tmp_path / "bad.docx").write_bytes(b"not a zip")
    with pytest.raises(LoadError, match="bad.docx"):
        load_file(tmp_path / "bad.docx")


def test_unsupported_files_are_listed_with_the_reason(tmp_path: Path) -> None:
    from tinyrag.index import Index

    (tmp_path / "a.md").write_text("# A\n\n内容。\n", encoding="utf-8")
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    _, report = Index.build(tmp_path, None)
    assert report.new == ["a.md"]
    assert [p for p, _ in report.skipped] == ["img.png", "old.doc"]
    assert "save it as .docx" in dict(report.skipped)["old.doc"]
    assert "2 unsupported files skipped" in report.summary()
