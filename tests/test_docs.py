"""The code examples of the documentation run as they stand.

The convention, for everyone who edits ``README.md`` or a page of ``docs/``:

- every fenced block opened with exactly `` ```python `` is run, as one test;
- a block whose opening fence follows the line ``<!-- not run -->`` (blank lines may stand
  between them) is not run: use it for fragments, signatures and code that needs a
  server; blocks in other languages (``toml``, ``console``, plain) are never run;
- each block runs on its own, in a fresh namespace, with a fresh temporary directory as
  the working directory, the ``OPENPROTOCOLS_*`` variables unset, and the example plugin's
  ``src/`` directory importable (``import openprotocols_example``);
- a block passes when it runs without an exception, so examples check themselves with
  ``assert``. Tracebacks name the Markdown file and its line;
- a block (of any language) whose first line is ``# excerpt from <path>`` (``<path>``
  relative to the repository) is not run but must be a verbatim copy of consecutive lines
  of that file, at any indentation, so a walk-through cannot drift from the code.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "docs" / "backends").glob("*.md")),
]
EXAMPLE_SRC = ROOT / "docs" / "example-plugin" / "src"
NOT_RUN = "<!-- not run -->"
EXCERPT = re.compile(r"^# excerpt from (?P<path>\S+)\n")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[^`]*)$")
ENVIRONMENT = (
    "OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD",
    "OPENPROTOCOLS_LOAD_PLUGINS",
    "OPENPROTOCOLS_TRACE_HOOKS",
)


class Block(NamedTuple):
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # the 1-based line of the opening fence
    info: str
    source: str
    not_run: bool

    @property
    def runs(self) -> bool:
        """Whether the convention says to run this block."""
        return self.info == "python" and not self.not_run and not EXCERPT.match(self.source)


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of ``path``, with the marker that may precede it."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        before = [line.strip() for line in lines[:index] if line.strip()]
        found.append(
            Block(
                path=path,
                line=index + 1,
                info=opening["info"].strip(),
                source=textwrap.dedent("\n".join(lines[index + 1 : end])),
                not_run=bool(before) and before[-1] == NOT_RUN,
            )
        )
        index = end + 1
    return found


ALL_BLOCKS = [block for path in DOCS if path.exists() for block in blocks(path)]
RUNNABLE = [block for block in ALL_BLOCKS if block.runs]
EXCERPTS = [block for block in ALL_BLOCKS if EXCERPT.match(block.source)]


# Reference pages whose examples need servers or only show signatures.
NO_RUNNABLE_NEEDED = {"architecture.md", "discovery.md", "testing.md"}


@pytest.mark.parametrize(
    "path", [p for p in DOCS if p.name not in NO_RUNNABLE_NEEDED], ids=lambda p: p.name
)
def test_every_page_has_runnable_examples(path: Path) -> None:
    """Each page exists and has runnable examples, so a parsing slip cannot hide them."""
    assert any(block.runs for block in blocks(path))


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"{b.path.name}:{b.line}" for b in RUNNABLE])
def test_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example runs without an exception (its asserts included)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    imported = set(sys.modules)
    # Leading newlines make the line numbers of a traceback those of the Markdown file.
    code = compile("\n" * block.line + block.source, str(block.path), "exec")
    try:
        exec(code, {"__name__": f"docs_{block.path.stem}_{block.line}"})  # noqa: S102
    finally:
        for name in set(sys.modules) - imported:
            if name.split(".")[0] == "openprotocols_example":
                del sys.modules[name]


@pytest.mark.parametrize("block", EXCERPTS, ids=[f"{b.path.name}:{b.line}" for b in EXCERPTS])
def test_excerpt_matches_its_file(block: Block) -> None:
    """An excerpt is a verbatim copy of consecutive lines of the file it names."""
    header = EXCERPT.match(block.source)
    assert header is not None
    excerpt = block.source[header.end() :]
    text = (ROOT / header["path"]).read_text(encoding="utf-8")
    indents = ("", "    ", "        ")
    assert any(textwrap.indent(excerpt, indent) in text for indent in indents), excerpt


def test_pages_have_excerpts() -> None:
    """plugins.md quotes the example plugin, so the excerpt check has work to do."""
    assert len([b for b in EXCERPTS if b.path.name == "plugins.md"]) >= 5


def test_markers_are_recognised(tmp_path: Path) -> None:
    """The not-run marker skips exactly the block after it, and only python blocks run."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nrun = 1\n```\n\n<!-- not run -->\n\n```python\nraise SystemExit\n```\n"
        "Text.\n```python\nrun = 2\n```\n```toml\n[x]\n```\n  ```python\n  indented = 3\n  ```\n"
        "```python\n# excerpt from x.py\nquoted = 4\n```\n"
    )
    found = blocks(page)
    assert [(b.line, b.info, b.runs) for b in found] == [
        (1, "python", True),
        (7, "python", False),
        (11, "python", True),
        (14, "toml", False),
        (17, "python", True),
        (20, "python", False),
    ]
    assert found[-2].source == "indented = 3"
