"""Every relative link in the project's Markdown files points at a file that exists, and every
``#anchor`` at a heading of that file (GitHub's anchor rule), so moving a docs page or renaming a
heading cannot leave a dead link behind."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".git", ".venv", "node_modules", "mlruns", ".pytest_cache"}
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_files() -> list[Path]:
    """The tracked-looking Markdown files of the project (no virtual environments, no VCS)."""
    return sorted(
        path
        for path in ROOT.rglob("*.md")
        if not SKIPPED_DIRS.intersection(part for part in path.relative_to(ROOT).parts)
        and not any(part.startswith("ci-") for part in path.relative_to(ROOT).parts)
    )


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, markup and punctuation dropped, spaces -> '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 suffixes for repeats."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match is None:
            continue
        anchor = github_anchor(match.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def relative_links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of each relative link outside code fences."""
    links: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
        for match in LINK.finditer(line):
            target = match.group(1) or match.group(2)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
                continue
            links.append((number, target))
    return links


def test_the_link_checker_sees_pages_and_anchors():
    """The checker itself: it finds the docs pages, their headings and the README's links."""
    files = markdown_files()
    assert ROOT / "README.md" in files and ROOT / "docs" / "README.md" in files
    assert "layout" in anchors(ROOT / "README.md")
    assert github_anchor("The bar, pair by pair") == "the-bar-pair-by-pair"
    assert github_anchor("`costmodel.adapt`: new hardware") == "costmodeladapt-new-hardware"
    assert any(target.startswith("docs/") for _, target in relative_links(ROOT / "README.md"))


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    """Each relative link of the page names an existing file and, if it has one, an anchor there."""
    broken = []
    for number, target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / unquote(file_part)).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{page.relative_to(ROOT)}:{number}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{page.relative_to(ROOT)}:{number}: {target} (no heading #{anchor})")
    assert not broken, "dead links:\n" + "\n".join(broken)
