#!/usr/bin/env python3
"""Transforms infra/template.yaml into plain CloudFormation with AWS SAM's own translator
(aws-sam-translator, the library behind the AWS::Serverless-2016-10-31 transform that
`sam deploy` hands to CloudFormation), offline.

    sam_translate.py TEMPLATE OUTPUT.json [Name=Value ...]

Parameters not given take their defaults, as in a deployment; the required ones without a
default get the example values below, as `sam deploy --parameter-overrides` would supply them.
Conditions and intrinsic functions are left for CloudFormation (and the tests) to evaluate.
Exits non-zero with SAM's own message when the template does not transform.
"""

import json
import os
import sys

# The translator asks boto3 for the region and partition (pseudo parameters); offline, say them.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])

from samtranslator.public.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

REQUIRED_EXAMPLES = {
    "JwtIssuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
    "JwtAudience": "applications-api",
}


def as_packaged(template):
    """`sam package` (inside `sam deploy`) uploads each function's code and replaces its local
    CodeUri with the S3 object before the transform runs; stand in for the upload."""
    globals_function = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = "s3://appkeys-artifacts/code.zip"
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = resource.setdefault("Properties", {})
            if "CodeUri" in properties or "CodeUri" in globals_function:
                properties["CodeUri"] = f"s3://appkeys-artifacts/{logical_id}.zip"
    return template


class NoManagedPolicies:
    """The template names no AWS managed policy by name (every policy is inline), so the
    translator never needs IAM's list of them; asking would need AWS credentials."""

    def load(self):
        return {}


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target, overrides = argv[1], argv[2], argv[3:]
    with open(source, encoding="utf-8") as handle:
        template = as_packaged(yaml_parse(handle.read()))
    parameters = dict(REQUIRED_EXAMPLES)
    for override in overrides:
        name, _, value = override.partition("=")
        parameters[name] = value
    try:
        transformed = transform(template, parameters, NoManagedPolicies())
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(f"sam_translate: {cause.message}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(transformed, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
