"""Read YAML safely and keep the line and column of every key and value.

Only plain data comes out: dict (str keys, file order), list, str, int, float, bool, None and
dates. Everything else (Python or custom tags, duplicate or non-text keys, merge keys, alias
bombs, deep nesting, huge files, bytes that are not UTF-8, syntax errors, several documents)
raises `InputError` with `FILE:LINE:COLUMN` problems, never another exception.
"""

from __future__ import annotations

import codecs
import copy
import os
import re
from dataclasses import dataclass, field
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.errors import InputError, Problem, dotted, show_value
from sim.userfiles import UnreadableFileError, read_user_file, shown_name

MAX_BYTES = 2 * 1024 * 1024  # scenarios are a few KiB; world-data tables stay far below this
MAX_DEPTH = 64  # nested lists/mappings; keeps PyYAML's recursive composer far from the stack limit
MAX_NODES = 200_000  # values after alias expansion: stops "billion laughs" in well under a second

Mark = tuple[int, int]
_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_AS_TEXT = {_STD + "value", _STD + "merge"}  # a plain `=` or `<<` outside a key is just text
_KIND = {MappingNode: "mapping", SequenceNode: "list", ScalarNode: "value"}
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # the line breaks PyYAML counts in its marks
_BAD = object()  # a scalar that could not be read (a problem is already recorded)
DEEP = f"lists and mappings nested more than {MAX_DEPTH} levels deep"
BOMB = f"document expands to more than {MAX_NODES:,} values (alias bomb?)"
CYCLE = "alias refers to a value that contains it (a recursive structure)"
MERGE = "merge keys ('<<') are not supported: write the fields out, or use `extends:`"
EMPTY = "file is empty: a scenario is a mapping of fields like `name:` and `time:`"
TAB = "tab character used for indentation; YAML needs spaces"


@dataclass
class Located:
    """Plain data read from `file`, with the 1-based (line, column) of its keys and values."""

    data: Any
    file: str
    value_marks: dict[tuple, Mark] = field(default_factory=dict)
    key_marks: dict[tuple, Mark] = field(default_factory=dict)

    def mark(self, path: tuple) -> Mark:
        """The key's mark, else the value's, else the nearest ancestor's, else (1, 1)."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            found = self.key_marks.get(path[:end]) or self.value_marks.get(path[:end])
            if found:
                return found
        return (1, 1)

    def value_mark(self, path: tuple) -> Mark:
        """The value's mark, else as `mark`."""
        return self.value_marks.get(tuple(path)) or self.mark(path)

    def locate(self, path: tuple, at_key: bool = False) -> tuple[str, int, int]:
        """(file, line, column) of a key (`at_key`) or of its value: where a problem is reported."""
        line, column = self.mark(path) if at_key else self.value_mark(path)
        return self.file, line, column

    def problem(self, path: tuple, message: str, *, at_value: bool = False) -> Problem:
        line, column = self.value_mark(path) if at_value else self.mark(path)
        return Problem(self.file, line, column, dotted(tuple(path)), message)


class _StopError(Exception):
    """A problem after which reading cannot go on (too deep, too many values)."""

    def __init__(self, mark: Any, message: str):
        super().__init__(message)
        self.where, self.message = _mark(mark), message


def _mark(mark: yaml.Mark | None) -> Mark:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _line_col(text: str, index: int) -> Mark:
    line, start = 1, 0
    for brk in _BREAK.finditer(text, 0, index):
        line, start = line + 1, brk.end()
    return line, index - start + 1


def _too_big(size: int) -> str:
    return f"file is too big: {size:,} bytes; the limit is {MAX_BYTES:,} bytes"


