"""Registration-time checks of metric definitions, including the catastrophic-backtracking guard."""

import regex
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.ingestion.errors import MetricDefinitionError
from skytune.ingestion.metric_definitions import MAX_DEFINITIONS, compile_definition, validate_definitions
from skytune.ingestion.regex_safety import CatastrophicPattern, check_backtracking

SAFE = [
    r"Train Loss: ([0-9\.]+)",
    r"loss: ([-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)",
    r".*\[(\d+)\].*#quality_metric: host=\S+, epoch=\S+, train binary_classification_accuracy <score>=(\S+)",
    r"epoch=(?P<step>\d+).*val_acc=(?P<value>\S+)",
    r"(?:foo|bar)+ (\d+)",
    r"(?>a+)+(\d)",
    r"(a+)++(\d)",
    r"(\d{3},)+(\d)",
    r"(A|a)+(\d)",
    r"[[:alpha:]]+=(\d)",
    r"o{bar}(\d)",
    r"(?i)acc=(\d+)",
    r"\pL+ (\d)",
    r"(\w)\1 (\d)",
    r"\x41\u00e9\N{EM DASH}(\d)",
    r"[\]a-]+(\d)",
    r"(?<=a)(\d)(?!x)",
    r"(?#comment)(?P<value>\d)",
]

CATASTROPHIC = [
    r"(a+)+(\d)",
    r"(.*)*(\d)",
    r"(a|a)*(\d)",
    r"(\w|\d)+(\d)",
    r"(a|ab)*(\d)",
    r"(\d+\.?)+",
    r"(\d+){10}",
    r"(a|)+(\d)",
    r"(?:x(?:y|y))+(\d)",
    r"((ab)*c)*(\d)",
    r"(?i:(A|a))+(\d)",
    r"(a?){5}(\d)",
    r"([\d.]+)+",
    r"(\d+)*?x",
]

UNSUPPORTED = [r"(?x)(\d)", r"(\d)(?(1)a|b)", r"(\d)(?R)?", r"(\d){e<=1}", r"(?V1)(\d)", r"(\d)\X"]


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_patterns_are_accepted(pattern):
    compiled = compile_definition("m", pattern)
    assert compiled.source == pattern
    assert compiled.pattern.pattern == pattern


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_are_rejected(pattern):
    with pytest.raises(MetricDefinitionError) as raised:
        validate_definitions([{"Name": "ok", "Regex": "(\\d)"}, {"Name": "bad", "Regex": pattern}])
    assert raised.value.field == "MetricDefinitions[1].Regex"
    assert "backtrack catastrophically" in raised.value.message


@pytest.mark.parametrize("pattern", UNSUPPORTED)
def test_unsupported_syntax_is_rejected_not_guessed(pattern):
    with pytest.raises(MetricDefinitionError) as raised:
        validate_definitions([{"Name": "m", "Regex": pattern}])
    assert raised.value.field == "MetricDefinitions[0].Regex"


def test_the_rejected_shapes_really_are_slow_for_the_engine():
    # Sanity check of the premise: unguarded, these patterns exceed a 50 ms budget on a 40-char line.
    for pattern in [r"^(a|aa)*$", r"^(a|a)*$"]:
        with pytest.raises(TimeoutError):
            regex.search(pattern, "a" * 40 + "!", timeout=0.05)
        with pytest.raises(CatastrophicPattern):
            check_backtracking(pattern)


def test_message_names_the_culprit_and_the_fix():
    with pytest.raises(MetricDefinitionError) as raised:
        compile_definition("m", r"loss=(\d+)+;", field="Regex")
    assert raised.value.message.startswith("nested quantifier '\\d+' inside the repeat '(\\d+)+'")
    assert "possessive" in raised.value.message


