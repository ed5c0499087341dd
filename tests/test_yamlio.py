"""Tests for sim.yamlio: marks, every rejection with its line and column, limits, fuzzing."""

from __future__ import annotations

import datetime
import math
import os
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import yamlio
from sim.errors import InputError, dotted
from sim.userfiles import shown_name
from sim.yamlio import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    Located,
    load_yaml_bytes,
    load_yaml_file,
    load_yaml_text,
)

CORPUS = Path(__file__).parent / "corpus" / "yaml"

SCENARIO = """\
name: demo
time:
  start: 2023Q1
rules:
  us-chips:
    sources: [D4.4, D4.6]
    targets:
      - tier: 3
      - tier: 2
"""

LOLS = 'lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
)


def error_of(text, file: str = "s.yaml", load=load_yaml_text) -> InputError:
    with pytest.raises(InputError) as caught:
        load(text, file) if file is not None else load(text)
    return caught.value


def only_problem(text: str):
    problems = error_of(text).problems
    assert len(problems) == 1, problems
    return problems[0]


# --- marks -----------------------------------------------------------------------------------


def test_marks_of_nested_keys_and_list_items():
    got = load_yaml_text(SCENARIO, "s.yaml")
    assert list(got.data) == ["name", "time", "rules"]  # file order kept
    assert got.data["rules"]["us-chips"]["targets"] == [{"tier": 3}, {"tier": 2}]
    assert got.key_marks[("rules", "us-chips")] == (5, 3)
    assert got.value_marks[("rules", "us-chips")] == (6, 5)
    assert got.key_marks[("rules", "us-chips", "sources")] == (6, 5)
    assert got.value_marks[("rules", "us-chips", "sources")] == (6, 14)
    assert got.value_marks[("rules", "us-chips", "sources", 1)] == (6, 21)
    assert got.value_marks[("rules", "us-chips", "targets", 1)] == (9, 9)
    assert got.key_marks[("rules", "us-chips", "targets", 1, "tier")] == (9, 9)
    assert got.value_marks[("rules", "us-chips", "targets", 1, "tier")] == (9, 15)
    assert got.value_marks[()] == (1, 1)
    assert ("rules", "us-chips", "sources", 1) not in got.key_marks  # list items have no key


def test_mark_fallbacks_and_problem():
    got = load_yaml_text(SCENARIO, "s.yaml")
    assert got.mark(("rules", "us-chips")) == (5, 3)  # the key
    assert got.value_mark(("rules", "us-chips")) == (6, 5)  # the value
    assert got.mark(("rules", "us-chips", "sources", 0)) == (6, 15)  # list item: its value
    assert got.mark(("rules", "us-chips", "strength", "x")) == (5, 3)  # missing: nearest ancestor
    assert got.value_mark(("rules", "nope")) == (4, 1)
    assert got.mark(("nope",)) == (1, 1)
    assert Located(None, "f.yaml").mark(("a", 1)) == (1, 1)
    problem = got.problem(("rules", "us-chips", "sources", 0), "unknown claim", at_value=True)
    assert problem.format() == "s.yaml:6:15: rules.us-chips.sources[0]: unknown claim"
    assert got.problem(("time", "start"), "bad").format() == "s.yaml:3:3: time.start: bad"


def test_dotted():
    assert dotted(("rules", "us-chips", "sources", 0)) == "rules.us-chips.sources[0]"
    assert dotted(()) == ""
    assert dotted((0, "a", 1, 2)) == "[0].a[1][2]"


def test_alias_marks_point_at_the_alias_and_values_are_copies():
    got = load_yaml_text("base: &b {x: 1, y: [2]}\nother: *b\n", "s.yaml")
    assert got.data["other"] == {"x": 1, "y": [2]}
    assert got.value_marks[("other",)] == (2, 8)
    assert got.value_marks[("other", "y")] == (1, 20)  # inside the alias: where the text is
    got.data["other"]["y"].append(3)
    assert got.data["base"]["y"] == [2]


def test_scalars_resolve_as_yaml_1_1_safe_loader():
    text = (
        "i: 0x1F\nf: 1.5e+3\nstr: 1.5e3\nn: .nan\nneg: -.inf\nt: yes\nf2: off\nz: ~\ne:\nd: 2024-01-02\n"
        "dt: 2024-01-02 03:04:05\ns: !!str 12\nq: '007'\nu: 1_000\neq: =\n"
    )
    data = load_yaml_text(text, "s.yaml").data
    assert data["i"] == 31 and data["f"] == 1500.0 and math.isnan(data["n"]) and data["neg"] == -math.inf
    assert data["t"] is True and data["f2"] is False and data["z"] is None and data["e"] is None
    assert data["str"] == "1.5e3"  # YAML 1.1, as PyYAML's SafeLoader: a float needs '.' and a signed exponent
    assert data["d"] == datetime.date(2024, 1, 2)
    assert data["dt"] == datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert data["s"] == "12" and data["q"] == "007" and data["u"] == 1000 and data["eq"] == "="


