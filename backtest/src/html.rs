//! A backtest as one self-contained HTML page: the headline figures next to the
//! baselines, the tables, and four plots drawn by `plotters` as inline SVG (ROC
//! curves, cumulative gains, a reliability diagram or conversion by decile, and
//! the scores of each outcome). No script, no file beside it: it can be mailed.

use std::fmt::Write as _;

use plotters::prelude::*;

use super::evaluate::{self, Report, Series};
use super::metrics;

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the {plot} plot")]
pub struct PlotError {
    /// Which plot.
    pub plot: &'static str,
    /// What plotters said.
    #[source]
    pub source: DrawingAreaErrorKind<std::io::Error>,
}

const WIDTH: u32 = 520;
const HEIGHT: u32 = 380;

/// Colours of the series in order: the policy, then the baselines.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(127, 127, 127),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn svg(plot: &'static str, draw: impl FnOnce(&mut String) -> Drawn) -> Result<String, PlotError> {
    let mut out = String::new();
    draw(&mut out).map_err(|source| PlotError { plot, source })?;
    Ok(out)
}

/// A plot of curves in the unit square, with the diagonal as a reference.
fn curves(
    plot: &'static str,
    caption: &str,
    x_label: &str,
    y_label: &str,
    lines: &[(String, Vec<(f64, f64)>)],
) -> Result<String, PlotError> {
    svg(plot, |out| {
        let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            ShapeStyle::from(&BLACK.mix(0.3)).stroke_width(1),
        ))?;
        for (i, (name, points)) in lines.iter().enumerate() {
            let style = ShapeStyle::from(&colour(i)).stroke_width(2);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), style))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(
                        [(x, y), (x + 16, y)],
                        ShapeStyle::from(&colour(i)).stroke_width(2),
                    )
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        root.present()
    })
}

/// Mean forecast against observed rate per bin, one line of points per series.
fn reliability(series: &[Series]) -> Result<String, PlotError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                metrics::reliability(&s.scores, &s.labels, 10)
                    .iter()
                    .map(|b| (b.predicted, b.observed))
                    .collect(),
            )
        })
        .collect();
    svg("reliability", |out| {
        let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Reliability: forecast against outcome", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("mean forecast probability in the bin")
            .y_desc("share won")
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            ShapeStyle::from(&BLACK.mix(0.3)).stroke_width(1),
        ))?;
        for (i, (name, points)) in lines.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    ShapeStyle::from(&c).stroke_width(1),
                ))?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, ShapeStyle::from(&c).filled()));
            chart.draw_series(
                points
                    .iter()
                    .map(|p| Circle::new(*p, 5, ShapeStyle::from(&c).filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        root.present()
    })
}