@pytest.mark.parametrize(
    ("definitions", "field", "fragment"),
    [
        ("Train Loss", "MetricDefinitions", "must be a list"),
        ([{"Name": f"m{i}", "Regex": "(\\d)"} for i in range(MAX_DEFINITIONS + 1)], "MetricDefinitions", "at most 40"),
        (["x"], "MetricDefinitions[0]", "must be an object"),
        ([{"Name": "m", "Regex": "(\\d)", "Unit": "s"}], "MetricDefinitions[0].Unit", "unknown field"),
        ([{"Regex": "(\\d)"}], "MetricDefinitions[0].Name", "required"),
        ([{"Name": "", "Regex": "(\\d)"}], "MetricDefinitions[0].Name", "required"),
        ([{"Name": "x" * 256, "Regex": "(\\d)"}], "MetricDefinitions[0].Name", "at most 255"),
        ([{"Name": " loss", "Regex": "(\\d)"}], "MetricDefinitions[0].Name", "may contain"),
        ([{"Name": "a  b", "Regex": "(\\d)"}], "MetricDefinitions[0].Name", "may contain"),
        ([{"Name": "loss\n", "Regex": "(\\d)"}], "MetricDefinitions[0].Name", "may contain"),
        ([{"Name": "a", "Regex": "(\\d)"}, {"Name": "a", "Regex": "(\\d)"}], "MetricDefinitions[1].Name", "duplicate"),
        ([{"Name": "m"}], "MetricDefinitions[0].Regex", "required"),
        ([{"Name": "m", "Regex": ""}], "MetricDefinitions[0].Regex", "required"),
        ([{"Name": "m", "Regex": "(" + "\\d" * 250 + ")"}], "MetricDefinitions[0].Regex", "at most 500"),
        ([{"Name": "m", "Regex": "loss: ([0-9"}], "MetricDefinitions[0].Regex", "not a valid regular expression"),
        ([{"Name": "m", "Regex": "loss: [0-9.]+"}], "MetricDefinitions[0].Regex", "capturing group"),
        ([{"Name": "m", "Regex": "epoch=(?P<step>\\d+)"}], "MetricDefinitions[0].Regex", "capturing group"),
    ],
)
def test_invalid_definitions_name_the_field(definitions, field, fragment):
    with pytest.raises(MetricDefinitionError) as raised:
        validate_definitions(definitions)
    assert raised.value.field == field
    assert fragment in raised.value.message


def test_value_and_step_groups_are_chosen_by_the_documented_rule():
    by_name = validate_definitions(
        [
            {"Name": "train:loss", "Regex": r"Train Loss: ([0-9\.]+)"},
            {"Name": "validation:accuracy", "Regex": r"epoch=(?P<step>\d+) acc=([0-9.]+)"},
            {"Name": "lr", "Regex": r"(lr)=(?P<value>[0-9.e-]+)"},
        ]
    )
    assert [(d.name, d.value_group, d.step_group) for d in by_name] == [
        ("train:loss", 1, None),
        ("validation:accuracy", 2, "step"),
        ("lr", "value", None),
    ]


def test_forty_definitions_with_sagemaker_names_are_accepted():
    definitions = [{"Name": f"validation:metric-{i}", "Regex": f"m{i}=([0-9.]+)"} for i in range(MAX_DEFINITIONS)]
    assert len(validate_definitions(definitions)) == MAX_DEFINITIONS


# --- properties -------------------------------------------------------------------------------

ATOMS = st.sampled_from([r"a", r"\d", r"\w", r".", r"[a-z]", r"[0-9.]", r"\S", r"(?:ab)"])
INNER = st.sampled_from(["+", "*", "?", "{1,3}", "{2,}", "*?", "+?"])
OUTER = st.sampled_from(["+", "*", "{2,}", "{3}", "{1,5}", "+?", "*?"])
OPEN = st.sampled_from(["(", "(?:", "(?P<g>"])
LITERAL = st.text(alphabet="abcxyz:=; ", max_size=8).map(regex.escape)


@settings(max_examples=150, deadline=None)
@given(prefix=LITERAL, atom=ATOMS, inner=INNER, outer=OUTER, opener=OPEN, suffix=LITERAL)
def test_any_nested_quantifier_is_rejected(prefix, atom, inner, outer, opener, suffix):
    pattern = f"{prefix}{opener}{atom}{inner}{suffix}){outer}([0-9.]+)"
    with pytest.raises(MetricDefinitionError, match="backtrack catastrophically"):
        compile_definition("m", pattern)


@settings(max_examples=150, deadline=None)
@given(prefix=LITERAL, atom=ATOMS, tail=LITERAL, outer=OUTER, opener=OPEN)
def test_quantified_alternation_with_a_shared_start_is_rejected(prefix, atom, tail, outer, opener):
    pattern = f"{prefix}{opener}{atom}|{atom}{tail}){outer}([0-9.]+)"
    with pytest.raises(MetricDefinitionError, match="backtrack catastrophically"):
        compile_definition("m", pattern)


@settings(max_examples=150, deadline=None)
@given(prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_escaped_literals_around_a_number_group_are_accepted(prefix, suffix):
    pattern = f"{regex.escape(prefix)}([0-9.]+){regex.escape(suffix)}"
    compiled = compile_definition("m", pattern)
    assert compiled.value_group == 1
