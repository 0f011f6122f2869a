"""Seeded mutations of JSON documents and their text, for the fuzz tests.

One ``random.Random`` drives every choice, so a seed replays a run exactly. The mutations are the
ways input went wrong in issue 10's fuzzing: truncation, duplicate keys (first or last copy
changed), deep nesting, wrong types, huge values, odd unicode, random characters and splices.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, Final

from payouts.domain import strict_json

type Json = Any
type Path = tuple[str | int, ...]

# Strings that have broken parsers and validators: controls, a BOM, bidi overrides, non-BMP
# characters, combining marks, an escaped lone surrogate, and separators of signed strings.
ODD_TEXT: Final = (
    "",
    " ",
    "\u0000",
    "\ufeff",
    "\u202e",
    "\u00a0",
    "e\u0301",
    "中文名字",
    "😀" * 3,
    "\\ud800",
    "a&b=c",
    "&amount=1",
    '"}',
    "\n",
    "PO-1",
    "X" * 200,
)
ODD_VALUES: Final[tuple[Json, ...]] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    1e308,
    10**40,
    "",
    "50000",
    "1.00",
    [],
    {},
    [1, "a", None],
    {"a": {"b": []}},
    "3",
    3,
)
DEPTHS: Final = (17, 40, 1_100, 3_000)


def paths(document: Json, prefix: Path = ()) -> list[Path]:
    """Every path to a value inside ``document`` (not the document itself)."""
    found: list[Path] = []
    if isinstance(document, dict):
        for key, value in document.items():
            found.append((*prefix, key))
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.append((*prefix, index))
            found.extend(paths(value, (*prefix, index)))
    return found


def containers(document: Json, prefix: Path = ()) -> list[Path]:
    """Paths of every object inside ``document``, the document itself first."""
    found: list[Path] = [prefix] if isinstance(document, dict) else []
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(containers(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(containers(value, (*prefix, index)))
    return found


def get(document: Json, path: Path) -> Json:
    """The value at ``path``."""
    node = document
    for part in path:
        node = node[part]
    return node


def with_value(document: Json, path: Path, value: Json) -> Json:
    """A copy of ``document`` with ``path`` set to ``value``."""
    copy = json.loads(json.dumps(document))
    if not path:
        return value
    parent = get(copy, path[:-1])
    parent[path[-1]] = value
    return copy


def without(document: Json, path: Path) -> Json:
    """A copy of ``document`` without ``path``."""
    copy = json.loads(json.dumps(document))
    parent = get(copy, path[:-1])
    del parent[path[-1]]
    return copy


def dumps_with_duplicate(document: Json, at: Path, key: str, value: Json, *, first: bool) -> str:
    """``document`` as JSON text whose object at ``at`` also carries ``key: value``, before
    (``first``) or after its own members: a second copy of a key, or a key once."""

    def emit(node: Json, path: Path) -> str:
        if isinstance(node, dict):
            members = [f"{json.dumps(k)}:{emit(v, (*path, k))}" for k, v in node.items()]
            if path == at:
                extra = f"{json.dumps(key)}:{json.dumps(value)}"
                members = [extra, *members] if first else [*members, extra]
            return "{" + ",".join(members) + "}"
        if isinstance(node, list):
            return "[" + ",".join(emit(v, (*path, i)) for i, v in enumerate(node)) + "]"
        return json.dumps(node)

    return emit(document, ())


class Mutator:
    """Mutations of a JSON document, each returning the mutated JSON text."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._document_mutations: tuple[Callable[[Json], str], ...] = (
            self.wrong_type,
            self.drop_field,
            self.unknown_field,
            self.huge_value,
            self.odd_text,
            self.duplicate_key,
            self.duplicate_key,
            self.deep_nesting,
        )
        self._text_mutations: tuple[Callable[[str], str], ...] = (
            self.truncate,
            self.flip_characters,
            self.insert_garbage,
        )

    def mutate(self, document: Json) -> str:
        """One to three random mutations of ``document``, as text."""
        text = self.rng.choice(self._document_mutations)(document)
        for _ in range(self.rng.choice((0, 0, 1, 2))):
            parsed = _parsed(text)
            if parsed is not None and self.rng.random() < 0.6:
                text = self.rng.choice(self._document_mutations)(parsed)
            else:
                text = self.rng.choice(self._text_mutations)(text)
        return text

    # ---- on the document --------------------------------------------------------------------

    def wrong_type(self, document: Json) -> str:
        """A value replaced by one of another type (or an odd one of the same)."""
        path = self._path(document)
        if path is None:
            return json.dumps(self.rng.choice(ODD_VALUES))
        return json.dumps(with_value(document, path, self.rng.choice(ODD_VALUES)))

    def drop_field(self, document: Json) -> str:
        """A member or element removed."""
        path = self._path(document)
        return json.dumps(document if path is None else without(document, path))

    def unknown_field(self, document: Json) -> str:
        """A member nobody documented, in some object."""
        at = self.rng.choice(containers(document) or [()])
        key = self.rng.choice(("extra", "payout_id_2", "Payout_Id", "sign_type", "amount "))
        node = get(document, at) if at else document
        if not isinstance(node, dict) or key in node:
            return json.dumps(document)
        return json.dumps(with_value(document, (*at, key), self.rng.choice(ODD_VALUES)))

    def huge_value(self, document: Json) -> str:
        """A very long string or a very large number."""
        path = self._path(document)
        size = self.rng.choice((81, 257, 4_000, 20_000, 70_000))
        value: Json = self.rng.choice(("9" * size, "x" * size, 10 ** self.rng.randint(16, 60)))
        if path is None:
            return json.dumps(value)
        return json.dumps(with_value(document, path, value))

    def odd_text(self, document: Json) -> str:
        """A string value (or a key) replaced by odd unicode."""
        path = self._path(document)
        odd = self.rng.choice(ODD_TEXT)
        if path is None:
            return json.dumps(odd)
        if isinstance(path[-1], str) and self.rng.random() < 0.3:
            value = get(document, path)
            return json.dumps(with_value(without(document, path), (*path[:-1], odd), value))
        return json.dumps(with_value(document, path, odd), ensure_ascii=self.rng.random() < 0.5)

    def duplicate_key(self, document: Json) -> str:
        """An object carrying one of its keys twice, the other copy first or last."""
        objects = [path for path in containers(document) if get(document, path)]
        if not objects:
            return json.dumps(document)
        at = self.rng.choice(objects)
        node = get(document, at)
        key = self.rng.choice(list(node))
        value = self.rng.choice((*ODD_VALUES, node[key]))
        return dumps_with_duplicate(document, at, key, value, first=self.rng.random() < 0.5)

    def deep_nesting(self, document: Json) -> str:
        """A value (or the whole document) wrapped in deeply nested arrays or objects."""
        depth = self.rng.choice(DEPTHS)
        opener, closer = self.rng.choice((("[", "]"), ('{"a":', "}")))
        nested = opener * depth + "1" + closer * depth
        path = self._path(document)
        if path is None or self.rng.random() < 0.2:
            return nested
        marker = "\u0001nested\u0001"
        return json.dumps(with_value(document, path, marker)).replace(json.dumps(marker), nested)

    # ---- on the text ------------------------------------------------------------------------

    def truncate(self, text: str) -> str:
        """The text cut short anywhere (empty included)."""
        return text[: self.rng.randint(0, max(0, len(text) - 1))]

    def flip_characters(self, text: str) -> str:
        """A few characters replaced by random ones."""
        if not text:
            return text
        chars = list(text)
        for _ in range(self.rng.randint(1, 4)):
            chars[self.rng.randrange(len(chars))] = self.rng.choice('{}[]",:\\&=0a \u00e9\u4e2d')
        return "".join(chars)

    def insert_garbage(self, text: str) -> str:
        """Random text inserted somewhere."""
        at = self.rng.randint(0, len(text))
        garbage = self.rng.choice((",", '"x":1', "]", "}", "NaN", "\\u0000", "//", "\t"))
        return text[:at] + garbage + text[at:]

    def _path(self, document: Json) -> Path | None:
        every = paths(document)
        return self.rng.choice(every) if every else None


def _parsed(text: str) -> Json | None:
    # Strict and shallow, so the walks above never meet a document they cannot recurse into.
    try:
        return strict_json.loads(text, max_depth=30)
    except ValueError:
        return None