def test_bom_and_crlf():
    got = load_yaml_bytes(b"\xef\xbb\xbfname: demo\r\nseed: 7\r\n", "s.yaml")
    assert got.data == {"name": "demo", "seed": 7}
    assert got.key_marks[("name",)] == (1, 1)
    assert got.value_marks[("seed",)] == (2, 7)
    assert load_yaml_text("\ufeffa: 1", "s.yaml").value_marks[("a",)] == (1, 4)


def test_non_mapping_documents_load():  # the schema layer decides what the top level must be
    assert load_yaml_text("- 1\n- two\n", "s.yaml").data == [1, "two"]
    assert load_yaml_text("just text", "s.yaml").data == "just text"


# --- rejections --------------------------------------------------------------------------------

REJECTIONS = [
    ("a: b: c\n", 1, 5, "':' is not allowed here"),
    ("name: x\n  seed: 1\n", 2, 7, "not allowed here"),
    ("a: [1, 2\n", 2, 1, "but found the end of the file"),
    ("a: 'open\n", 2, 1, "the file ends too early"),
    ("- a\nb: 1\n", 2, 1, "check the indentation"),
    ("a: @x\n", 1, 4, "cannot start a value"),
    ("a:\n\tb: 1\n", 2, 1, "tab character used for indentation; YAML needs spaces"),
    ("a:\n  b: 1\n  \tc: 2\n", 3, 3, "tab character used for indentation; YAML needs spaces"),
    ("", 1, 1, "file is empty: a scenario is a mapping"),
    ("# only\n\n# comments\n", 1, 1, "file is empty"),
    ("---\n", 1, 1, "file is empty"),
    ("seed: 1\nname: x\nseed: 2\n", 3, 1, "duplicate key 'seed' (first at line 1)"),
    ("r:\n  a: 1\n  b: 2\n  a: 3\n", 4, 3, "duplicate key 'a' (first at line 2)"),
    ("{a: 1, a: 2}", 1, 8, "duplicate key 'a'"),
    ("x: !!python/object/apply:os.system ['ls']\n", 1, 4,
     "tag '!!python/object/apply:os.system' is not allowed: scenarios are plain data (safe YAML only)"),
    ("x: !!python/name:os.system\n", 1, 4, "tag '!!python/name:os.system' is not allowed"),
    ("x: !!python/object:os.system {}\n", 1, 4, "tag '!!python/object:os.system' is not allowed"),
    ("x: !foo bar\n", 1, 4, "tag '!foo' is not allowed"),
    ("x: !!binary aGk=\n", 1, 4, "tag '!!binary' is not allowed"),
    ("x: !!set {a}\n", 1, 4, "tag '!!set' is not allowed"),
    ("%TAG !! tag:evil.com,2000:\n---\nx: !!str a\n", 3, 4, "is not allowed"),
    ("x: !!str {a: 1}\n", 1, 4, "tag '!!str' cannot be used on a mapping"),
    ("x: !!int nope\n", 1, 4, "'nope' is not a valid int"),
    ("x: !!bool maybe\n", 1, 4, "'maybe' is not a valid bool"),
    ("x: !!timestamp soon\n", 1, 4, "'soon' is not a valid date"),
    ("x: 2024-13-01\n", 1, 4, "'2024-13-01' is not a valid date (month must be in 1..12)"),
    ("1: x\n", 1, 1, "keys must be text, got 1"),
    ("a:\n  null: x\n", 2, 3, "keys must be text, got null (read as null)"),
    ("2024-01-02: x\n", 1, 1, "keys must be text, got 2024-01-02 (read as a date)"),
    ("on: 1\n", 1, 1, "keys must be text, got on (read as true/false); write 'on' in quotes"),
    ("? [a]\n: b\n", 1, 3, "keys must be text, got a list"),
    ("{? {a: 1}: b}\n", 1, 4, "keys must be text, got a mapping"),
    ("base: &b {x: 1}\nother:\n  <<: *b\n", 3, 3, "merge keys ('<<') are not supported"),
    ("a: 1\n---\nb: 2\n", 2, 1, "a second YAML document starts here"),
    ("--- 1\n--- 2\n", 2, 1, "a second YAML document"),
    ("x: *nope\n", 1, 4, "alias *nope is used before any anchor &nope"),
    ("a: &x 1\nb: &x 2\n", 2, 4, "anchor &x is defined twice (first at line 1)"),
    ("loop: &l [1, *l]\n", 1, 14, "recursive structure"),
    ("loop: &m {a: *m}\n", 1, 14, "recursive structure"),
    ("x: a\x00b\n", 1, 5, "character U+0000 is not allowed"),
    ("x: \ud800\n", 1, 4, "character U+D800 is not allowed"),
    ("x:\n  - 1\n  - \x1b\n", 3, 5, "character U+001B is not allowed"),
]


