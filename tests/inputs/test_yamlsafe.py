"""The one safe YAML loader (and its JSON sibling): what a document may not do, refused before it is built."""

from __future__ import annotations

import re
import time

import pytest
import yaml

from coldstart.errors import InputRefused, InvalidValue
from coldstart.inputs.jsonsafe import check_depth, json_values
from coldstart.inputs.yamlsafe import MAX_DEPTH, MIN_BUDGET, load_yaml, yaml_documents


def _laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_libyaml_is_used_when_present() -> None:
    from coldstart.inputs import yamlsafe

    assert issubclass(yamlsafe._LOADER, getattr(yaml, "CSafeLoader", yaml.SafeLoader))


NESTED = "kind: List\nitems:\n- " + _laughs().replace("\n", "\n  ")


@pytest.mark.parametrize("text", [_laughs(), _laughs(20, 2), NESTED])
def test_billion_laughs_is_refused_in_milliseconds(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(InputRefused, match="aliases .* expand this document to more than"):
        load_yaml(text, "bomb.yaml")
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("text", ["&a {kind: List, apiVersion: v1, items: [*a]}", "items: &x [*x]", "- &a [*a]",
                                  "a: &a {b: {c: *a}}"])
def test_cycles_are_refused(text: str) -> None:
    with pytest.raises(InputRefused, match=r"loop.yaml:1: an alias refers to a node that contains it"):
        load_yaml(text, "loop.yaml")


def test_shared_nodes_within_the_budget_are_fine() -> None:
    text = "base: &b {image: x, env: [{name: A, value: '1'}]}\none: *b\ntwo: *b\nmerged: {<<: *b, image: y}\n"
    value = load_yaml(text, "ok.yaml")
    assert value["one"] == value["two"] == {"image": "x", "env": [{"name": "A", "value": "1"}]}
    assert value["merged"]["image"] == "y"  # overriding a merge key is no duplicate
    assert MIN_BUDGET >= 100_000


def test_duplicate_keys_name_both_lines() -> None:
    text = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 1\nmetadata: {name: x}\nspec: {}\n"
    with pytest.raises(InputRefused) as err:
        load_yaml(text, "d.yaml")
    assert str(err.value).startswith("d.yaml:6: duplicate key 'spec' (first at line 3)")
    with pytest.raises(InputRefused, match="d.yaml:1: duplicate key 'a' .first at line 1."):
        load_yaml("{a: 1, b: 2, a: 3}", "d.yaml")
    assert load_yaml("{1: a, '1': b}", "d.yaml") == {1: "a", "1": "b"}  # an int and a string: two keys


def test_depth() -> None:
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_yaml(ok, "ok.yaml") is not None
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(InputRefused, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_yaml(deep, "deep.yaml")
    with pytest.raises(InvalidValue, match="not valid YAML"):  # libyaml's own bound, far deeper
        load_yaml("[" * 10_000, "deeper.yaml")
    block = "".join("  " * i + "k:\n" for i in range(MAX_DEPTH + 5))
    with pytest.raises(InputRefused, match="nested deeper"):
        load_yaml(block, "block.yaml")


def test_integers_python_cannot_convert_and_unknown_tags() -> None:
    with pytest.raises(InputRefused, match="x.yaml:2: an integer of 5,000 digits"):
        load_yaml("a: 1\nb: " + "9" * 5000, "x.yaml")
    assert load_yaml("b: " + "9" * 4000, "x.yaml")["b"] > 10**3999
    with pytest.raises(InvalidValue, match="unknown tag 'tag:yaml.org,2002:python/object/apply:os.system'"):
        load_yaml("a: !!python/object/apply:os.system [ls]", "x.yaml")
    with pytest.raises(InvalidValue, match="x.yaml:1: a value in this document cannot be read"):
        load_yaml("a: 0000-00-00", "x.yaml")


@pytest.mark.parametrize(("source", "message"), [
    ("a: b\x00", "x.yaml:1: control character U+0000 (byte 4)"),
    ("a: 1\nb: \x07", "x.yaml:2: control character U+0007 (byte 8)"),
    (b"a: 1\nb: caf\xe9\n", "x.yaml:2: not UTF-8 text (byte 11 0xe9)"),
    ("a: 1\n".encode("utf-16"), "UTF-16"),
])
def test_text_that_is_not_yaml_text(source: str | bytes, message: str) -> None:
    with pytest.raises((InvalidValue, InputRefused), match=re.escape(message)):
        load_yaml(source, "x.yaml")


def test_documents_keep_their_lines_and_several_documents_are_not_one() -> None:
    docs = list(yaml_documents("# c\na: 1\n---\n\nb: 2\nc: 3\n", "m.yaml"))
    assert [(d.value, d.line) for d in docs] == [({"a": 1}, 2), ({"b": 2, "c": 3}, 5)]
    with pytest.raises(InvalidValue, match="m.yaml:3: a second YAML document starts here"):
        load_yaml("a: 1\n---\nb: 2\n", "m.yaml")


def test_names_only_kinds_are_not_built() -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n, labels: {a: b}}\nspec: {ports: [1]}\n"
    (doc,) = yaml_documents(text, "m.yaml", names_only={"Service"}.__contains__)
    assert doc.value == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
    with pytest.raises(InputRefused, match="duplicate key"):  # still checked whole
        list(yaml_documents(text + "spec: {}\n", "m.yaml", names_only={"Service"}.__contains__))


def test_json_bounds() -> None:
    with pytest.raises(InputRefused, match="nested deeper"):
        json_values("[" * 10_000 + "]" * 10_000, "x.json")
    with pytest.raises(InputRefused, match="nested deeper than"):
        check_depth(json_values("[" * 150 + "]" * 150, "ok.json"), "x.json")  # type: ignore[arg-type]
    with pytest.raises(InputRefused, match=r"x.json:2: a number of more than 4,300 digits"):
        json_values('{"a": 1,\n"b": ' + "9" * 5000 + "}", "x.json")
    with pytest.raises(InvalidValue, match=r"x.json:3: the JSON ends before its document is complete"):
        json_values('{"items": [\n{"a": 1},\n{"b": "cut', "x.json")
    with pytest.raises(InvalidValue, match=r"x.json:1:9: not valid JSON"):
        json_values('{"a": 1,, "b": 2}', "x.json")
    assert json_values('{"a": 1}\n{"b": 2}\n', "x.json") == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(("source", "message"), [
    ("&a [*a]", "references itself"), ("a: 1\na: 2", "f.yaml:2: duplicate key 'a' (first at line 1)"),
    ("[" * 5000 + "]" * 5000, "nested deeper"), (b"a: caf\xe9 ok\nb: 1", "f.yaml:1: not UTF-8 text (byte 6 0xe9)"),
    ("x: !!python/name:os.system", "unknown tag"), (_laughs(), "expand this document"),
])
def test_the_pure_python_fallback_refuses_the_same(monkeypatch: pytest.MonkeyPatch, source: str | bytes,
                                                   message: str) -> None:
    from coldstart.inputs import yamlsafe

    monkeypatch.setattr(yamlsafe, "_LOADER", yaml.SafeLoader)  # where libyaml is missing
    with pytest.raises((InputRefused, InvalidValue), match=re.escape(message)):
        load_yaml(source, "f.yaml")
