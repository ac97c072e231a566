"""Web search and page fetch over ``requests``, with a configurable search provider.

    >>> tools = make_web_tools(provider="duckduckgo")          # doctest: +SKIP
    >>> tools[0].fn(query="Qwen2.5 release date")               # doctest: +SKIP
    '1. Qwen2.5: A Party of Foundation Models ... https://qwenlm.github.io/blog/qwen2.5/ ...'

Providers (``provider=`` or ``$TINYAGENT_SEARCH_PROVIDER``):

- ``duckduckgo`` (default, keyless): the HTML endpoint ``https://html.duckduckgo.com/html/``;
- ``searxng`` (keyless, self-hosted): ``$TINYAGENT_SEARCH_URL`` + ``/search?format=json``;
- ``serper`` (Google results, needs ``$SERPER_API_KEY``): ``https://google.serper.dev/search``.

``base_url`` (or ``$TINYAGENT_SEARCH_URL``) overrides the endpoint of any provider (a mirror, or a
local fake in tests). Failures are plain sentences the model and the user can act on: offline / host
unreachable, a missing API key, an HTTP error, a non-HTML page.

Limits: DuckDuckGo's HTML page is scraped (its markup can change and it rate-limits); ``fetch_page``
turns HTML into text with the standard-library parser (no JavaScript, no PDF), follows redirects,
reads at most ``max_bytes``, accepts only http(s) URLs and does not block private addresses -- do not
expose this tool to untrusted users on a machine with internal services.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlparse

import requests

from tinyagent.tool import Tool

__all__ = ["WebError", "SearchConfig", "search", "fetch_text", "html_to_text", "make_web_tools"]

PROVIDERS = ("duckduckgo", "searxng", "serper")
_DEFAULT_URLS = {
    "duckduckgo": "https://html.duckduckgo.com/html/",
    "searxng": None,
    "serper": "https://google.serper.dev/search",
}
_UA = "Mozilla/5.0 (X11; Linux x86_64) tinyagent/0.1"


class WebError(RuntimeError):
    """A web tool failed; the message says why and what to do."""


@dataclass
class SearchConfig:
    """Which provider to ask and how; ``from_env`` fills it from environment variables."""

    provider: str = "duckduckgo"
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 10.0
    max_results: int = 5

    @classmethod
    def from_env(cls, provider: str | None = None, base_url: str | None = None) -> SearchConfig:
        provider = (provider or os.environ.get("TINYAGENT_SEARCH_PROVIDER") or "duckduckgo").lower()
        if provider not in PROVIDERS:
            raise ValueError(f"unknown search provider {provider!r}; choose one of {PROVIDERS}")
        key = os.environ.get("SERPER_API_KEY") if provider == "serper" else None
        return cls(provider, base_url or os.environ.get("TINYAGENT_SEARCH_URL"), key)


def _request(method: str, url: str, timeout: float, **kw) -> requests.Response:
    try:
        r = requests.request(
            method, url, timeout=timeout, headers={"User-Agent": _UA, **kw.pop("headers", {})}, **kw
        )
    except requests.exceptions.Timeout:
        raise WebError(f"{urlparse(url).netloc} did not answer within {timeout:g} s") from None
    except requests.exceptions.ConnectionError as e:
        raise WebError(
            f"cannot reach {urlparse(url).netloc}: this machine looks offline or the host is blocked "
            f"({type(e).__name__}). Web tools need internet access; answer without them."
        ) from None
    if r.status_code >= 400:
        raise WebError(f"{urlparse(url).netloc} answered HTTP {r.status_code} for {url}")
    return r


class _DDGParser(HTMLParser):
    """Collect (title, url, snippet) from DuckDuckGo's HTML results page."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[dict] = []
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "a" and "result__a" in classes:
            href = a.get("href") or ""
            qs = parse_qs(urlparse(href).query)
            url = unquote(qs["uddg"][0]) if "uddg" in qs else href  # unwrap the redirect link
            self.results.append({"title": "", "url": url, "snippet": ""})
            self._field = "title"
        elif "result__snippet" in classes and self.results:
            self._field = "snippet"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "td", "div"):
            self._field = None

    def handle_data(self, data: str) -> None:
        if self._field and self.results:
            self.results[-1][self._field] += data