@pytest.mark.parametrize(("text", "line", "column", "words"), REJECTIONS)
def test_rejections_point_at_line_and_column(text, line, column, words):
    problem = only_problem(text)
    assert (problem.file, problem.line, problem.column) == ("s.yaml", line, column), problem
    assert words in problem.message, problem
    assert problem.format().startswith(f"s.yaml:{line}:{column}: ")


def test_problem_names_the_field_path():
    problem = only_problem("rules:\n  r1:\n    sources: [a, !!python/none x]\n")
    assert problem.path == "rules.r1.sources[1]"
    assert problem.format().startswith("s.yaml:3:18: rules.r1.sources[1]: tag '!!python/none'")


def test_all_problems_of_a_file_are_reported_in_order():
    problems = error_of("a: 1\nb: 2\na: 3\n5: x\nb: 4\n").problems
    assert [(p.line, p.column) for p in problems] == [(3, 1), (4, 1), (5, 1)]


def test_standard_tags_are_fine():
    text = "a: !!str 1\nb: !!int '2'\nc: !!float 3\nd: !!bool yes\ne: !!null ''\nf: !!map {x: !!seq [1]}\n"
    assert load_yaml_text(text, "s.yaml").data == {"a": "1", "b": 2, "c": 3.0, "d": True, "e": None,
                                                   "f": {"x": [1]}}


def test_not_utf8_bytes():
    (problem,) = error_of(b"a: 1\nb: caf\xe9\n", load=load_yaml_bytes).problems
    assert (problem.line, problem.column) == (2, 7)
    assert "file is not UTF-8 text (byte 0xe9 at offset 11)" in problem.message
    assert "it looks like UTF-16" in str(error_of("a: 1\n".encode("utf-16"), load=load_yaml_bytes))


def test_size_limit(monkeypatch):
    for load, data in ((load_yaml_bytes, b"#" * (MAX_BYTES + 1)), (load_yaml_text, "#" * (MAX_BYTES + 1))):
        err = error_of(data, "big.yaml", load)
        assert f"{MAX_BYTES + 1:,} bytes; the limit is {MAX_BYTES:,} bytes" in str(err)
    monkeypatch.setattr(yamlio, "MAX_BYTES", 20)  # both sides of the limit, without parsing 2 MiB
    assert load_yaml_text("a: 1 #" + "é" * 6, "s.yaml").data == {"a": 1}  # 18 bytes
    assert "22 bytes; the limit is 20 bytes" in str(error_of("a: 1 #" + "é" * 8))


def test_big_file_is_refused_with_its_size(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (3 * MAX_BYTES))
    err = error_of(big, None, load_yaml_file)
    assert f"file is too big: {3 * MAX_BYTES + 2:,} bytes" in str(err)
    assert str(err).startswith(f"{big}:1:1: ")


# --- files -------------------------------------------------------------------------------------


def test_file_name_is_shown_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scen").mkdir()
    (tmp_path / "scen" / "s.yaml").write_text("seed: 1\nseed: 2\n")
    err = error_of("scen/s.yaml", None, load_yaml_file)
    assert str(err) == "scen/s.yaml:2:1: seed: duplicate key 'seed' (first at line 1)"
    (tmp_path / "scen" / "ok.yaml").write_text("seed: 1\n")
    got = load_yaml_file(Path("scen/ok.yaml"))
    assert (got.file, got.data) == ("scen/ok.yaml", {"seed": 1})


@pytest.mark.parametrize(("make", "words"), [
    (lambda d: d, "is a directory"),
    (lambda d: d / "missing.yaml", "no such file"),
    (lambda d: d / "no-dir" / "x.yaml", "no such file"),
    (lambda d: str(d) + "/a\0b.yaml", "contains a NUL character"),
])
def test_unreadable_paths(tmp_path, make, words):
    path = make(tmp_path)
    err = error_of(path, None, load_yaml_file)
    assert str(err).startswith(f"{shown_name(os.fsdecode(path))}:1:1: ") and words in str(err)


