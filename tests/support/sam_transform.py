"""``template.yaml`` as CloudFormation deploys it: SAM's own transform (samtranslator) applied.

Linters read the template before the transform, so they never see what SAM adds (a second API
stage, a schedule's fixed name, the functions' roles). samtranslator pins a pydantic that is not
the Lambda layer's, so it lives in the SAM CLI's environment (``.venv-tools/sam``, made by
``make lint``/``make unit``), and this file runs there as a script: ``transformed()`` calls it
with that interpreter and reads the CloudFormation template it prints as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SAM_PYTHON: Final = REPO_ROOT / ".venv-tools" / "sam" / "bin" / "python"
# Template properties that name local code; `sam package` replaces them with S3 locations.
_LOCAL_CODE_PROPERTIES: Final = ("CodeUri", "ContentUri", "DefinitionUri")


def transformed(template_path: Path, parameters: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation template SAM makes of ``template_path`` with ``parameters``."""
    if not SAM_PYTHON.is_file():
        raise RuntimeError(
            f"{SAM_PYTHON} is missing: run `make .venv-tools/sam/.installed` "
            "(`make lint` and `make unit` make it too)"
        )
    completed = subprocess.run(
        [str(SAM_PYTHON), __file__, str(template_path), json.dumps(parameters)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the SAM transform failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def _transform(template_path: Path, parameters: dict[str, str]) -> dict[str, Any]:
    """Runs inside .venv-tools/sam: parse with SAM's YAML loader, package, translate."""
    import logging  # noqa: PLC0415 - the script's imports exist only in the SAM environment

    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # noqa: PLC0415
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    logging.disable(logging.WARNING)  # feature-toggle chatter on stderr
    template: dict[str, Any] = yaml_parse(template_path.read_text())
    for body in template["Resources"].values():
        properties = body.get("Properties", {})
        for key in _LOCAL_CODE_PROPERTIES:
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged/{properties[key]}"
    translator = Translator(managed_policy_map=None, sam_parser=Parser())
    # No managed policy is named by its bare name, so no IAM lookup is needed (and none is made).
    result: dict[str, Any] = translator.translate(
        template, parameter_values=parameters, get_managed_policy_map=dict
    )
    return result


if __name__ == "__main__":
    json.dump(_transform(Path(sys.argv[1]), json.loads(sys.argv[2])), sys.stdout)
