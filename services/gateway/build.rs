//! The web console's built files are embedded in the gateway (`src/console.rs`): build again
//! when they change, or when they appear.
fn main() {
    let dist = std::path::Path::new("../../console/dist");
    if dist.exists() {
        println!("cargo:rerun-if-changed=../../console/dist");
    } else {
        // Watching the missing folder would build again every time; its parent exists.
        println!("cargo:rerun-if-changed=../../console");
    }
}
