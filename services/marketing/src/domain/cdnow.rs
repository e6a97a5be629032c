//! The CDNOW summary shipped by the `lifetimes` PyPI package (converted by
//! `scripts/fixtures/cdnow.py`): the data the published model estimates come from.

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cdnow_summary.csv");

/// One customer: repeat purchases, time of the last one, age, mean repeat spend.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
    pub zbar: f64,
}

/// Reads the `ID,x,t_x,T,zbar` rows by hand.
pub fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("cannot read {PATH}: {e}"));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<f64> = line
                .split(',')
                .map(|v| v.trim().parse().expect("number"))
                .collect();
            Row {
                x: cols[1],
                t_x: cols[2],
                t: cols[3],
                zbar: cols[4],
            }
        })
        .collect()
}
