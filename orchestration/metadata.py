"""Turning the result objects of the tiering modules into Dagster metadata."""

import dataclasses
from typing import Any


def scalar_metadata(obj: Any) -> dict[str, Any]:
    """The simple fields of a result object (dataclass, dict or plain object) as metadata."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = dataclasses.asdict(obj)
    elif isinstance(obj, dict):
        fields = obj
    elif hasattr(obj, "__dict__"):
        fields = vars(obj)
    else:
        return {"result": str(obj)}
    return {k: (v if isinstance(v, (int, float, bool, str)) else str(v))
            for k, v in fields.items() if not k.startswith("_")}
