//! Which database errors may pass by themselves: the database unreachable, restarting or out of
//! connections, a lock conflict, a cancelled statement. A consumer waits them out; a call
//! answers `UNAVAILABLE`, which tells its client to try again.

/// Whether `err` may pass by itself (see the module).
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient_code(&code)),
        _ => false,
    }
}

/// Whether a database error code is transient. PostgreSQL's SQLSTATEs have five characters:
/// connection exceptions (08), serialization failures and deadlocks (40001, 40P01),
/// insufficient resources (53), operator intervention such as a shutdown or a cancelled
/// statement (57), a lock not available (55P03). SQLite's codes are numbers whose low byte is the
/// primary code: busy (5) and locked (6).
pub fn is_transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57")
            || matches!(code, "40001" | "40P01" | "55P03");
    }
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// Whether `err` is the database refusing a value it cannot store: PostgreSQL's data
/// exceptions (class 22: a NUL character in text, a number or date out of range, a string too
/// long for its column) and SQLite's "string or blob too big" (18). The request carried the
/// value, so it is the caller's to fix, not a fault of the service.
pub fn is_bad_value(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.code().is_some_and(|code| {
        if code.len() == 5 {
            code.starts_with("22")
        } else {
            code.parse::<u32>().is_ok_and(|n| n & 0xff == 18)
        }
    })
}

/// The error of a transaction or connection that could not be had: whatever the database
/// answered (PostgreSQL refuses a database closed to connections with 55000, elsewhere a
/// statement's own fault), the work was not at fault, so it is reported as transient.
pub fn unreachable(err: sqlx::Error) -> sqlx::Error {
    if is_transient(&err) {
        return err;
    }
    sqlx::Error::Io(std::io::Error::other(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_transient_however_it_was_refused() {
        let refused = sqlx::Error::Protocol("database is not accepting connections".into());
        assert!(is_transient(&unreachable(refused)));
        let closed = unreachable(sqlx::Error::Configuration("no such database".into()));
        assert!(is_transient(&closed));
        assert!(closed.to_string().contains("no such database"), "{closed}");
    }
}
