//! Routing trees as written (`raw::Node`) → the arms, steps and pools Envoy can express.
//!
//! Two passes, so each mistake is reported once, where it was written:
//! - [`Checker::node`] checks one alias's own tree (shape, providers, weights) without
//!   following `alias:` references;
//! - [`Checker::lower`] follows references (reporting cycles) and flattens the tree into
//!   [`Arm`]s. It relies on the first pass for everything else and skips what it flagged.
//!
//! What Envoy can express: a chain of steps (the `priority_group` cluster specifier, one
//! group per attempt), each step a weighted pool of targets; and a weighted split between
//! such chains (one route per arm, matched by `runtime_fraction`). A split *inside* a chain
//! step whose members are themselves chains has no Envoy equivalent and is refused.
//!
//! A `conditional` node is a set of such trees, one per branch, that the gateway filter
//! chooses between before Envoy routes; so it is only allowed as the whole route of an
//! alias (directly, or through `alias:` references from the top of another route).

use std::collections::HashMap;

use super::conditions::condition;
use super::diagnostics::Problem;
use super::model::{Arm, Rule, Step, Target};
use super::raw;
use super::raw_conditions::Conditional;
use super::spans::{field, item};
use super::validate::{is_token, list};

/// Canary shares are rendered in basis points, so `percent: 0.5` is exact.
const BASIS_POINTS: f64 = 10_000.0;

/// Checks and lowers the routing trees of one document.
pub struct Checker<'a> {
    /// Declared provider names.
    pub providers: &'a [String],
    /// Each alias's tree and the path it was written at.
    pub trees: &'a HashMap<String, (String, &'a raw::Node)>,
    /// Findings, by path.
    pub found: Vec<(String, Problem)>,
}

/// An alias's route, lowered: the branches of a conditional route (none for any other),
/// then the default branch.
pub struct Lowered {
    pub rules: Vec<Rule>,
    pub arms: Vec<Arm>,
}

/// A lowered subtree.
enum Shape {
    /// One step: a pool of targets.
    Pool(Vec<Target>),
    /// Several steps in order.
    Chain(Vec<Step>),
    /// A weighted split between chains.
    Arms(Vec<Arm>),
}