class _Loader(yaml.SafeLoader):
    """SafeLoader that stops past MAX_DEPTH nesting and marks each alias where it is written."""

    depth = nodes = 0

    def fetch_flow_collection_start(self, token_class: type) -> None:
        # The scanner looks ahead past every open '[' or '{' (quadratic time): stop it early.
        if self.flow_level >= MAX_DEPTH:
            raise _StopError(self.get_mark(), DEEP)
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            # A shallow copy carrying the `*name` mark (children are shared with the anchor), so
            # problems in an aliased value point where the user used it.
            node = copy.copy(super().compose_node(parent, index))
            if node is not None:
                node.start_mark = event.start_mark
            return node
        self.nodes += 1  # a huge plain document: stop early, PyYAML composes ~50k values a second
        if self.nodes > MAX_NODES:
            raise _StopError(event.start_mark, f"document has more than {MAX_NODES:,} values")
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        # PyYAML composes recursively: refuse deep nesting before Python's stack runs out.
        if self.depth >= MAX_DEPTH:
            raise _StopError(event.start_mark, DEEP)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _compose_with_libyaml(text: str) -> tuple[Any, Node | None] | None:
    """(loader, root node) composed by libyaml's C parser, ~10x faster than PyYAML's Python composer
    with the same marks; None when the document is better left to `_Loader`: no libyaml, an alias
    (`_Loader` marks each alias where it is written; libyaml gives the anchor's node itself), tabs,
    text libyaml refuses, or more values or deeper nesting than `_Loader` allows. `_Loader` then
    reads it again and reports any problem as before."""
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None or "\t" in text:
        return None
    try:
        loader = c_loader(text)  # encodes to UTF-8: lone surrogates fail here, and `_Loader` says where
    except ValueError:
        return None
    try:
        root = loader.get_single_node()
    except (yaml.YAMLError, ValueError):  # syntax, control characters, libyaml's own nesting limit
        loader.dispose()
        return None
    pending: list[tuple[Node, int]] = [(root, 0)] if root is not None else []
    seen: set[int] = set()  # a node met twice is an alias (or a cycle)
    while pending:  # depth without recursion (the builder recurses) and the node count, as `_Loader`'s limits
        node, depth = pending.pop()
        if id(node) in seen or len(seen) >= MAX_NODES or (
            isinstance(node, MappingNode | SequenceNode) and depth >= MAX_DEPTH
        ):
            loader.dispose()
            return None
        seen.add(id(node))
        if isinstance(node, MappingNode | SequenceNode):
            children = node.value if isinstance(node, SequenceNode) else [n for pair in node.value for n in pair]
            pending.extend((child, depth + 1) for child in children)
    return loader, root


