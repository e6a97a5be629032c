//! The CDNOW summary shipped by the `lifetimes` PyPI package (converted by
//! `scripts/fixtures/cdnow.py`): the data the published model estimates come from.

/// The fixture, relative to this package.
const FIXTURE: &str = "tests/fixtures/cdnow_summary.csv";

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
    // Cargo names the package directory when it runs the tests; read at run time, not baked in
    // at compile time, so a test binary reused by another checkout reads that checkout's file.
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = std::path::Path::new(&dir).join(FIXTURE);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
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