def search(query: str, config: SearchConfig) -> list[dict]:
    """``[{"title", "url", "snippet"}]`` from the configured provider."""
    url = config.base_url or _DEFAULT_URLS[config.provider]
    if config.provider == "duckduckgo":
        r = _request("POST", url, config.timeout_s, data={"q": query})
        parser = _DDGParser()
        parser.feed(r.text)
        results = parser.results
    elif config.provider == "searxng":
        if not url:
            raise WebError("provider 'searxng' needs the instance URL: set TINYAGENT_SEARCH_URL")
        r = _request(
            "GET",
            url.rstrip("/") + "/search",
            config.timeout_s,
            params={"q": query, "format": "json"},
        )
        results = [
            {"title": x.get("title", ""), "url": x.get("url", ""), "snippet": x.get("content", "")}
            for x in r.json().get("results", [])
        ]
    else:
        if not config.api_key:
            raise WebError(
                "provider 'serper' needs an API key: set SERPER_API_KEY (or use the keyless "
                "provider 'duckduckgo' or a self-hosted 'searxng')"
            )
        r = _request(
            "POST", url, config.timeout_s, json={"q": query}, headers={"X-API-KEY": config.api_key}
        )
        results = [
            {"title": x.get("title", ""), "url": x.get("link", ""), "snippet": x.get("snippet", "")}
            for x in r.json().get("organic", [])
        ]
    clean = [{k: " ".join(v.split()) for k, v in x.items()} for x in results if x.get("url")]
    return clean[: config.max_results]


class _TextParser(HTMLParser):
    _SKIP = {"script", "style", "noscript", "svg", "head", "template"}
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "pre",
    }

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self._skip += 1
        if tag == "title":
            self._in_title = True
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        if tag == "title":
            self._in_title = False
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, readable text) of an HTML page: scripts/styles dropped, whitespace collapsed."""
    p = _TextParser()
    p.feed(html)
    lines = (" ".join(line.split()) for line in "".join(p.parts).splitlines())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return " ".join(p.title.split()), text


def fetch_text(
    url: str, timeout_s: float = 10.0, max_bytes: int = 2_000_000, max_chars: int = 6000
) -> str:
    """The readable text of ``url`` (HTML converted; plain text/JSON as is), capped at ``max_chars``."""
    if urlparse(url).scheme not in ("http", "https"):
        raise WebError(f"only http(s) URLs can be fetched, got {url!r}")
    r = _request("GET", url, timeout_s, stream=True)
    try:
        data = r.raw.read(max_bytes, decode_content=True)
    finally:
        r.close()
    kind = r.headers.get("content-type", "")
    text = data.decode(r.encoding or "utf-8", errors="replace")
    if "html" in kind or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        title, text = html_to_text(text)
        text = f"# {title}\n\n{text}" if title else text
    elif not kind.startswith(("text/", "application/json")) and kind:
        raise WebError(f"{url} is {kind}, not a text page")
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n[... truncated; {len(text) - max_chars} more characters]"
    return text


def make_web_tools(provider: str | None = None, base_url: str | None = None) -> list[Tool]:
    """``web_search`` and ``fetch_page`` tools bound to one search configuration."""
    config = SearchConfig.from_env(provider, base_url)

    def web_search(query: str) -> str:
        """Search the web and return the top results (title, URL, snippet).

        Args:
            query: what to search for, e.g. "Qwen2.5 technical report".
        """
        results = search(query, config)
        if not results:
            return f"No results for {query!r}."
        return "\n".join(
            f"{i}. {x['title']}\n   {x['url']}\n   {x['snippet']}" for i, x in enumerate(results, 1)
        )

    def fetch_page(url: str) -> str:
        """Download a web page and return its readable text.

        Args:
            url: the http(s) URL of the page.
        """
        return fetch_text(url, config.timeout_s)

    return [Tool.from_function(web_search), Tool.from_function(fetch_page)]