class _Builder:
    """Turns composed nodes into plain data, recording marks and collecting problems."""

    def __init__(self, loader: Any, located: Located):  # `_Loader`, or libyaml's (`_compose_with_libyaml`)
        self.loader, self.located = loader, located
        self.problems: list[Problem] = []
        self.sizes: dict[int, int] = {}  # expanded size per collection (aliases share node.value)
        self.building: set[int] = set()  # collections being visited: an alias back into one is a cycle

    def add(self, node: Node, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.located.file, *_mark(node.start_mark), dotted(path), message))

    def size(self, node: Node) -> int:
        # Values `node` expands to, an aliased tree counting again at each use ("billion laughs").
        # Memoised: a bomb is caught in time proportional to its text, at the first value too big.
        # Anchors precede their aliases, so the recursion is no deeper than the text's nesting.
        if isinstance(node, ScalarNode):
            return 1
        key = id(node.value)
        if key not in self.sizes:
            if key in self.building:
                raise _StopError(node.start_mark, CYCLE)
            self.building.add(key)
            children = node.value if isinstance(node, SequenceNode) else [n for kv in node.value for n in kv]
            self.sizes[key] = 1 + sum(self.size(child) for child in children)
            self.building.discard(key)
            if self.sizes[key] > MAX_NODES:
                raise _StopError(node.start_mark, BOMB)
        return self.sizes[key]

    def build(self, node: Node, path: tuple, depth: int) -> Any:
        self.located.value_marks[path] = _mark(node.start_mark)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if node.tag != _STD + ("map" if isinstance(node, MappingNode) else "seq"):
            return self.bad_tag(node, path)
        if depth >= MAX_DEPTH:  # aliases can nest deeper than the text itself
            raise _StopError(node.start_mark, DEEP)
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        return self.mapping(cast(MappingNode, node), path, depth)

    def mapping(self, node: MappingNode, path: tuple, depth: int) -> dict:
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in first:
                where = f"(first at line {first[key]})"
                self.add(key_node, (*path, key), f"duplicate key {show_value(key)} {where}")
                continue
            first[key] = key_node.start_mark.line + 1
            self.located.key_marks[(*path, key)] = _mark(key_node.start_mark)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def key(self, node: Node, path: tuple) -> str | None:
        """The key's text, or None after recording why it cannot be one."""
        if node.tag == _STD + "merge":  # merged entries would carry marks from elsewhere; use `extends:`
            self.add(node, path, MERGE)
            return None
        if not isinstance(node, ScalarNode):
            self.add(node, path, f"keys must be text, got a {_KIND[type(node)]}")
            return None
        key = self.scalar(node, path)
        if isinstance(key, str):
            return key
        if key is _BAD:
            return None
        if node.value == "":
            self.add(node, path, "keys must be text, got an empty key (is a name missing before ':'?)")
            return None
        word = {bool: "true/false", type(None): "null", int: "a number", float: "a number"}
        self.add(node, path, f"keys must be text, got {node.value} (read as "
                 f"{word.get(type(key), 'a date')}); write '{node.value}' in quotes if it is a name")
        return None

    def scalar(self, node: ScalarNode, path: tuple) -> Any:
        if node.tag in _AS_TEXT:
            return node.value
        if node.tag not in _SCALAR_TAGS:
            return self.bad_tag(node, path)
        try:
            return self.loader.yaml_constructors[node.tag](self.loader, node)
        except (ArithmeticError, LookupError, ValueError, TypeError, AttributeError) as exc:
            # int('x'), date(2024, 13, 1), bool 'maybe', '' as int, !!timestamp on text, 5000 digits
            kind = node.tag[len(_STD):].replace("timestamp", "date")
            detail = f" ({exc})" if kind == "date" or "digits" in str(exc) else ""
            self.add(node, path, f"{show_value(node.value)} is not a valid {kind}{detail}")
            return _BAD

    def bad_tag(self, node: Node, path: tuple) -> Any:
        shown = "!!" + node.tag[len(_STD):] if node.tag.startswith(_STD) else node.tag
        if node.tag in _SCALAR_TAGS | {_STD + "map", _STD + "seq"}:
            self.add(node, path, f"tag '{shown}' cannot be used on a {_KIND[type(node)]}")
        else:  # Python objects, custom '!tags', !!binary, !!set, !!omap...
            self.add(node, path, f"tag '{shown}' is not allowed: scenarios are plain data (safe YAML only)")
        return _BAD


