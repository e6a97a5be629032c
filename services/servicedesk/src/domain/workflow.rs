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

/// The digits of a phone number as the customers service normalises it: digits only (full-width
/// digits count), an international `00` prefix dropped when there is no leading `+`.
pub fn phone_digits(raw: &str) -> String {
    let digits: String = raw
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')),
            _ => None,
        })
        .collect();
    if raw.trim_start().starts_with(['+', '＋']) {
        digits
    } else {
        digits.strip_prefix("00").map(str::to_string).unwrap_or(digits)
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

    #[test]
    fn phones_compare_by_digits() {
        assert_eq!(phone_digits("+886 2 1234-5678"), "886212345678");
        assert_eq!(phone_digits("00886212345678"), "886212345678");
        assert_eq!(phone_digits("０２-１２３４"), "021234");
    }
}
