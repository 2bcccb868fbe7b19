"""The documentation stays true to the code: every method is in the API index (and nothing
else is), every link in the index lands on a heading, and every comment that cites
docs/reference/ names a page and a section that exist — never a file outside the
repository."""

from __future__ import annotations

import re
from pathlib import Path

from b24tel.app import build_registry

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "docs" / "api" / "README.md"
CITATION = re.compile(r'docs/reference/([a-z]+\.md)(?:,\s+"([^"]+)")?')
# spec files of the reference portal that live outside this repository
OUTSIDE = re.compile(r"behavior\.md|compat\.md|api-reference/|limits\.md|design\.md|\.\./shared")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(page: Path) -> list[str]:
    return [
        line.lstrip("#").strip() for line in page.read_text().splitlines() if line.startswith("#")
    ]


def table_rows(section: str) -> list[list[str]]:
    text = INDEX.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def expand(cell: str) -> list[str]:
    """`crm.lead.add` / `.get` → crm.lead.add, crm.lead.get."""
    names = re.findall(r"`([^`]+)`", cell)
    first = names[0]
    base = first.rsplit(".", 1)[0]
    return [first] + [base + n for n in names[1:]]


def test_every_method_is_in_the_index_and_nothing_else() -> None:
    registry = build_registry()
    documented: dict[str, str] = {}
    for cells in table_rows("Methods"):
        for name in expand(cells[0]):
            assert name not in documented, f"{name} listed twice"
            documented[name] = cells[1]
    registered = {spec.name: spec for spec in registry.all()}
    assert sorted(documented) == sorted(registered)
    for name, scopes in documented.items():
        access = registered[name].access
        expected = {access.scope, *access.alt_scopes}
        assert set(re.split(r",\s*|\s+or\s+", scopes)) == expected, name


def test_every_endpoint_is_in_the_index() -> None:
    cells = " ".join(row[0] for row in table_rows("Endpoints"))
    for spec in build_registry().endpoints():
        shown = spec.path or f"/rest/{spec.name}.json"
        assert shown in cells, spec.name


def test_index_links_land_on_headings() -> None:
    for match in re.finditer(r"\]\(([^)#]+)#([^)]+)\)", INDEX.read_text()):
        page = (INDEX.parent / match[1]).resolve()
        assert match[2] in {slug(h) for h in headings(page)}, match[0]


def _sources() -> list[Path]:
    files = [*ROOT.joinpath("b24tel").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    files += ROOT.joinpath("bench").rglob("*.py")
    files += ROOT.joinpath("docs").rglob("*.md")
    return [f for f in files if f != Path(__file__).resolve()]


def test_citations_point_inside_the_repository() -> None:
    problems = []
    for path in _sources():
        text = path.read_text()
        where = path.relative_to(ROOT)
        if OUTSIDE.search(text):
            problems.append(f"{where}: cites a file outside the repository")
        for match in CITATION.finditer(re.sub(r"\n\s*(#\s*)?", " ", text)):
            page = ROOT / "docs" / "reference" / match[1]
            if not page.exists() or (match[2] and match[2] not in headings(page)):
                problems.append(f"{where}: {match[0]}")
    assert not problems, "\n".join(problems)


LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_links_between_pages_land() -> None:
    """A link in README or docs/ names a file that exists and, with an anchor, a heading in
    it: a renamed section breaks the build, not the reader."""
    problems = []
    for page in [ROOT / "README.md", *ROOT.joinpath("docs").rglob("*.md")]:
        for match in LINK.finditer(page.read_text()):
            target = match[1]
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                problems.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in map(slug, headings(file)):
                problems.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not problems, "\n".join(problems)