# PyYAML's token names and jargon, in plain words (applied in order).
_PLAIN = [
    ("but got", "but found"), ("'<block end>'", "the end of the indented block"),
    ("<block end>", "the end of the indented block"), ("'<block mapping start>'", "an indented mapping"),
    ("'<block sequence start>'", "an indented list"), ("'<scalar>'", "a value"),
    ("'<stream end>'", "the end of the file"), ("end of stream", "end of the file"),
    ("'<document start>'", "'---'"), ("'<document end>'", "'...'"), ("'<alias>'", "an alias (*name)"),
    ("'<anchor>'", "an anchor (&name)"), ("'<tag>'", "a tag (!name)"), ("'<directive>'", "a directive"),
    ("found '?'", "found a new key"), ("found '-'", "found a list item '-'"),
    ("mapping values are not allowed here", "':' is not allowed here (check the indentation, or quote "
     + "text that contains ': ')"),
    ("that cannot start any token", "that cannot start a value (put the value in quotes)"),
    ("a node", "a value"), ("scalar", "text"), ("flow sequence", "[...] list"),
    ("flow mapping", "{...} mapping"), ("block collection", "indented block"),
    ("block mapping", "indented mapping"), ("simple key", "key"), ("while scanning an ", "in the "),
    ("while scanning a ", "in the "), ("while parsing a ", "in the "),
    ("found unexpected end of the file", "the file ends too early"),
]


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = _mark(mark)
    problem, context = exc.problem or "", exc.context or ""
    buffer, at = (mark.buffer or "", mark.pointer) if mark is not None else ("", 0)
    # The text of this line before the problem: a tab there with nothing else means tab indentation.
    indent = buffer[max(buffer.rfind("\n", 0, at), buffer.rfind("\r", 0, at)) + 1: at]
    tab = buffer[at: at + 1] == "\t" or "'\\t'" in problem
    if not indent.strip(" \t") and (tab or "\t" in indent):
        message = TAB
    elif tab:
        message = "tab character not allowed here; YAML needs spaces"
    elif context == "expected a single document in the stream":
        message = "a second YAML document starts here; the file must hold exactly one (remove the '---')"
    elif context.startswith("found duplicate anchor"):
        name = context.split("'")[1] if "'" in context else "?"
        message = f"anchor &{name} is defined twice (first at line {_mark(exc.context_mark)[0]})"
    elif problem.startswith("found undefined alias"):
        name = problem.split("'")[1] if "'" in problem else "?"
        message = f"alias *{name} is used before any anchor &{name} defines it"
    else:
        message = problem or context or "not valid YAML"
        if context and exc.context_mark is not None and exc.problem_mark is not None:
            message += f" ({context} that starts at line {exc.context_mark.line + 1}, " \
                       f"column {exc.context_mark.column + 1})"
        for jargon, plain in _PLAIN:
            message = message.replace(jargon, plain)
        if "<block end>" in problem:
            message += "; check the indentation"
    return Problem(file, line, column, "", message)


def load_yaml_text(text: str, file: str) -> Located:
    """Read one YAML document from `text`; `file` is the name used in messages."""
    size = len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise InputError.single(file, _too_big(size))
    text = text.removeprefix("\ufeff")
    located = Located(None, file)
    try:
        fast = _compose_with_libyaml(text)
        loader = fast[0] if fast is not None else _Loader(text)  # `_Loader` checks control characters at once
        try:
            root = fast[1] if fast is not None else loader.get_single_node()
            if root is None or (root.tag == _STD + "null" and root.value == ""):
                raise InputError.single(file, EMPTY)
            builder = _Builder(loader, located)
            builder.size(root)  # refuse alias bombs and cycles before building anything
            located.data = builder.build(root, (), 0)
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character or "\0")
        raise InputError.single(file, f"character U+{code:04X} is not allowed in YAML text (a control "
                                "character or invalid Unicode)", line, column) from None
    except yaml.MarkedYAMLError as exc:
        raise InputError([_syntax_problem(exc, file)]) from None
    except _StopError as exc:
        raise InputError.single(file, exc.message, *exc.where) from None
    if builder.problems:
        raise InputError(builder.problems)
    return located


def load_yaml_bytes(data: bytes, file: str) -> Located:
    """Read one YAML document from UTF-8 bytes (a leading BOM is fine)."""
    if len(data) > MAX_BYTES:
        raise InputError.single(file, _too_big(len(data)))
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        prefix = data[start:offset].decode("utf-8")  # everything before the first bad byte is fine
        hint = "it looks like UTF-16; " if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else ""
        byte = f"byte 0x{data[offset]:02x} at offset {offset}"
        message = f"file is not UTF-8 text ({byte}); {hint}save it as UTF-8"
        raise InputError.single(file, message, *_line_col(prefix, len(prefix))) from None
    return load_yaml_text(text, file)


def load_yaml_file(path: str | os.PathLike) -> Located:
    """Read one YAML document from a file; messages name the path as given.

    Only a regular file is read (sim.userfiles): a pipe, device, link loop or impossible name is
    refused with exit 2 before anything is opened, never waited on.
    """
    name = os.fsdecode(path)
    try:
        data, size = read_user_file(path, MAX_BYTES)
    except UnreadableFileError as error:
        raise InputError.single(shown_name(name), error.reason) from None
    if len(data) > MAX_BYTES:
        raise InputError.single(name, _too_big(size))
    return load_yaml_bytes(data, name)
