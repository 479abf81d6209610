//! The stage-probability tables forecasts are compared with: a CRM's default
//! probability per stage (read from the vendor vocabularies the adapters use, with
//! their sources in `docs/adapters.md`), mapped onto the org's stages, or a table
//! the mapping gives outright.

use std::collections::HashMap;

use super::mapping::{Mapping, MappingError};
use crm_rules::crm::{Format, Vocabularies};

/// A named stage-probability table: the org's stage -> probability (0..1).
pub type StageTable = (String, HashMap<String, f64>);

/// Each baseline table of the mapping as the org's stage -> probability (0..1).
pub fn stage_tables(
    mapping: &Mapping,
    vocabularies: &Vocabularies,
) -> Result<Vec<StageTable>, MappingError> {
    let mut tables = Vec::new();
    for (name, table) in &mapping.baselines {
        let at = format!("baselines.{name}");
        let mut probabilities: HashMap<String, f64> = table
            .probabilities
            .iter()
            .map(|(s, p)| (s.clone(), *p))
            .collect();
        if let Some(crm) = &table.crm {
            let format: Format = crm.parse().map_err(|message: String| MappingError {
                path: format!("{at}.crm"),
                message,
            })?;
            let vocabulary = vocabularies.get(format).ok_or_else(|| MappingError {
                path: format!("{at}.crm"),
                message: "the canonical format has no stage table".to_owned(),
            })?;
            for (stage, native) in &table.stages {
                let entry = vocabulary.stage(native).ok_or_else(|| MappingError {
                    path: format!("{at}.stages.{stage}"),
                    message: format!("{crm} has no stage `{native}`"),
                })?;
                let p = entry.probability.ok_or_else(|| MappingError {
                    path: format!("{at}.stages.{stage}"),
                    message: format!("{crm} documents no default probability for `{native}`"),
                })?;
                probabilities.insert(stage.clone(), p / 100.0);
            }
        }
        tables.push((name.clone(), probabilities));
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_defaults_map_onto_the_orgs_stages() {
        let mapping = Mapping::parse(
            r#"{"decision": "forecast", "id": "id", "fields": {"stage": {"value": "Engaging"}},
                "outcome": {"column": "s", "positive": ["Won"], "negative": ["Lost"]},
                "baselines": {"salesforce_default": {"crm": "salesforce",
                   "stages": {"Prospecting": "Prospecting", "Engaging": "Negotiation/Review"}}}}"#,
        )
        .unwrap();
        let tables = stage_tables(&mapping, &Vocabularies::default()).unwrap();
        assert_eq!(tables[0].0, "salesforce_default");
        assert_eq!(tables[0].1["Prospecting"], 0.1);
        assert_eq!(tables[0].1["Engaging"], 0.9);
    }

    #[test]
    fn a_crm_without_default_probabilities_says_so() {
        let mapping = Mapping::parse(
            r#"{"decision": "forecast", "id": "id", "fields": {"stage": {"value": "Develop"}},
                "outcome": {"column": "s", "positive": ["Won"], "negative": ["Lost"]},
                "baselines": {"dynamics": {"crm": "dataverse", "stages": {"Develop": "1"}}}}"#,
        )
        .unwrap();
        let err = stage_tables(&mapping, &Vocabularies::default()).unwrap_err();
        assert_eq!(err.path, "baselines.dynamics.stages.Develop");
        assert!(err.message.contains("no default probability"), "{err}");
    }
}
