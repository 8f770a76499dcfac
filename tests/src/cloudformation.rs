//! `infra/template.yaml` as CloudFormation would deploy it: transformed by AWS SAM's own
//! translator (`scripts/sam_translate.py`, aws-sam-translator in `.venv`, as `sam deploy` hands
//! the template to CloudFormation), then, for a given set of parameter values, its parameters
//! checked against their constraints, its conditions decided, resources whose condition is false
//! left out, and its intrinsic functions evaluated.
//!
//! Stand-ins for what only a deployment knows: `Ref` to a resource gives its logical id,
//! `Fn::GetAtt` gives `Id.Attribute`, and the pseudo parameters are fixed (region us-east-1,
//! account 123456789012, stack `appkeys`). A reference to a resource that these parameters leave
//! out fails the evaluation, as it would fail the deployment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Map, Value};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const STACK: &str = "appkeys";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The transformed template (`target/sam/template.json`), made once per test binary from the
/// current `infra/template.yaml`.
pub fn transformed() -> &'static Value {
    static TRANSFORMED: OnceLock<Value> = OnceLock::new();
    TRANSFORMED.get_or_init(|| {
        let root = workspace();
        let python = root.join(".venv/bin/python");
        let output = root.join("target/sam/template.json");
        let run = Command::new(&python)
            .arg(root.join("scripts/sam_translate.py"))
            .arg(root.join("infra/template.yaml"))
            .arg(&output)
            .output()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run {} ({err}): install the template tools first \
                     (`source scripts/aws-local.sh; install_moto; install_template_tools`, \
                     as scripts/test does)",
                    python.display()
                )
            });
        assert!(
            run.status.success(),
            "SAM's translator refused infra/template.yaml:\n{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap()
    })
}

/// The stack one set of parameter values deploys.
pub struct Stack {
    pub parameters: BTreeMap<String, String>,
    pub conditions: BTreeMap<String, bool>,
    /// Only the resources these parameters create, with every intrinsic function evaluated.
    pub resources: BTreeMap<String, Value>,
}

/// What the parameters without a default are given (as `sam deploy --parameter-overrides`).
pub const REQUIRED_PARAMETERS: &[(&str, &str)] = &[
    (
        "JwtIssuer",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
    ),
    ("JwtAudience", "applications-api"),
];

impl Stack {
    /// The defaults, `REQUIRED_PARAMETERS` and then `overrides`.
    pub fn deploy(overrides: &[(&str, &str)]) -> Self {
        Self::try_deploy(overrides).unwrap_or_else(|refusal| panic!("{refusal}"))
    }

