//! The case workflow: which status changes are allowed.

use crm_proto::servicedesk::v1::CaseStatus;

/// Whether a case may move from `from` to `to`. A resolved case may be reopened (back to in
/// progress) or closed; a closed case is final.
pub fn may_move(from: CaseStatus, to: CaseStatus) -> bool {
    use CaseStatus::*;
    match (from, to) {
        (_, Unspecified | New) => false,
        (Closed, _) => false,
        (a, b) if a == b => false,
        (Resolved, InProgress | Closed) => true,
        (Resolved, _) => false,
        (_, Closed) => matches!(from, Resolved),
        (New | Assigned | InProgress | WaitingOnCustomer, _) => true,
        (Unspecified, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseStatus::*;

    #[test]
    fn closed_is_final_and_resolved_may_reopen() {
        assert!(may_move(New, InProgress));
        assert!(may_move(WaitingOnCustomer, Resolved));
        assert!(may_move(Resolved, InProgress));
        assert!(may_move(Resolved, Closed));
        assert!(!may_move(InProgress, Closed));
        assert!(!may_move(Closed, InProgress));
        assert!(!may_move(Assigned, New));
        assert!(!may_move(Resolved, WaitingOnCustomer));
    }
}