def test_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")
    if os.name == "posix" and os.geteuid() == 0:  # root reads anything: fake the refusal instead
        real_open = os.open

        def refuse(path: object, flags: int, *rest: object) -> int:
            if os.fspath(path) == str(secret):  # type: ignore[arg-type]
                raise PermissionError(13, "no")
            return real_open(path, flags, *rest)  # type: ignore[arg-type]

        secret = path
        monkeypatch.setattr(os, "open", refuse)
    else:
        path.chmod(0)
    err = error_of(path, None, load_yaml_file)
    assert str(err) == f"{path}:1:1: permission denied: cannot read the file"


# --- limits ------------------------------------------------------------------------------------


def test_billion_laughs_is_refused_quickly():
    start = time.perf_counter()
    problem = only_problem(LOLS)
    assert time.perf_counter() - start < 1.0
    assert f"document expands to more than {MAX_NODES:,} values (alias bomb?)" in problem.message
    assert problem.line == 6  # lol5 is the first value past the limit (10**6 values)


def test_too_many_plain_values(monkeypatch):
    monkeypatch.setattr(yamlio, "MAX_NODES", 50)
    assert len(load_yaml_text("[" + "1, " * 49 + "]", "s.yaml").data) == 49
    problem = only_problem("- 1\n" * 60)
    assert (problem.line, problem.column, problem.message) == (50, 3, "document has more than 50 values")


def test_aliases_under_the_limit_load():
    data = load_yaml_text("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n", "s.yaml").data
    assert data["b"] == [[1, 2, 3]] * 3


DEEP = [
    "[" * 10_000 + "]" * 10_000,
    "{a: " * 10_000 + "1" + "}" * 10_000,
    "- " * 10_000 + "x\n",
    "".join("  " * i + f"k{i}:\n" for i in range(1000)) + "  " * 1000 + "end: 1\n",
    "".join("  " * i + "-\n" for i in range(1000)),
    # each alias nests the previous anchor deeper: shallow text, deep data
    "".join(f"a{i}: &a{i} [[[[[[[[[[{'*a' + str(i - 1) if i else 0}]]]]]]]]]]\n" for i in range(10)),
]


@pytest.mark.parametrize(
    "text", DEEP, ids=["flow-list", "flow-map", "block-list", "block-map", "dashes", "alias"]
)
def test_deep_nesting_is_refused_quickly(text):
    start = time.perf_counter()
    problem = only_problem(text)
    # A guard against a hang or exponential work, not a speed test (wall time moves with the machine's load).
    assert time.perf_counter() - start < 10.0
    assert f"nested more than {MAX_DEPTH} levels deep" in problem.message