    /// As [`Self::deploy`], or the refusal of a template rule (`Rules`) that these parameters
    /// break, as CloudFormation would refuse them before creating anything.
    pub fn try_deploy(overrides: &[(&str, &str)]) -> Result<Self, String> {
        let template = transformed();
        let declared = template["Parameters"].as_object().expect("Parameters");
        let mut parameters = BTreeMap::new();
        for (name, declaration) in declared {
            if let Some(default) = declaration.get("Default") {
                parameters.insert(name.clone(), scalar(default));
            }
        }
        for (name, value) in REQUIRED_PARAMETERS.iter().chain(overrides) {
            assert!(declared.contains_key(*name), "no parameter {name}");
            parameters.insert(name.to_string(), value.to_string());
        }
        for (name, declaration) in declared {
            let value = parameters
                .get(name)
                .unwrap_or_else(|| panic!("parameter {name} has no value"));
            if let Err(problem) = check_constraints(declaration, value) {
                panic!("CloudFormation would refuse {name}={value:?}: {problem}");
            }
        }
        let mut stack = Stack {
            parameters,
            conditions: BTreeMap::new(),
            resources: BTreeMap::new(),
        };
        let conditions = template["Conditions"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for name in conditions.keys() {
            let decided = stack.condition(name, &conditions);
            stack.conditions.insert(name.clone(), decided);
        }
        stack.check_rules(template, &conditions)?;
        let all = template["Resources"].as_object().expect("Resources");
        let present: Vec<&String> = all
            .iter()
            .filter(|(_, resource)| {
                resource
                    .get("Condition")
                    .and_then(Value::as_str)
                    .is_none_or(|c| stack.conditions[c])
            })
            .map(|(id, _)| id)
            .collect();
        let present_ids: Vec<String> = present.iter().map(|id| id.to_string()).collect();
        for id in present {
            let evaluated = stack
                .evaluate(&all[id], &present_ids)
                .unwrap_or_else(|| panic!("{id} evaluates to nothing"));
            stack.resources.insert(id.clone(), evaluated);
        }
        Ok(stack)
    }

    fn check_rules(&self, template: &Value, conditions: &Map<String, Value>) -> Result<(), String> {
        let Some(rules) = template.get("Rules").and_then(Value::as_object) else {
            return Ok(());
        };
        for (name, rule) in rules {
            assert!(
                !rule.to_string().contains("\"Condition\""),
                "rule {name}: CloudFormation refuses a condition inside a rule"
            );
            let applies = rule
                .get("RuleCondition")
                .is_none_or(|condition| self.decide(condition, conditions));
            if !applies {
                continue;
            }
            for assertion in rule["Assertions"].as_array().expect("Assertions") {
                if !self.decide(&assertion["Assert"], conditions) {
                    return Err(format!(
                        "CloudFormation would refuse these parameters (rule {name}): {}",
                        assertion["AssertDescription"]
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn resource(&self, id: &str) -> &Value {
        self.resources
            .get(id)
            .unwrap_or_else(|| panic!("no resource {id} in this stack"))
    }

    pub fn of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .map(|(id, r)| (id.as_str(), r))
            .collect()
    }

    fn condition(&self, name: &str, all: &Map<String, Value>) -> bool {
        let definition = all
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        self.decide(definition, all)
    }

    fn decide(&self, expression: &Value, all: &Map<String, Value>) -> bool {
        let (function, arguments) = single_key(expression)
            .unwrap_or_else(|| panic!("not a condition function: {expression}"));
        let list = || arguments.as_array().expect("a list of arguments");
        match function {
            "Condition" => self.condition(arguments.as_str().unwrap(), all),
            "Fn::Not" => !self.decide(&list()[0], all),
            "Fn::And" => list().iter().all(|c| self.decide(c, all)),
            "Fn::Or" => list().iter().any(|c| self.decide(c, all)),
            "Fn::Equals" => {
                let sides: Vec<Value> = list()
                    .iter()
                    .map(|side| self.evaluate(side, &[]).expect("a value"))
                    .collect();
                scalar(&sides[0]) == scalar(&sides[1])
            }
            other => panic!("unsupported condition function {other}"),
        }
    }

    /// `None` stands for `AWS::NoValue`.
    fn evaluate(&self, value: &Value, resources: &[String]) -> Option<Value> {
        match value {
            Value::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .filter_map(|item| self.evaluate(item, resources))
                    .collect(),
            )),
            Value::Object(members) => {
                if let Some((function, arguments)) = single_key(value) {
                    if function == "Ref" || function.starts_with("Fn::") {
                        return self.intrinsic(function, arguments, resources);
                    }
                }
                Some(Value::Object(
                    members
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), self.evaluate(v, resources)?)))
                        .collect(),
                ))
            }
            other => Some(other.clone()),
        }
    }

