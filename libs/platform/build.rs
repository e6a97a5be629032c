//! `sqlx::migrate!` embeds the migration files but cannot tell cargo about files added later:
//! without this, a new migration is left out of a build that reuses an old one.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