def test_nesting_up_to_the_limit_loads():
    data = load_yaml_text("[" * MAX_DEPTH + "]" * MAX_DEPTH, "s.yaml").data
    for _ in range(MAX_DEPTH - 1):
        data = data[0]
    assert data == []
    problem = only_problem("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert (problem.line, problem.column) == (1, MAX_DEPTH + 1)


# --- corpus ------------------------------------------------------------------------------------

EXPECTED = {  # file -> (line, column, words in the message)
    "alias_bomb.yaml": (6, 4, "alias bomb"),
    "bad_date.yaml": (2, 10, "not a valid date"),
    "bad_indentation.yaml": (5, 4, "check the indentation"),
    "comments_only.yaml": (1, 1, "file is empty"),
    "control_char.yaml": (1, 11, "U+0007"),
    "deep_mapping.yaml": (65, 129, "nested more than"),
    "deep_nesting.yaml": (1, 71, "nested more than"),
    "duplicate_key.yaml": (4, 1, "duplicate key 'seed' (first at line 2)"),
    "empty.yaml": (1, 1, "file is empty"),
    "local_tag.yaml": (1, 7, "tag '!secret' is not allowed"),
    "merge_key.yaml": (4, 5, "merge keys"),
    "non_string_key.yaml": (3, 3, "keys must be text, got 1"),
    "non_utf8.yaml": (2, 17, "not UTF-8 text (byte 0xe9 at offset 27)"),
    "python_tag.yaml": (2, 7, "tag '!!python/object/apply:os.system' is not allowed"),
    "recursive_alias.yaml": (1, 17, "recursive structure"),
    "syntax_error.yaml": (3, 5, "expected ',' or '}'"),
    "tab_indentation.yaml": (3, 1, "tab character used for indentation"),
    "two_documents.yaml": (2, 1, "second YAML document"),
    "undefined_alias.yaml": (2, 7, "alias *seed"),
    "utf16.yaml": (1, 1, "UTF-16"),
}


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_corpus_of_malformed_files(path):
    with pytest.raises(InputError) as caught:
        load_yaml_file(path)
    lines = str(caught.value).splitlines()
    assert lines and all(re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", line) for line in lines), lines
    if path.name in EXPECTED:
        line, column, words = EXPECTED[path.name]
        assert lines[0].startswith(f"{path}:{line}:{column}: ") and words in lines[0], lines[0]


def test_corpus_covers_every_kind():
    assert set(EXPECTED) <= {p.name for p in CORPUS.iterdir()}


# --- properties --------------------------------------------------------------------------------

FRAGMENTS = [
    ":", ": ", "-", "- ", "[", "]", "{", "}", ",", "?", "? ", "&a ", "*a", "&b ", "*b", "!!", "!!str ",
    "!!int ", "!!timestamp ", "!!python/object:os.system ", "!x ", "!", "\t", "\n", "\r\n", " ", "  ", '"',
    "'", "#", "---", "...", "%TAG ", "%YAML 1.1", "|", ">", "<<", "=", "~", "key", "seed", "0", "1.5",
    "2024-01-02", ".nan", "yes", "null", "\\", "é", "\x00", "\x85", "\u2028", "\ufeff", "@", "`", "%",
]
yamlish = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def loads_or_input_error(load, data) -> None:
    try:
        got = load(data, "fuzz.yaml")
    except InputError as err:
        assert err.problems
        assert all(p.file == "fuzz.yaml" and p.line >= 1 and p.column >= 1 for p in err.problems)
    else:
        assert isinstance(got, Located)


@FAST
@given(st.one_of(st.text(), yamlish))
def test_any_text_loads_or_raises_input_error(text):
    loads_or_input_error(load_yaml_text, text)


@FAST
@given(st.one_of(st.binary(), yamlish.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_any_bytes_load_or_raise_input_error(data):
    loads_or_input_error(load_yaml_bytes, data)


# PyYAML's emitter writes NEL/LS/PS raw at the end of a quoted string and loses them (its own bug).
text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x85\u2028\u2029"))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text,
                    st.dates(), st.datetimes())
nested = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4), max_leaves=15
)


def same(a, b) -> bool:
    """Equal, with the same types (True is not 1) and the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@settings(FAST, max_examples=100)
@given(nested, st.booleans(), st.sampled_from([None, True, False]))
def test_round_trip_of_safe_dump(data, unicode, flow):
    text = yaml.safe_dump(data, allow_unicode=unicode, default_flow_style=flow, sort_keys=False)
    assert same(load_yaml_text(text, "rt.yaml").data, data), text


names = st.text("abcxyz019_-", max_size=6).map(lambda t: "k" + t)  # plain keys, never quoted


keyed = st.recursive(
    st.integers(), lambda kids: st.dictionaries(names, kids, min_size=1, max_size=4), max_leaves=9
)


@settings(FAST, max_examples=100)
@given(keyed)
def test_key_marks_point_at_the_key_text(data):
    text = yaml.safe_dump({"root": data}, sort_keys=False)
    got = load_yaml_text(text, "k.yaml")
    lines = text.splitlines()
    for path, (line, column) in got.key_marks.items():
        assert lines[line - 1][column - 1:].startswith(path[-1] + ":"), (path, text)


SHIPPED_YAML = sorted((Path(__file__).resolve().parents[1] / "sim" / "builtin").rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_YAML, ids=lambda p: p.name)
def test_libyaml_and_python_composers_read_shipped_files_alike(path, monkeypatch):
    text = path.read_text(encoding="utf-8")
    assert yamlio._compose_with_libyaml(text) is not None  # the fast path is taken
    fast = yamlio.load_yaml_file(path)
    monkeypatch.setattr(yamlio, "_compose_with_libyaml", lambda _text: None)
    slow = yamlio.load_yaml_file(path)
    assert (fast.data, fast.value_marks, fast.key_marks) == (slow.data, slow.value_marks, slow.key_marks)


def test_documents_with_aliases_or_deep_nesting_are_left_to_the_python_composer(monkeypatch):
    assert yamlio._compose_with_libyaml("a: &x [1]\nb: *x\n") is None  # each alias keeps its own mark
    assert yamlio._compose_with_libyaml("a: &x [*x]\n") is None  # a cycle
    assert yamlio._compose_with_libyaml("note: R&D *and* AT&T\n") is not None  # & and * in text
    monkeypatch.setattr(yamlio, "MAX_DEPTH", 3)
    assert yamlio._compose_with_libyaml("a: [[[1]]]\n") is None
    assert yamlio._compose_with_libyaml("a: [[1]]\n") is not None