    fn intrinsic(&self, function: &str, arguments: &Value, resources: &[String]) -> Option<Value> {
        let list = || arguments.as_array().expect("a list of arguments");
        let text = |value: &Value| scalar(&self.evaluate(value, resources).expect("a value"));
        match function {
            "Ref" => {
                let name = arguments.as_str().unwrap();
                if name == "AWS::NoValue" {
                    return None;
                }
                Some(Value::String(self.reference(name, resources)))
            }
            "Fn::GetAtt" => {
                let target = match arguments {
                    Value::Array(parts) => format!(
                        "{}.{}",
                        parts[0].as_str().unwrap(),
                        parts[1].as_str().unwrap()
                    ),
                    other => other.as_str().unwrap().to_owned(),
                };
                Some(Value::String(self.reference(&target, resources)))
            }
            "Fn::If" => {
                let decided = self.conditions[list()[0].as_str().unwrap()];
                self.evaluate(&list()[if decided { 1 } else { 2 }], resources)
            }
            "Fn::Sub" => {
                let (pattern, variables) = match arguments {
                    Value::String(pattern) => (pattern.as_str(), Map::new()),
                    Value::Array(parts) => (
                        parts[0].as_str().unwrap(),
                        parts[1].as_object().cloned().unwrap_or_default(),
                    ),
                    other => panic!("Fn::Sub {other}"),
                };
                Some(Value::String(
                    self.substitute(pattern, &variables, resources),
                ))
            }
            "Fn::Join" => {
                let items = self.evaluate(&list()[1], resources).expect("a list");
                let joined: Vec<String> = items.as_array().unwrap().iter().map(scalar).collect();
                Some(Value::String(joined.join(&text(&list()[0]))))
            }
            "Fn::Split" => Some(Value::Array(
                text(&list()[1])
                    .split(text(&list()[0]).as_str())
                    .map(|part| Value::String(part.to_owned()))
                    .collect(),
            )),
            "Fn::Select" => {
                let index: usize = text(&list()[0]).parse().unwrap();
                let items = self.evaluate(&list()[1], resources).expect("a list");
                Some(items[index].clone())
            }
            other => panic!("unsupported intrinsic function {other}"),
        }
    }

    fn reference(&self, name: &str, resources: &[String]) -> String {
        let pseudo = match name {
            "AWS::Region" => Some(REGION),
            "AWS::AccountId" => Some(ACCOUNT),
            "AWS::Partition" => Some("aws"),
            "AWS::StackName" => Some(STACK),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(value) = pseudo {
            return value.to_owned();
        }
        if let Some(value) = self.parameters.get(name) {
            return value.clone();
        }
        let resource = name.split('.').next().unwrap();
        assert!(
            resources.iter().any(|r| r == resource),
            "{name} refers to a resource these parameters do not create ({:?})",
            self.parameters
        );
        name.to_owned()
    }

    fn substitute(
        &self,
        pattern: &str,
        variables: &Map<String, Value>,
        resources: &[String],
    ) -> String {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("a closing brace");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(&scalar(&self.evaluate(value, resources).expect("a value")));
            } else {
                out.push_str(&self.reference(name, resources));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn single_key(value: &Value) -> Option<(&str, &Value)> {
    let members = value.as_object()?;
    (members.len() == 1).then(|| {
        let (k, v) = members.iter().next().unwrap();
        (k.as_str(), v)
    })
}

/// A parameter or property value as CloudFormation compares it: as a string.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other}"),
    }
}

/// CloudFormation's parameter constraints: AllowedValues, AllowedPattern (the whole value),
/// MinLength/MaxLength, MinValue/MaxValue (numbers).
pub fn check_constraints(declaration: &Value, value: &str) -> Result<(), String> {
    if let Some(allowed) = declaration.get("AllowedValues").and_then(Value::as_array) {
        if !allowed.iter().any(|a| scalar(a) == value) {
            return Err(format!("not one of {allowed:?}"));
        }
    }
    if let Some(pattern) = declaration.get("AllowedPattern").and_then(Value::as_str) {
        let whole = regex::Regex::new(&format!("^(?:{pattern})$")).expect("a valid pattern");
        if !whole.is_match(value) {
            return Err(format!("does not match {pattern}"));
        }
    }
    let length = value.chars().count() as u64;
    if let Some(min) = declaration.get("MinLength").and_then(Value::as_u64) {
        if length < min {
            return Err(format!("shorter than {min}"));
        }
    }
    if let Some(max) = declaration.get("MaxLength").and_then(Value::as_u64) {
        if length > max {
            return Err(format!("longer than {max}"));
        }
    }
    if declaration["Type"] == "Number" {
        let number: f64 = value.parse().map_err(|_| "not a number".to_owned())?;
        let bound = |key: &str| {
            declaration
                .get(key)
                .map(|b| scalar(b).parse::<f64>().unwrap())
        };
        if bound("MinValue").is_some_and(|min| number < min) {
            return Err("below MinValue".into());
        }
        if bound("MaxValue").is_some_and(|max| number > max) {
            return Err("above MaxValue".into());
        }
    }
    Ok(())
}