/// Which kind a node is; `None` when it is not exactly one.
enum Kind<'n> {
    Target(&'n str, &'n str),
    Alias(&'n str),
    Fallback(&'n [raw::Node]),
    Weighted(&'n [raw::Node]),
    Canary(&'n raw::Canary),
    Conditional(&'n Conditional),
}

fn kind(node: &raw::Node) -> Option<Kind<'_>> {
    let kinds = [
        node.provider.is_some() || node.model.is_some(),
        node.alias.is_some(),
        node.fallback.is_some(),
        node.weighted.is_some(),
        node.canary.is_some(),
        node.conditional.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return None;
    }
    Some(match node {
        raw::Node {
            provider: Some(p),
            model: Some(m),
            ..
        } => Kind::Target(p, m),
        raw::Node { alias: Some(a), .. } => Kind::Alias(a),
        raw::Node {
            fallback: Some(f), ..
        } => Kind::Fallback(f),
        raw::Node {
            weighted: Some(w), ..
        } => Kind::Weighted(w),
        raw::Node {
            canary: Some(c), ..
        } => Kind::Canary(c),
        raw::Node {
            conditional: Some(c),
            ..
        } => Kind::Conditional(c),
        // `provider` without `model` or the other way round.
        _ => return None,
    })
}

/// The canary's candidate share in basis points, if the percent is in range.
fn canary_share(percent: f64) -> Option<u32> {
    let share = (percent * BASIS_POINTS / 100.0).round();
    // Both arms must get traffic, or the canary is a plain target.
    (1.0..BASIS_POINTS).contains(&share).then_some(share as u32)
}

impl Checker<'_> {
    fn report(&mut self, path: &str, problem: Problem) {
        self.found.push((path.to_string(), problem));
    }

    /// First pass over the route of one alias: its root may be conditional.
    pub fn route(&mut self, path: &str, node: &raw::Node) {
        let Some(conditional) = &node.conditional else {
            return self.node(path, node, false);
        };
        if kind(node).is_none() {
            return self.report(path, Problem::RouteNodeShape);
        }
        let path = field(path, "conditional");
        let rules = field(&path, "rules");
        if conditional.rules.is_empty() {
            self.report(&rules, Problem::Empty);
        }
        for (i, rule) in conditional.rules.iter().enumerate() {
            let rule_path = item(&rules, i);
            condition(&field(&rule_path, "when"), &rule.when, &mut self.found);
            self.node(&field(&rule_path, "route"), &rule.route, false);
        }
        match &conditional.default {
            Some(default) => self.node(&field(&path, "default"), default, false),
            None => self.report(&path, Problem::NoDefault),
        }
    }

    /// First pass: one node and its children, without following `alias:` references.
    /// `in_pool` says whether the node is a member of a `weighted` pool.
    pub fn node(&mut self, path: &str, node: &raw::Node, in_pool: bool) {
        if node.weight.is_some() && !in_pool {
            self.report(&field(path, "weight"), Problem::WeightOutsidePool);
        }
        let Some(kind) = kind(node) else {
            self.report(path, Problem::RouteNodeShape);
            return;
        };
        match kind {
            Kind::Target(provider, model) => {
                if !self.providers.iter().any(|p| p == provider) {
                    let known = list(self.providers.iter().map(String::as_str));
                    let name = provider.to_string();
                    self.report(
                        &field(path, "provider"),
                        Problem::UnknownProvider { name, known },
                    );
                }
                if !is_token(model) {
                    let what = "model name";
                    let value = model.to_string();
                    let rule = "use printable characters without spaces";
                    self.report(
                        &field(path, "model"),
                        Problem::BadName { what, value, rule },
                    );
                }
            }
            Kind::Alias(alias) => {
                if !self.trees.contains_key(alias) {
                    let mut known: Vec<&str> = self.trees.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    let name = alias.to_string();
                    let known = known.join(", ");
                    self.report(
                        &field(path, "alias"),
                        Problem::UnknownRouteAlias { name, known },
                    );
                }
            }
            Kind::Fallback(steps) => self.children(&field(path, "fallback"), steps, false),
            Kind::Weighted(members) => {
                let list = field(path, "weighted");
                self.children(&list, members, true);
                if !members.is_empty() && members.iter().all(|m| m.weight == Some(0)) {
                    self.report(&list, Problem::ZeroWeights);
                }
            }
            Kind::Canary(canary) => {
                let path = field(path, "canary");
                if canary_share(canary.percent).is_none() {
                    let value = canary.percent.to_string();
                    self.report(&field(&path, "percent"), Problem::CanaryPercent(value));
                }
                self.node(&field(&path, "stable"), &canary.stable, false);
                self.node(&field(&path, "candidate"), &canary.candidate, false);
            }
            Kind::Conditional(_) => {
                self.report(&field(path, "conditional"), Problem::ConditionalNotAtTop)
            }
        }
    }

    fn children(&mut self, path: &str, nodes: &[raw::Node], in_pool: bool) {
        if nodes.is_empty() {
            self.report(path, Problem::Empty);
        }
        for (i, node) in nodes.iter().enumerate() {
            self.node(&item(path, i), node, in_pool);
        }
    }

    /// Second pass: the branches and arms of `alias`, following references. `None` after
    /// reporting why its tree cannot be routed (or when the first pass already found a
    /// problem).
    pub fn lower(&mut self, alias: &str) -> Option<Lowered> {
        let (path, _) = self.trees.get(alias)?;
        let path = path.clone();
        let lowered = match self.lower_route(alias) {
            Ok(lowered) => lowered?,
            Err(problem) => {
                self.report(&path, problem);
                return None;
            }
        };
        let branches = lowered.rules.iter().map(|r| &r.arms).chain([&lowered.arms]);
        let mut served: HashMap<&str, &str> = HashMap::new();
        for target in branches
            .flatten()
            .flat_map(|a| &a.steps)
            .flat_map(|s| &s.targets)
        {
            let first = *served.entry(&target.provider).or_insert(&target.model);
            if first != target.model {
                let problem = Problem::ProviderTwice {
                    provider: target.provider.clone(),
                    first: first.to_string(),
                    second: target.model.clone(),
                };
                self.report(&path, problem);
                return None;
            }
        }
        Some(lowered)
    }

    /// The route of `alias`: `alias:` references at its top are followed, so several
    /// aliases can share one conditional route (and tell themselves apart by `model`).
    fn lower_route(&self, alias: &str) -> Result<Option<Lowered>, Problem> {
        let mut stack = vec![alias.to_string()];
        let Some((_, mut node)) = self.trees.get(alias) else {
            return Ok(None);
        };
        while let Some(Kind::Alias(next)) = kind(node) {
            if stack.iter().any(|a| a == next) {
                stack.push(next.to_string());
                return Err(Problem::Cycle(stack.join(" → ")));
            }
            let Some((_, referenced)) = self.trees.get(next) else {
                return Ok(None);
            };
            stack.push(next.to_string());
            node = referenced;
        }
        let Some(Kind::Conditional(conditional)) = kind(node) else {
            let arms = self.shape(node, &mut stack)?.map(arms);
            return Ok(arms.map(|arms| Lowered {
                rules: vec![],
                arms,
            }));
        };
        let mut rules = Vec::with_capacity(conditional.rules.len());
        for rule in &conditional.rules {
            // Reported by the first pass, at the alias that wrote it.
            let when = condition("", &rule.when, &mut Vec::new());
            let (Some(when), Some(shape)) = (when, self.shape(&rule.route, &mut stack)?) else {
                return Ok(None);
            };
            rules.push(Rule {
                when,
                arms: arms(shape),
            });
        }
        let Some(default) = &conditional.default else {
            return Ok(None);
        };
        Ok(self.shape(default, &mut stack)?.map(|shape| Lowered {
            rules,
            arms: arms(shape),
        }))
    }

    /// `Ok(None)`: a problem the first pass reported.
    fn shape(&self, node: &raw::Node, stack: &mut Vec<String>) -> Result<Option<Shape>, Problem> {
        let Some(kind) = kind(node) else {
            return Ok(None);
        };
        Ok(Some(match kind {
            Kind::Target(provider, model) => {
                if !self.providers.iter().any(|p| p == provider) {
                    return Ok(None);
                }
                Shape::Pool(vec![Target {
                    provider: provider.to_string(),
                    model: model.to_string(),
                    weight: 1,
                }])
            }
            Kind::Alias(alias) => {
                if stack.iter().any(|a| a == alias) {
                    stack.push(alias.to_string());
                    return Err(Problem::Cycle(stack.join(" → ")));
                }
                let Some((_, referenced)) = self.trees.get(alias) else {
                    return Ok(None);
                };
                if referenced.conditional.is_some() {
                    return Err(Problem::ConditionalReference(alias.to_string()));
                }
                stack.push(alias.to_string());
                let shape = self.shape(referenced, stack);
                stack.pop();
                return shape;
            }
            Kind::Fallback(nodes) => {
                let mut steps = Vec::new();
                for node in nodes {
                    match self.shape(node, stack)? {
                        None => return Ok(None),
                        Some(Shape::Pool(targets)) => steps.push(Step { targets }),
                        Some(Shape::Chain(more)) => steps.extend(more),
                        Some(Shape::Arms(_)) => {
                            return Err(Problem::NotExpressible(
                                "a fallback step cannot split traffic between chains; \
                                 put the split at the top of the route",
                            ))
                        }
                    }
                }
                Shape::Chain(steps)
            }
            Kind::Weighted(nodes) => {
                let mut members = Vec::with_capacity(nodes.len());
                for node in nodes {
                    let Some(shape) = self.shape(node, stack)? else {
                        return Ok(None);
                    };
                    members.push((node.weight.unwrap_or(1), shape));
                }
                split(members)?
            }
            Kind::Canary(canary) => {
                let Some(share) = canary_share(canary.percent) else {
                    return Ok(None);
                };
                let (Some(stable), Some(candidate)) = (
                    self.shape(&canary.stable, stack)?,
                    self.shape(&canary.candidate, stack)?,
                ) else {
                    return Ok(None);
                };
                split(vec![
                    (BASIS_POINTS as u32 - share, stable),
                    (share, candidate),
                ])?
            }
            // Reported by the first pass.
            Kind::Conditional(_) => return Ok(None),
        }))
    }
}

/// A lowered tree as a weighted split between chains (usually one chain).
fn arms(shape: Shape) -> Vec<Arm> {
    match shape {
        Shape::Pool(targets) => vec![Arm {
            weight: 1,
            steps: vec![Step { targets }],
        }],
        Shape::Chain(steps) => vec![Arm { weight: 1, steps }],
        Shape::Arms(arms) => arms,
    }
}

/// A weighted split: one pool when every member is a single target, else one arm per
/// member. Members of weight 0 are left out.
fn split(members: Vec<(u32, Shape)>) -> Result<Shape, Problem> {
    let members: Vec<(u32, Shape)> = members.into_iter().filter(|(w, _)| *w > 0).collect();
    let single = |shape: &Shape| matches!(shape, Shape::Pool(t) if t.len() == 1);
    if members.iter().all(|(_, shape)| single(shape)) {
        let targets = members
            .into_iter()
            .filter_map(|(weight, shape)| match shape {
                Shape::Pool(mut targets) => targets.pop().map(|t| Target { weight, ..t }),
                _ => None,
            })
            .collect();
        return Ok(Shape::Pool(targets));
    }
    let mut arms = Vec::with_capacity(members.len());
    for (weight, shape) in members {
        let steps = match shape {
            Shape::Pool(targets) => vec![Step { targets }],
            Shape::Chain(steps) => steps,
            Shape::Arms(_) => {
                return Err(Problem::NotExpressible(
                    "a split inside a split whose members are chains; merge them into one",
                ))
            }
        };
        arms.push(Arm { weight, steps });
    }
    Ok(Shape::Arms(arms))
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
