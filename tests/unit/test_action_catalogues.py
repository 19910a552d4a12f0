"""Every registered action comes from one catalogue module, has a description, a schema the
validator can check, and an example request its own schema accepts."""

from __future__ import annotations

from typing import Any

import pytest

from botifython_tui.core.actions import (
    CATALOGUES,
    REGISTRY,
    Action,
    ActionResult,
    Checked,
    check_request,
    prompt_description,
    tools_schema,
)
from botifython_tui.core.actions.framework import object_schema, register, string_schema
from botifython_tui.core.actions.prompting import argument_text

CHECKABLE_TYPES = {"string", "integer", "number", "boolean"}


def schema_problems(action: Action) -> list[str]:
    """What makes an action's declaration unusable (empty when it is sound)."""
    problems = []
    if not action.description.strip() or "\n" in action.description:
        problems.append("the description is empty or not one line")
    params = action.parameters
    if params.get("type") != "object" or not isinstance(params.get("properties"), dict):
        return [*problems, "the parameters are not a JSON-schema object"]
    properties: dict[str, Any] = params["properties"]
    for key in params.get("required", []):
        if key not in properties:
            problems.append(f"the required argument {key} is not a property")
    for key, spec in properties.items():
        if spec.get("type") not in CHECKABLE_TYPES:
            problems.append(f"{key} has a type the validator cannot check")
        if not str(spec.get("description", "")).strip():
            problems.append(f"{key} has no description")
        if key not in argument_text(action):
            problems.append(f"{key} is missing from the usage text")
    for alias, target in action.aliases.items():
        if target not in properties:
            problems.append(f"the alias {alias} names no argument ({target})")
        if alias in properties:
            problems.append(f"the alias {alias} hides an argument")
    return problems


def accepts(action: Action, args: dict[str, Any]) -> Checked | str:
    """The checked request, or why the action's own schema refused `args`."""
    checked = check_request(action.name, args)
    if not isinstance(checked, Checked):
        return checked.message
    if checked.ignored or checked.placeholders:
        return f"dropped {checked.ignored or checked.placeholders}"
    return checked


def test_every_registered_action_comes_from_exactly_one_catalogue():
    owners: dict[str, list[str]] = {}
    for catalogue in CATALOGUES:
        assert catalogue.__name__.startswith("botifython_tui.core.actions.")
        assert catalogue.ACTIONS, f"{catalogue.__name__} declares no action"
        for action in catalogue.ACTIONS:
            owners.setdefault(action.name, []).append(catalogue.__name__)
            assert action.run.__module__ == catalogue.__name__, action.name
    assert list(owners) == list(REGISTRY), "the registry holds exactly the catalogues, in order"
    assert {name: len(modules) for name, modules in owners.items() if len(modules) > 1} == {}
    for name, action in REGISTRY.items():
        assert action.name == name
        assert [t["function"]["name"] for t in tools_schema([action])] == [name]
        assert f"- {name}: " in prompt_description()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_action_is_declared_soundly(name: str):
    assert schema_problems(REGISTRY[name]) == []


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_action_accepts_its_own_example(name: str):
    action = REGISTRY[name]
    required = set(action.parameters.get("required", []))
    assert required <= set(action.example), f"{name}'s example leaves out a required argument"
    checked = accepts(action, action.example)
    assert isinstance(checked, Checked), checked
    defaults = {
        key: spec["default"]
        for key, spec in action.parameters["properties"].items()
        if "default" in spec
    }
    assert checked.args == {**defaults, **action.example}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_default_passes_its_own_schema(name: str):
    action = REGISTRY[name]
    for key, spec in action.parameters["properties"].items():
        if "default" in spec:
            checked = accepts(action, {**action.example, key: spec["default"]})
            assert isinstance(checked, Checked), checked


def test_the_checks_catch_a_badly_declared_action():
    broken = Action(
        name="broken",
        description="",
        parameters={
            "type": "object",
            "properties": {"when": {"type": "date"}, "title": string_schema("A title.")},
            "required": ["title", "missing"],
        },
        run=lambda ctx, args: ActionResult(True, "ran"),
        describe=lambda ctx, args: "Break.",
        aliases={"name": "nothing", "title": "title"},
    )
    assert schema_problems(broken) == [
        "the description is empty or not one line",
        "the required argument missing is not a property",
        "when has a type the validator cannot check",
        "when has no description",
        "the alias name names no argument (nothing)",
        "the alias title hides an argument",
    ]


def test_a_name_registers_once():
    duplicate = Action(
        name="add_todo",
        description="Another add_todo.",
        parameters=object_schema(),
        run=lambda ctx, args: ActionResult(True, "ran"),
        describe=lambda ctx, args: "Add.",
    )
    before = dict(REGISTRY)
    with pytest.raises(ValueError, match="add_todo is registered twice"):
        register(duplicate)
    assert before == REGISTRY
