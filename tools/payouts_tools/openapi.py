"""Writes ``openapi/callbacks.json``, the callback API's OpenAPI document, from the handler itself.

The route, its parameters, request body and responses are declared once, on the Powertools
resolver in ``functions/callback/app.py``; this module only adds the document's title and
servers. Run ``python -m payouts_tools.openapi`` after changing the handler; a test fails while
the committed file is stale.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import Server, ServerVariable
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParameter

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
OPENAPI_PATH: Final = REPO_ROOT / "openapi" / "callbacks.json"
HANDLER_PATH: Final = REPO_ROOT / "functions" / "callback" / "app.py"

TITLE: Final = "payouts callbacks"
# The document's own version: bump it when the contract providers see changes.
VERSION: Final = "1.0.0"
DESCRIPTION: Final = (
    "The endpoint payout providers POST their results to (the notify URL given with each "
    "create). Generated from functions/callback/app.py by `python -m payouts_tools.openapi`; "
    "do not edit by hand."
)
# The deployed stage's URL, as the stack's CallbackBaseUrl output prints it.
SERVER: Final = Server(
    url="https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
    description="The CallbackApi of a deployed stack (Output CallbackBaseUrl)",
    variables={
        "apiId": ServerVariable(default="abc123defg", description="the REST API's id"),
        "region": ServerVariable(default="eu-west-1"),
        "stage": ServerVariable(default="dev", enum=["dev", "staging", "prod"]),
    },
)


def load_callback_app() -> APIGatewayRestResolver:
    """The callback handler's resolver, loaded from its file as Lambda loads it (no imports of
    ``functions/`` as a package; nothing runs at import beyond definitions)."""
    name = "payouts_openapi_callback_app"
    spec = importlib.util.spec_from_file_location(name, HANDLER_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HANDLER_PATH}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    # Registered first, as the import system does: dataclasses look their module up by name.
    sys.modules[name] = module
    # The handler imports the OpenAPI parameter types for type checking only (they cost its cold
    # start); rendering evaluates its annotations in its own namespace, so they are provided here.
    vars(module)["Path"] = PathParameter
    spec.loader.exec_module(module)
    app = module.app
    if not isinstance(app, APIGatewayRestResolver):
        raise TypeError(f"{HANDLER_PATH} has no APIGatewayRestResolver named app")
    return app


def render() -> str:
    """The document's exact text: the resolver's OpenAPI JSON, indented, ending in a newline."""
    schema = load_callback_app().get_openapi_json_schema(
        title=TITLE, version=VERSION, description=DESCRIPTION, servers=[SERVER]
    )
    return json.dumps(json.loads(schema), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the document."""
    OPENAPI_PATH.parent.mkdir(parents=True, exist_ok=True)
    OPENAPI_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {OPENAPI_PATH}")


if __name__ == "__main__":
    main()
