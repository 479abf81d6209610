//! Rules proven on real outcomes: backtest, what-if and calibration on labelled
//! history (behind the `backtest` feature, which the program turns on).
//!
//! ```text
//!  CSV / JSON lines ──tabular + mapping──► labelled records ──decide (per as_of)──► answers
//!                                                 │                                    │
//!                                                 └──────────── evaluate ◄─────────────┘
//!                                                        (AUC, Brier, deciles, rule effects)
//! ```
//!
//! - [`mapping`] and [`tabular`]: a table and its mapping file into [`tabular::Labelled`]
//!   records, each with its contract input, decision time and outcome.
//! - [`decide`]: every record decided by an org's active version at its own time.
//! - [`metrics`] and [`evaluate`]: the figures, next to the baselines
//!   ([`baselines`]: the base rate, a CRM's default stage probabilities).
//! - [`calibrate`]: a new policy for the reference module fitted on the older
//!   part of closed history and judged on the newer part.
//! - [`whatif`]: two versions over the same records, and what changed.
//! - [`html`]: a self-contained report with plots.
//!
//! The crates doing the heavy lifting: `csv` reads tables, `linfa-logistic` fits
//! the logistic regressions behind a calibrated policy, `plotters` draws the
//! report's SVG plots.

pub mod baselines;
pub mod calibrate;
pub mod decide;
pub mod evaluate;
pub mod html;
pub mod lint;
pub mod mapping;
pub mod metrics;
pub mod split;
pub mod tabular;
pub mod whatif;

pub use evaluate::{evaluate, Baselines, Report};
pub use mapping::Mapping;
pub use tabular::{Labelled, Outcome, Table, TableError};