/// Bars of conversion per score decile, with the base rate as a line.
fn decile_bars(report: &super::evaluate::QualificationReport) -> Result<String, PlotError> {
    svg("deciles", |out| {
        let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Conversion by score decile", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.5f64..10.5f64, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("score decile (1 = lowest scores)")
            .y_desc("share converted")
            .x_labels(10)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        chart.draw_series(report.deciles.iter().map(|d| {
            let x = d.decile as f64;
            Rectangle::new(
                [(x - 0.4, 0.0), (x + 0.4, d.conversion)],
                ShapeStyle::from(&colour(0)).filled(),
            )
        }))?;
        chart
            .draw_series(LineSeries::new(
                [(0.5, report.base_rate), (10.5, report.base_rate)],
                ShapeStyle::from(&colour(1)).stroke_width(2),
            ))?
            .label("base rate")
            .legend(|(x, y)| {
                PathElement::new(
                    [(x, y), (x + 16, y)],
                    ShapeStyle::from(&colour(1)).stroke_width(2),
                )
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        root.present()
    })
}

/// Share of each outcome's records per tenth of the score range.
fn histogram(series: &Series, top: f64, x_label: &str) -> Result<String, PlotError> {
    let mut shares = [[0.0f64; 10]; 2];
    let counts = [
        series.labels.iter().filter(|y| !**y).count().max(1) as f64,
        series.labels.iter().filter(|y| **y).count().max(1) as f64,
    ];
    for (s, y) in series.scores.iter().zip(&series.labels) {
        let bin = ((s / top * 10.0).max(0.0) as usize).min(9);
        shares[usize::from(*y)][bin] += 1.0 / counts[usize::from(*y)];
    }
    let highest = shares
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(0.05)
        * 1.1;
    svg("histogram", |out| {
        let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Scores by outcome", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..top, 0f64..highest)?;
        let decimals = if top > 1.0 { 0 } else { 1 };
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("share of the outcome's records")
            .x_label_formatter(&|x| format!("{x:.decimals$}"))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let width = top / 10.0;
        for (k, (name, c)) in [("negative", colour(1)), ("positive", colour(2))]
            .into_iter()
            .enumerate()
        {
            let offset = if k == 0 { 0.08 } else { 0.5 } * width;
            chart
                .draw_series(shares[k].iter().enumerate().map(|(b, share)| {
                    let x = b as f64 * width + offset;
                    Rectangle::new(
                        [(x, 0.0), (x + 0.42 * width, *share)],
                        ShapeStyle::from(&c.mix(0.8)).filled(),
                    )
                }))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], ShapeStyle::from(&c).filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperMiddle)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        root.present()
    })
}

fn figure(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |x| format!("{x:.4}"))
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
.about{color:#555}table{border-collapse:collapse;margin:.6em 0}\
th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #bbb}\
.plots{display:grid;grid-template-columns:repeat(2,1fr);gap:12px}.plots svg{width:100%;height:auto;border:1px solid #eee}";

/// The page of a report. `about` lists what was run (org, data, command).
pub fn page(title: &str, about: &[(&str, String)], report: &Report) -> Result<String, PlotError> {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1><p class=\"about\">",
        escape(title),
        escape(title)
    );
    for (k, v) in about {
        let _ = write!(out, "{}: <b>{}</b><br>", escape(k), escape(v));
    }
    out.push_str("</p>");
    let series = report.series();
    let mut plots = Vec::new();
    type Curve = fn(&[f64], &[bool]) -> Vec<(f64, f64)>;
    let lines = |f: Curve| -> Vec<(String, Vec<(f64, f64)>)> {
        series
            .iter()
            .map(|s| (s.name.clone(), f(&s.scores, &s.labels)))
            .collect()
    };
    plots.push(curves(
        "ROC",
        "ROC curve",
        "false positive rate",
        "true positive rate",
        &lines(metrics::roc_curve),
    )?);
    plots.push(curves(
        "gains",
        "Cumulative gains (lift)",
        "share of records, highest scores first",
        "share of all positives",
        &lines(metrics::gains_curve),
    )?);
    match report {
        Report::Qualify(r) => {
            out.push_str("<h2>Headline</h2>");
            let mut rows = vec![vec![
                series
                    .first()
                    .map_or("policy".to_owned(), |s| s.name.clone()),
                r.figures.records.to_string(),
                figure(r.figures.auc),
                figure(Some(r.figures.precision)),
                figure(Some(r.figures.recall)),
                figure(Some(r.figures.f1)),
                r.figures.qualified.to_string(),
            ]];
            // The baselines in the order a reader compares them; scorers known
            // by their AUC alone (the regression) in their place among them.
            let names = evaluate::row_order(
                r.baselines
                    .keys()
                    .cloned()
                    .chain(r.auc_rows.iter().map(|a| a.0.clone())),
            );
            for name in names {
                if let Some(b) = r.baselines.get(&name) {
                    rows.push(vec![
                        name.clone(),
                        b.records.to_string(),
                        figure(b.auc),
                        figure(Some(b.precision)),
                        figure(Some(b.recall)),
                        figure(Some(b.f1)),
                        b.qualified.to_string(),
                    ]);
                } else if let Some((_, records, auc)) = r.auc_rows.iter().find(|a| a.0 == name) {
                    let none = "–".to_owned();
                    rows.push(vec![
                        name.clone(),
                        records.to_string(),
                        figure(*auc),
                        none.clone(),
                        none.clone(),
                        none.clone(),
                        none,
                    ]);
                }
            }
            table(
                &mut out,
                &[
                    "scorer",
                    "records",
                    "ROC AUC",
                    "precision",
                    "recall",
                    "F1",
                    "qualified",
                ],
                rows,
            );
            let _ = write!(
                out,
                "<p>{} positive of {} ({}); conversion {} monotone by score decile.</p>",
                r.positives,
                r.figures.records,
                percent(r.base_rate),
                if r.monotone_by_decile {
                    "is"
                } else {
                    "is <b>not</b>"
                }
            );
            if !r.lines.is_empty() {
                out.push_str("<h2>Lines</h2><p>Each line of the policy, and how the records at or above it did.</p>");
                table(
                    &mut out,
                    &[
                        "line",
                        "score",
                        "records at or above",
                        "precision",
                        "recall",
                    ],
                    r.lines.iter().map(|l| {
                        vec![
                            l.name.clone(),
                            l.score.to_string(),
                            l.records.to_string(),
                            figure(l.precision),
                            figure(l.recall),
                        ]
                    }),
                );
            }
            if !r.notes.is_empty() {
                out.push_str("<h2>Notes</h2><ul>");
                for n in &r.notes {
                    let _ = write!(out, "<li>{}</li>", escape(n));
                }
                out.push_str("</ul>");
            }
            plots.push(decile_bars(r)?);
            if let Some(s) = series.first() {
                plots.push(histogram(s, 100.0, "score")?);
            }
            push_plots(&mut out, &plots);
            out.push_str("<h2>Score deciles</h2>");
            table(
                &mut out,
                &["decile", "records", "scores", "converted", "lift"],
                r.deciles.iter().map(|d| {
                    vec![
                        d.decile.to_string(),
                        format!("{:.0}", d.records),
                        format!("{:.0}–{:.0}", d.score_min, d.score_max),
                        percent(d.conversion),
                        format!("{:.2}", d.lift),
                    ]
                }),
            );
            for (heading, groups) in [("By outcome", &r.outcomes), ("By rating", &r.ratings)] {
                let _ = write!(out, "<h2>{heading}</h2>");
                table(
                    &mut out,
                    &["", "records", "converted", "conversion"],
                    groups.iter().map(|g| {
                        vec![
                            g.name.clone(),
                            g.records.to_string(),
                            g.positives.to_string(),
                            percent(g.conversion),
                        ]
                    }),
                );
            }
            out.push_str("<h2>Rule effects</h2><p>How often each reason fired, and how the records with and without it converted.</p>");
            table(
                &mut out,
                &[
                    "reason code",
                    "points",
                    "fired",
                    "conversion when fired",
                    "when not",
                ],
                r.rule_effects.iter().map(|e| {
                    vec![
                        e.code.clone(),
                        e.points.map_or_else(String::new, |p| format!("{p:+}")),
                        e.fired.to_string(),
                        percent(e.conversion_fired),
                        // A reason every record had leaves no one to compare with.
                        e.conversion_not_fired
                            .map_or_else(|| "– (fired for all)".to_owned(), percent),
                    ]
                }),
            );
        }
        Report::Forecast(r) => {
            out.push_str("<h2>Headline</h2>");
            let mut rows = vec![vec![
                series
                    .first()
                    .map_or("policy".to_owned(), |s| s.name.clone()),
                r.figures.records.to_string(),
                figure(r.figures.brier),
                figure(r.figures.log_loss),
                figure(r.figures.auc),
            ]];
            for (name, b) in &r.baselines {
                rows.push(vec![
                    name.clone(),
                    b.records.to_string(),
                    figure(b.brier),
                    figure(b.log_loss),
                    figure(b.auc),
                ]);
            }
            table(
                &mut out,
                &["forecast", "records", "Brier", "log loss", "ROC AUC"],
                rows,
            );
            let _ = write!(
                out,
                "<p>{} won of {} ({}).</p>",
                r.positives,
                r.figures.records,
                percent(r.base_rate)
            );
            plots.push(reliability(series)?);
            if let Some(s) = series.first() {
                plots.push(histogram(s, 1.0, "forecast probability")?);
            }
            push_plots(&mut out, &plots);
            out.push_str("<h2>Reliability</h2>");
            table(
                &mut out,
                &["forecast", "records", "mean forecast", "share won"],
                r.reliability.iter().map(|b| {
                    vec![
                        format!("{:.1}–{:.1}", b.from, b.to),
                        b.records.to_string(),
                        format!("{:.3}", b.predicted),
                        format!("{:.3}", b.observed),
                    ]
                }),
            );
        }
    }
    out.push_str("</body></html>\n");
    Ok(out)
}

fn push_plots(out: &mut String, plots: &[String]) {
    out.push_str("<div class=\"plots\">");
    for p in plots {
        out.push_str("<div>");
        // The SVG's XML declaration has no place inside HTML.
        out.push_str(
            p.trim_start_matches(|c| c != '<')
                .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        );
        out.push_str("</div>");
    }
    out.push_str("</div>");
}
