//! Whether every target of an alias can accept the requests the alias serves (tools,
//! images, structured output, embeddings; see `tollgate_core::capabilities`).
//!
//! An alias may declare what it serves (`serves: [tools, images]`): every target must
//! then support all of it, or the configuration is refused. Without a declaration the
//! primary target sets the expectation, and a target lacking part of it is a warning:
//! such requests get a 400 naming the feature when they reach that target.

use tollgate_core::capabilities::{self, Feature};

use super::diagnostics::Problem;
use super::model::{Model, Provider};
use super::spans::{field, item};
use super::validate::{list, Validator};

impl Validator<'_> {
    /// Checks `model` (written at `path`) against its `serves:` list, if any.
    pub(super) fn features(
        &mut self,
        path: &str,
        model: &Model,
        serves: Option<&[String]>,
        providers: &[Provider],
    ) {
        let format = |name: &str| {
            providers
                .iter()
                .find(|p| p.name == name)
                .map(|p| (p.kind, p.format()))
        };
        let Some(serves) = serves else {
            let Some((primary, (_, format_of_primary))) = model
                .primary()
                .and_then(|t| Some((t.provider.as_str(), format(&t.provider)?)))
            else {
                return;
            };
            let expected = capabilities::of(format_of_primary);
            for target in model.targets() {
                let Some((kind, target_format)) = format(&target.provider) else {
                    continue;
                };
                let lacking = capabilities::lacking(target_format, &expected);
                if !lacking.is_empty() {
                    let problem = Problem::FeaturesOfPrimary {
                        target: format!("{:?} (kind {kind})", target.provider),
                        lacking: names(&lacking),
                        primary: primary.into(),
                    };
                    self.report(&field(path, "route"), problem);
                    return;
                }
            }
            return;
        };
        let serves_path = field(path, "serves");
        let mut declared = Vec::with_capacity(serves.len());
        for (i, name) in serves.iter().enumerate() {
            match Feature::parse(name) {
                Some(feature) => declared.push(feature),
                None => self.report(
                    &item(&serves_path, i),
                    Problem::Unknown {
                        what: "feature",
                        value: name.clone(),
                        expected: list(Feature::ALL.iter().map(|f| f.name())),
                    },
                ),
            }
        }
        let mut reported = Vec::new();
        for target in model.targets() {
            let Some((kind, target_format)) = format(&target.provider) else {
                continue;
            };
            let lacking = capabilities::lacking(target_format, &declared);
            if !lacking.is_empty() && !reported.contains(&target.provider) {
                reported.push(target.provider.clone());
                let problem = Problem::FeaturesNotServed {
                    provider: target.provider.clone(),
                    kind,
                    lacking: names(&lacking),
                };
                self.report(&serves_path, problem);
            }
        }
    }
}

fn names(features: &[Feature]) -> String {
    list(features.iter().map(|f| f.name()))
}
