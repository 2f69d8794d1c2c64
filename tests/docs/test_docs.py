"""The documentation has no broken link.

docs/ is built the way `make docs` builds it (`mkdocs build --strict`, whose `validation:`
settings in mkdocs.yml turn a missing page, a missing anchor or a page left out of the
navigation into an error). The Markdown files outside docs/ (README.md and the pointers beside
it) are not part of the site, so their relative links and anchors are checked here, the way
GitHub resolves them.
"""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES_OUTSIDE_THE_SITE = ["README.md", "RELIABILITY.md", "bench/README.md"]

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks: a link or heading inside one is only an example."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def github_anchors(markdown: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces to
    hyphens, and `-1`, `-2`, ... on repeats."""
    anchors, seen = set(), Counter[str]()
    for line in prose_lines(markdown.read_text()):
        heading = HEADING.match(line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
            seen[slug] += 1
    return anchors


def relative_links(markdown: Path) -> list[str]:
    links = []
    for line in prose_lines(markdown.read_text()):
        links += LINK.findall(INLINE_CODE.sub("code", line))
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def broken_links(markdown: Path) -> list[str]:
    broken = []
    for link in relative_links(markdown):
        path, _, anchor = link.partition("#")
        target = (markdown.parent / path).resolve() if path else markdown
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in github_anchors(target):
            broken.append(f"{link}: no heading with that anchor in {target.relative_to(ROOT)}")
    return broken


def test_the_site_builds_strictly_with_no_broken_link(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert (tmp_path / "reliability" / "index.html").is_file()


@pytest.mark.parametrize("page", PAGES_OUTSIDE_THE_SITE)
def test_every_relative_link_outside_the_site_resolves(page: str) -> None:
    broken = broken_links(ROOT / page)
    assert not broken, f"{page}: {broken}"


def test_the_check_reads_the_links_and_headings_it_judges() -> None:
    """A parser that found nothing would pass everything: it finds README's links into docs/
    and no link in its code blocks, and it knows which anchors exist."""
    links = relative_links(ROOT / "README.md")
    assert {"docs/api.md#webhooks-out", "docs/reliability.md#bounds"} <= set(links)
    assert not [link for link in links if "127.0.0.1" in link]
    anchors = github_anchors(ROOT / "docs" / "api.md")
    assert {"api", "webhooks-out", "refund-policies-partial-refunds-cancelling-places"} <= anchors
    assert "no-such-heading" not in anchors
