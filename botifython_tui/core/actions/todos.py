"""The todo actions: list, add, complete and delete the todos of the current profile."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.actions.framework import (
    MAX_LISTED,
    Action,
    ActionContext,
    ActionResult,
    integer_schema,
    object_schema,
    quote,
    string_schema,
)
from botifython_tui.core.store import NotFound


def _todo_label(ctx: ActionContext, todo_id: int) -> str:
    try:
        todo = ctx.store.todos(ctx.profile_id).get(todo_id)
    except NotFound:
        return f"{todo_id} (not found)"
    return f"{todo_id} {quote(todo.title)}"


def _todo_data(todo: Any) -> dict[str, Any]:
    return {"id": todo.id, "title": todo.title, "done": todo.done}


def _check_todo(ctx: ActionContext, args: dict[str, Any]) -> str | None:
    try:
        ctx.store.todos(ctx.profile_id).get(args["todo_id"])
    except NotFound:
        return (
            f"There is no todo {args['todo_id']} in profile {ctx.profile_name}. "
            "Use list_todos to see the ids."
        )
    return None


def _list_todos(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    status = args["status"]
    todos = ctx.store.todos(ctx.profile_id).list()
    if status == "open":
        todos = [t for t in todos if not t.done]
    elif status == "done":
        todos = [t for t in todos if t.done]
    shown = todos[:MAX_LISTED]
    which = "" if status == "all" else f"{status} "
    message = f"{len(todos)} {which}todo(s) in profile {ctx.profile_name}."
    if len(todos) > len(shown):
        message += f" The first {len(shown)} are listed."
    return ActionResult(True, message, [_todo_data(t) for t in shown])


def _add_todo(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    todo = ctx.store.todos(ctx.profile_id).add(args["title"])
    return ActionResult(
        True,
        f"Added the todo {todo.id} {quote(todo.title)} to profile {ctx.profile_name}.",
        _todo_data(todo),
    )


def _complete_todo(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    todo = ctx.store.todos(ctx.profile_id).set_done(args["todo_id"], args["done"])
    state = "done" if todo.done else "not done"
    return ActionResult(
        True, f"The todo {todo.id} {quote(todo.title)} is {state}.", _todo_data(todo)
    )


def _delete_todo(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    todo = ctx.store.todos(ctx.profile_id).delete(args["todo_id"])
    return ActionResult(
        True,
        f"Deleted the todo {todo.id} {quote(todo.title)} from profile {ctx.profile_name}.",
        {"id": todo.id},
    )


_TODO_ID_ALIASES = {"id": "todo_id", "todo": "todo_id", "todoid": "todo_id", "task_id": "todo_id"}

ACTIONS: list[Action] = [
    Action(
        name="list_todos",
        description="List the todos of the current profile, with their ids.",
        parameters=object_schema(
            {
                "status": {
                    "type": "string",
                    "description": "Which todos: open, done or all.",
                    "enum": ["all", "open", "done"],
                    "default": "all",
                }
            }
        ),
        run=_list_todos,
        describe=lambda ctx, a: f"List the {a['status']} todos of profile {ctx.profile_name}.",
        aliases={"filter": "status", "state": "status", "which": "status"},
        example={"status": "open"},
    ),
    Action(
        name="add_todo",
        description="Add a todo to the current profile.",
        parameters=object_schema(
            {"title": string_schema("What to do, in a short sentence.")}, ["title"]
        ),
        run=_add_todo,
        describe=lambda ctx, a: f"Add the todo {quote(a['title'])} to profile {ctx.profile_name}.",
        changes=True,
        additive=True,
        aliases={
            "text": "title",
            "name": "title",
            "todo": "title",
            "task": "title",
            "description": "title",
            "content": "title",
            "todo_title": "title",
        },
        example={"title": "Check the robots.txt"},
    ),
    Action(
        name="complete_todo",
        description="Mark a todo of the current profile as done (or not done) by its id.",
        parameters=object_schema(
            {
                "todo_id": integer_schema("The todo's id, from list_todos.", minimum=1),
                "done": {
                    "type": "boolean",
                    "description": "true: done; false: open again.",
                    "default": True,
                },
            },
            ["todo_id"],
        ),
        run=_complete_todo,
        describe=lambda ctx, a: (
            f"Mark the todo {_todo_label(ctx, a['todo_id'])} as "
            f"{'done' if a['done'] else 'not done'} in profile {ctx.profile_name}."
        ),
        aliases={**_TODO_ID_ALIASES, "completed": "done"},
        check=_check_todo,
        changes=True,
        example={"todo_id": 3},
    ),
    Action(
        name="delete_todo",
        description="Delete a todo of the current profile by its id.",
        parameters=object_schema(
            {"todo_id": integer_schema("The todo's id, from list_todos.", minimum=1)}, ["todo_id"]
        ),
        run=_delete_todo,
        describe=lambda ctx, a: (
            f"Delete the todo {_todo_label(ctx, a['todo_id'])} from profile {ctx.profile_name}."
        ),
        check=_check_todo,
        changes=True,
        destructive=True,
        aliases=dict(_TODO_ID_ALIASES),
        example={"todo_id": 3},
    ),
]
