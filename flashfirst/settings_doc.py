"""The settings table of the README, made from the settings model itself so it can't
drift: ``python -m flashfirst.settings_doc``."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from flashfirst.settings import Settings


def _rows(model: type[BaseModel], prefix: str, default: object) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        value = getattr(default, name, None) if default is not None else None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _rows(annotation, f"{env}__", value)
            continue
        rows.append((env, _shown(name, value), _describe(field)))
    return rows


def _shown(name: str, value: object) -> str:
    if "key" in name:
        return "unset"
    if name == "workers":
        return "number of cores"
    return "unset" if value is None else f"`{value}`"


def _describe(field: FieldInfo) -> str:
    return (field.description or "").replace("|", "\\|")


def settings_table() -> str:
    lines = ["| environment variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{env}` | {default} | {meaning} |"
              for env, default, meaning in _rows(Settings, "FLASHFIRST_", Settings())]
    return "\n".join(lines)


START, END = "<!-- settings-table -->", "<!-- /settings-table -->"


def readme_with_table(readme: str) -> str:
    """The README text with the table between its markers replaced by the current one."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{settings_table()}\n{END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if len(sys.argv) > 2 and sys.argv[1] == "--write":
        path = Path(sys.argv[2])
        path.write_text(readme_with_table(path.read_text()))
    else:
        print(settings_table())
