// The Rust benchmark's warm workload, in JavaScript: its realistic lead
// (bench/src/data.rs `lead`: the contract's fields plus 15 custom fields) and
// zen-engine's equivalent qualification graph and input (bench/src/zen.rs). The
// benchmark checks that zen's answers equal ours before it times anything.
'use strict';

const SOURCES = ['web_form', 'partner', 'trade_show'];

/** Lead `i`, canonical JSON as the program reads it. */
function lead(i) {
  const custom = {};
  for (let f = 0; f < 13; f += 1) {
    custom[`new_field_${String(f).padStart(2, '0')}`] = `value of custom field ${f} on lead ${i}`;
  }
  custom.new_industry = 'Government';
  custom.new_employees = 2500;
  return {
    id: `L-${String(i).padStart(7, '0')}`,
    company: 'Northwind Traders',
    contact_name: 'Robin Meyer',
    email: 'robin.meyer@northwind.example',
    topic: 'Fleet telematics for 400 vans',
    source: SOURCES[i % 3],
    engagement: 'conversation',
    budget: { amount: 120000, currency: 'EUR' },
    budget_status: i % 2 === 0 ? 'can_buy' : 'may_buy',
    decision_maker_known: i % 5 !== 0,
    need: 'must_have',
    timeframe: 'this_quarter',
    estimated_value: { amount: 90000, currency: 'EUR' },
    estimated_close: '2027-03-31',
    existing_customer: false,
    custom,
  };
}

/** zen-engine's input for a lead: the fields its graph reads. */
function zenLead(l) {
  return {
    source: l.source ?? null,
    engagement: l.engagement,
    budget_status: l.budget_status ?? null,
    decision_maker_known: l.decision_maker_known ?? null,
    need: l.need ?? null,
    timeframe: l.timeframe ?? null,
    existing_customer: l.existing_customer,
    new_industry: l.custom.new_industry ?? null,
    new_employees: l.custom.new_employees ?? null,
  };
}

function points(field, table) {
  return table.map(([value, p]) => `${field} == "${value}" ? ${p} : `).join('') + '0';
}

/** The strict policy's qualification as a JDM graph (bench/src/zen.rs). */
function qualificationGraph() {
  const source = points('source', [
    ['web_form', 30], ['phone_inquiry', 25], ['employee_referral', 25], ['external_referral', 20],
    ['partner', 20], ['word_of_mouth', 15], ['seminar', 15], ['advertisement', 10],
    ['public_relations', 10], ['trade_show', 10], ['other', 5],
  ]);
  const engagement = points('engagement', [
    ['content', 5], ['inquiry', 10], ['conversation', 15], ['evaluation', 25], ['proposal', 30], ['contract', 35],
  ]);
  const budget = points('budget_status', [['may_buy', 5], ['can_buy', 10], ['will_buy', 15]]);
  const need = points('need', [['must_have', 15], ['should_have', 10], ['good_to_have', 5]]);
  const timeframe = points('timeframe', [['immediate', 15], ['this_quarter', 12], ['next_quarter', 8], ['this_year', 4]]);
  const score = `min([100, (${source}) + (${engagement}) + (${budget}) + (decision_maker_known == true ? 10 : 0) `
    + `+ (${need}) + (${timeframe}) + (existing_customer == true ? 10 : 0) `
    + `+ (new_industry == "Government" ? 5 : 0) + (new_employees >= 1000 ? 5 : 0)])`;
  const known = 'budget_status != null and decision_maker_known == true and need != null '
    + 'and timeframe != null and timeframe != "unknown"';
  return {
    nodes: [
      { id: 'in', name: 'lead', type: 'inputNode', content: {} },
      { id: 'score', name: 'score', type: 'expressionNode', content: {
        passThrough: true,
        expressions: [{ id: 'x1', key: 'score', value: score }, { id: 'x2', key: 'known', value: known }],
      } },
      { id: 'outcome', name: 'outcome', type: 'decisionTableNode', content: {
        hitPolicy: 'first', passThrough: true,
        inputs: [{ id: 'n', name: 'Need', field: 'need' }, { id: 'k', name: 'Known', field: 'known' }, { id: 's', name: 'Score', field: 'score' }],
        outputs: [{ id: 'o', name: 'Outcome', field: 'outcome' }],
        rules: [
          { _id: 'r1', n: '"no_need"', k: '', s: '', o: '"disqualified"' },
          { _id: 'r2', n: '', k: 'false', s: '', o: '"needs_information"' },
          { _id: 'r3', n: '', k: '', s: '>= 60', o: '"qualified"' },
          { _id: 'r4', n: '', k: '', s: '', o: '"nurture"' },
        ],
      } },
      { id: 'rating', name: 'rating', type: 'decisionTableNode', content: {
        hitPolicy: 'first', passThrough: true,
        inputs: [{ id: 's', name: 'Score', field: 'score' }],
        outputs: [{ id: 'r', name: 'Rating', field: 'rating' }],
        rules: [{ _id: 'h', s: '>= 70', r: '"hot"' }, { _id: 'w', s: '>= 40', r: '"warm"' }, { _id: 'c', s: '', r: '"cold"' }],
      } },
      { id: 'out', name: 'out', type: 'outputNode', content: {} },
    ],
    edges: [
      { id: 'e1', sourceId: 'in', targetId: 'score' },
      { id: 'e2', sourceId: 'score', targetId: 'outcome' },
      { id: 'e3', sourceId: 'outcome', targetId: 'rating' },
      { id: 'e4', sourceId: 'rating', targetId: 'out' },
    ],
  };
}

module.exports = { lead, zenLead, qualificationGraph };
