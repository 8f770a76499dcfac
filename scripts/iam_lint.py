#!/usr/bin/env python3
"""Runs parliament (the IAM policy linter) over every IAM policy of a transformed template.

    iam_lint.py TRANSFORMED.json [PARLIAMENT_CONFIG.yaml]

TRANSFORMED.json is scripts/sam_translate.py's output. Every identity policy in it (each role's
inline policies, any policy resource) is resolved enough for parliament: `Ref`/`Fn::GetAtt` of a
resource become a placeholder ARN of the right shape for its type, pseudo parameters and the
parameters in PARAMETERS placeholder values, `Fn::Sub` and `Fn::Join` are applied; a document with
`Fn::If` is checked twice, every condition true and then every one false (`AWS::NoValue` drops its
item); anything else fails. Prints each finding with the
function whose role it is, and exits 1 when there is any. Suppressions live in parliament's own
config (the second argument), each with its reason.
"""

import json
import re
import sys

import parliament
from parliament.cli import is_finding_filtered

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "appkeys",
}

# (resource type, attribute or "Ref") -> placeholder. `{name}` is the logical id, lowercased.
PLACEHOLDERS = {
    ("AWS::DynamoDB::Table", "Arn"): "arn:aws:dynamodb:{region}:{account}:table/{name}",
    ("AWS::DynamoDB::Table", "Ref"): "{name}",
    # A real stream label is a timestamp with colons (2024-01-01T00:00:00.000), which parliament
    # reads as a malformed resource part; the placeholder keeps the shape without them.
    ("AWS::DynamoDB::Table", "StreamArn"): (
        "arn:aws:dynamodb:{region}:{account}:table/{name}/stream/2024-01-01T00-00-00.000"
    ),
    ("AWS::SecretsManager::Secret", "Ref"): (
        "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"
    ),
    ("AWS::Events::EventBus", "Arn"): "arn:aws:events:{region}:{account}:event-bus/{name}",
    ("AWS::Events::EventBus", "Ref"): "{name}",
    ("AWS::SQS::Queue", "Arn"): "arn:aws:sqs:{region}:{account}:{name}",
    ("AWS::SQS::Queue", "Ref"): "https://sqs.{region}.amazonaws.com/{account}/{name}",
    ("AWS::SNS::Topic", "Ref"): "arn:aws:sns:{region}:{account}:{name}",
    ("AWS::Lambda::Function", "Arn"): "arn:aws:lambda:{region}:{account}:function:{name}",
    ("AWS::Logs::LogGroup", "Arn"): "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    ("AWS::IAM::Role", "Arn"): "arn:aws:iam::{account}:role/{name}",
}


# Parameters a policy may name, with a value of the shape their AllowedPattern requires.
PARAMETERS = {
    "SecretScanningTokenSecretArn": (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:github-token-AbCdEf"
    ),
}

NO_VALUE = object()


class Unresolved(Exception):
    pass


def placeholder(resources, logical_id, attribute):
    resource = resources.get(logical_id)
    if resource is None:
        raise Unresolved(f"{logical_id} is no resource of the template")
    shape = PLACEHOLDERS.get((resource["Type"], attribute))
    if shape is None:
        raise Unresolved(f"no placeholder for {resource['Type']} {attribute} ({logical_id})")
    return shape.format(region=REGION, account=ACCOUNT, name=logical_id.lower())


def resolve(value, resources, branch=True):
    """`value` with every intrinsic function replaced by a plausible literal, and every `Fn::If`
    by its `branch`."""
    if isinstance(value, list):
        items = [resolve(item, resources, branch) for item in value]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            if argument in PSEUDO:
                return PSEUDO[argument]
            if argument in PARAMETERS:
                return PARAMETERS[argument]
            return placeholder(resources, argument, "Ref")
        if function == "Fn::If":
            _, when_true, when_false = argument
            return resolve(when_true if branch else when_false, resources, branch)
        if function == "Fn::GetAtt":
            logical_id, attribute = (
                argument.split(".", 1) if isinstance(argument, str) else argument
            )
            return placeholder(resources, logical_id, attribute)
        if function == "Fn::Sub":
            template, variables = (argument, {}) if isinstance(argument, str) else argument
            variables = {name: resolve(v, resources, branch) for name, v in variables.items()}

            def substitute(match):
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if name in PSEUDO:
                    return PSEUDO[name]
                if name in PARAMETERS:
                    return PARAMETERS[name]
                if "." in name:
                    return placeholder(resources, *name.split(".", 1))
                return placeholder(resources, name, "Ref")

            return re.sub(r"\$\{([^!}][^}]*)\}", substitute, template)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in resolve(items, resources, branch))
        if function.startswith("Fn::") or function == "Condition":
            raise Unresolved(f"{function} is not resolved for parliament")
    resolved = {key: resolve(item, resources, branch) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def policies(template):
    """(resource id, policy name, document) of every identity policy in the template: the roles'
    inline policies and any policy resource. Trust policies are left out: parliament reads every
    document as an identity policy, and a trust policy has no Resource."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if "PolicyDocument" in properties:
            yield logical_id, properties.get("PolicyName", "policy"), properties["PolicyDocument"]
        for policy in properties.get("Policies", []) or []:
            yield logical_id, policy.get("PolicyName", "inline"), policy["PolicyDocument"]


def role_owners(resources):
    """role logical id -> the function(s) it is the execution role of."""
    owners = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource.get("Properties", {}).get("Role", {})
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            target = role["Fn::GetAtt"]
            target = target.split(".", 1)[0] if isinstance(target, str) else target[0]
            owners.setdefault(target, []).append(logical_id)
    return owners


def ignored(finding):
    """Whether the config's `ignore_locations` for the finding's issue matches its location, as
    parliament documents them (every key of one entry matches, any value of a key; regular
    expressions, whole and case-insensitive). Parliament 1.6.4's own check drops values read from
    YAML (its make_list only takes its JSON parser's nodes), so it is applied here."""
    for entry in finding.ignore_locations or []:
        if all(
            any(
                re.fullmatch(str(pattern).lower(), str(finding.location.get(key, "")).lower())
                for pattern in (values if isinstance(values, list) else [values])
            )
            for key, values in entry.items()
        ):
            return True
    return False


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        template = json.load(handle)
    if len(argv) == 3:
        parliament.override_config(argv[2])
    resources = template.get("Resources", {})
    owners = role_owners(resources)
    checked, failed = 0, 0
    for logical_id, name, document in policies(template):
        who = "/".join(owners.get(logical_id, [])) or logical_id
        where = f"{who} ({logical_id}, {name})"
        branches = [True, False] if '"Fn::If"' in json.dumps(document) else [True]
        for branch in branches:
            try:
                resolved = resolve(document, resources, branch)
            except Unresolved as problem:
                print(f"iam-lint: {where}: {problem}")
                failed += 1
                continue
            checked += 1
            policy = parliament.analyze_policy_string(json.dumps(resolved), where)
            for finding in policy.findings:
                finding = parliament.enhance_finding(finding)
                if is_finding_filtered(finding, "INFO") or ignored(finding):
                    continue
                failed += 1
                print(
                    f"iam-lint: {where}: {finding.severity} {finding.issue}: {finding.title} "
                    f"{finding.detail} {finding.location}"
                )
    if checked == 0:
        print("iam-lint: no policy found", file=sys.stderr)
        return 1
    print(f"iam-lint: {checked} policy documents, {failed} findings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
