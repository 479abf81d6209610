//! The input query: what a module's rules read, declared once at `init`
//! (`module-info.reads`) so the host lowers only that for each decision.
//!
//! Declarations only add: the reference rules declare what they read, a custom
//! module adds what its own rules read on top.

use crate::contract::{CustomValue, FieldRef, FieldValue, InputQuery, LeadTexts, OpportunityParts};

/// A custom field the rules read: its index in `input-query.custom-fields`, which
/// is what `custom-value.field` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomFieldId(u32);

impl CustomFieldId {
    /// The index in `input-query.custom-fields`.
    pub const fn index(self) -> u32 {
        self.0
    }

    /// The field's value among a record's custom values, when it holds one.
    pub fn find(self, custom: &[CustomValue]) -> Option<&FieldValue> {
        custom.iter().find(|c| c.field == self.0).map(|c| &c.value)
    }

    /// The field, to name it in an answer (`arg::field`, `arg::value`).
    pub fn field_ref(self) -> FieldRef {
        FieldRef::Custom(self.0)
    }
}

/// The input query being declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Reads {
    query: InputQuery,
}

impl Default for Reads {
    fn default() -> Self {
        Reads {
            query: InputQuery {
                qualify: LeadTexts::empty(),
                convert: LeadTexts::empty(),
                transition: OpportunityParts::empty(),
                forecast: OpportunityParts::empty(),
                custom_fields: Vec::new(),
            },
        }
    }
}

impl Reads {
    /// Reads nothing yet (presence flags, enums and numbers always cross).
    pub fn new() -> Self {
        Reads::default()
    }

    /// Reads a custom field by its CRM name; asking twice gives the same id.
    pub fn custom_field(&mut self, name: &str) -> CustomFieldId {
        let fields = &mut self.query.custom_fields;
        let at = match fields.iter().position(|f| f == name) {
            Some(at) => at,
            None => {
                fields.push(name.to_owned());
                fields.len() - 1
            }
        };
        // A list of more than u32::MAX names cannot cross the boundary anyway.
        CustomFieldId(u32::try_from(at).unwrap_or(u32::MAX))
    }

    /// Lead texts `qualify` reads.
    pub fn qualify(&mut self, texts: LeadTexts) -> &mut Self {
        self.query.qualify |= texts;
        self
    }

    /// Lead texts `convert` reads.
    pub fn convert(&mut self, texts: LeadTexts) -> &mut Self {
        self.query.convert |= texts;
        self
    }

    /// Opportunity parts `check-transition` reads.
    pub fn transition(&mut self, parts: OpportunityParts) -> &mut Self {
        self.query.transition |= parts;
        self
    }

    /// Opportunity parts `forecast` reads.
    pub fn forecast(&mut self, parts: OpportunityParts) -> &mut Self {
        self.query.forecast |= parts;
        self
    }

    /// The query as declared so far.
    pub fn query(&self) -> &InputQuery {
        &self.query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_field_is_listed_once() {
        let mut reads = Reads::new();
        let a = reads.custom_field("Region__c");
        let b = reads.custom_field("NumberOfEmployees");
        assert_eq!(reads.custom_field("Region__c"), a);
        assert_eq!((a.index(), b.index()), (0, 1));
        assert_eq!(reads.query().custom_fields.len(), 2);
    }

    #[test]
    fn declarations_add_up() {
        let mut reads = Reads::new();
        reads.convert(LeadTexts::EMAIL).convert(LeadTexts::COMPANY);
        assert_eq!(reads.query().convert, LeadTexts::EMAIL | LeadTexts::COMPANY);
        assert!(reads.query().qualify.is_empty());
    }

    #[test]
    fn a_value_is_found_by_its_field() {
        let custom = [CustomValue {
            field: 1,
            value: FieldValue::Number(3.0),
        }];
        assert_eq!(
            CustomFieldId(1).find(&custom),
            Some(&FieldValue::Number(3.0))
        );
        assert_eq!(CustomFieldId(0).find(&custom), None);
    }
}
