"""Plain text, lightweight markup and source code: one page of decoded, newline-normalised text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.extract.decode import decode_text
from core.extract.errors import NothingToRead, read_capped
from core.extract.text_headings import (
    latex_headings,
    markdown_headings,
    org_headings,
    rst_headings,
)
from core.types import Document, Heading, Page

MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mdx"})
RST_EXTENSIONS = frozenset({".rst", ".rest"})
ORG_EXTENSIONS = frozenset({".org"})
LATEX_EXTENSIONS = frozenset({".tex", ".ltx"})
PLAIN_EXTENSIONS = frozenset({".txt", ".text", ".log", ".nfo", ".srt", ".vtt"})
CODE_EXTENSIONS = frozenset(
    {
        # data and configuration
        ".json", ".jsonl", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf",
        ".properties", ".xml", ".bib",
        # programming languages
        ".py", ".pyi", ".ipynb", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".java",
        ".kt", ".kts", ".scala", ".groovy", ".c", ".h", ".cpp", ".cc", ".cxx", ".hpp",
        ".hh", ".cs", ".fs", ".go", ".rs", ".rb", ".php", ".pl", ".pm", ".lua", ".r",
        ".jl", ".swift", ".m", ".mm", ".dart", ".ex", ".exs", ".erl", ".hs", ".ml",
        ".clj", ".el", ".lisp", ".scm", ".zig", ".nim", ".v", ".vhd", ".sol",
        # shells, build files, queries, styles, templates
        ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".cmd", ".mk", ".cmake",
        ".gradle", ".sql", ".graphql", ".proto", ".css", ".scss", ".sass", ".less",
        ".vue", ".svelte", ".j2", ".jinja",
    }
)  # fmt: skip
TEXT_EXTENSIONS = (
    MARKDOWN_EXTENSIONS
    | RST_EXTENSIONS
    | ORG_EXTENSIONS
    | LATEX_EXTENSIONS
    | PLAIN_EXTENSIONS
    | CODE_EXTENSIONS
)
# Extensionless files people keep as text; anything else without an extension is sniffed.
TEXT_FILE_NAMES = frozenset(
    {"readme", "license", "licence", "copying", "authors", "changelog", "changes", "news",
     "todo", "notes", "makefile", "dockerfile", "containerfile", "gemfile", "rakefile",
     "procfile", "vagrantfile", "justfile"}
)  # fmt: skip

# Endings after such a name that say the bytes are packed or not text at all (README.gz,
# LICENSE.pdf is read by its own kind before this is asked).
_NOT_TEXT_ENDINGS = frozenset(
    {".gz", ".bz2", ".xz", ".zst", ".lz", ".lzma", ".z", ".zip", ".7z", ".rar", ".tar",
     ".tgz", ".deb", ".rpm", ".bin", ".exe", ".dll", ".so", ".dylib", ".o", ".a", ".jar",
     ".class", ".pyc", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp",
     ".heic", ".ico", ".svg", ".mp3", ".mp4", ".wav", ".ogg", ".flac", ".mov", ".avi",
     ".mkv", ".webm", ".sig", ".asc", ".gpg", ".pgp", ".db", ".sqlite", ".swp", ".doc",
     ".xls", ".ppt", ".pages", ".numbers", ".key", ".psd", ".ai", ".dmg", ".iso"}
)  # fmt: skip


def is_text_by_name(name: str) -> bool:
    """Whether a file is text by the name people give such files: README, LICENSE, Makefile
    and the like, alone or with a variant after the first dot (README.Debian, LICENSE.MIT,
    CHANGES.old, NOTES.2019), unless its last ending says otherwise (README.gz).

    >>> [is_text_by_name(n) for n in ("README", "README.Debian", "notes.2019", "README.gz")]
    [True, True, True, False]
    >>> is_text_by_name("report.draft")
    False
    """
    lowered = name.lower()
    stem, dot, _ = lowered.partition(".")
    if stem not in TEXT_FILE_NAMES:
        return False
    return not dot or lowered[lowered.rindex("."):] not in _NOT_TEXT_ENDINGS


DEFAULT_MAX_BYTES = 20 * 2**20  # larger "text" files are logs or dumps nobody searches by meaning

_Finder = Callable[[str], tuple[list[Heading], str | None]]


def _rst_with_title(text: str) -> tuple[list[Heading], str | None]:
    return rst_headings(text), None


def _no_headings(_text: str) -> tuple[list[Heading], str | None]:
    return [], None


_KINDS: dict[str, tuple[str, _Finder]] = {
    **{ext: ("markdown", markdown_headings) for ext in MARKDOWN_EXTENSIONS},
    **{ext: ("rst", _rst_with_title) for ext in RST_EXTENSIONS},
    **{ext: ("org", org_headings) for ext in ORG_EXTENSIONS},
    **{ext: ("latex", latex_headings) for ext in LATEX_EXTENSIONS},
    **{ext: ("code", _no_headings) for ext in CODE_EXTENSIONS},
}


def normalise_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` become ``\\n``; all offsets are into the result."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def extract_text(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """One page (number None) of the file's text, with headings for the markup it knows.

    >>> import tempfile
    >>> note = Path(tempfile.mkdtemp()) / "note.md"
    >>> _ = note.write_text("# Plan\\r\\nShip it.\\r\\n")
    >>> doc = extract_text(note)
    >>> doc.kind, doc.pages[0].text, doc.pages[0].headings[0].start, doc.title
    ('markdown', '# Plan\\nShip it.\\n', 2, 'Plan')
    """
    text = normalise_newlines(decode_text(read_capped(path, max_bytes)))
    if not text.strip():
        raise NothingToRead("empty file (only blank space)")
    kind, find_headings = _KINDS.get(path.suffix.lower(), ("text", _no_headings))
    headings, title = find_headings(text)
    if title is None and headings:
        title = min(headings, key=lambda heading: heading.level).text
    return Document(path=path, kind=kind, pages=[Page(None, text, headings)], title=title)
