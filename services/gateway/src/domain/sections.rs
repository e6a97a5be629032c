//! The sections of the customer 360 and how each one's outcome is reported.

use std::time::Duration;

use crm_proto::gateway::v1::{Section, SectionStatus};

/// Every section, in answer order.
pub const ALL: [Section; 5] = [
    Section::Profile,
    Section::Sales,
    Section::Channel,
    Section::Marketing,
    Section::Service,
];

/// The sections a request asks for: the ones named (unknown values ignored), or all.
pub fn requested(sections: &[i32]) -> Vec<Section> {
    let named: Vec<Section> = ALL
        .into_iter()
        .filter(|s| sections.contains(&(*s as i32)))
        .collect();
    if named.is_empty() { ALL.to_vec() } else { named }
}

/// Whether `sections` asks for any value that is not a section.
pub fn unknown(sections: &[i32]) -> bool {
    sections.iter().any(|v| !ALL.iter().any(|s| *s as i32 == *v))
}

/// The status line of a section that took `elapsed` and ended with `outcome`.
pub fn status<T>(section: Section, outcome: &Result<T, tonic::Status>, elapsed: Duration) -> SectionStatus {
    let (code, message) = match outcome {
        Ok(_) => (tonic::Code::Ok, String::new()),
        Err(status) => (status.code(), status.message().to_string()),
    };
    SectionStatus {
        section: section as i32,
        code: code as i32,
        message,
        elapsed_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_sections_means_all_and_named_ones_keep_answer_order() {
        assert_eq!(requested(&[]), ALL.to_vec());
        assert_eq!(
            requested(&[Section::Service as i32, Section::Profile as i32]),
            vec![Section::Profile, Section::Service]
        );
        assert!(unknown(&[Section::Unspecified as i32]));
        assert!(unknown(&[42]));
        assert!(!unknown(&[Section::Sales as i32]));
    }

    #[test]
    fn a_failed_section_reports_its_code_and_message() {
        let failed: Result<(), _> = Err(tonic::Status::unavailable("down"));
        let s = status(Section::Channel, &failed, Duration::from_millis(7));
        assert_eq!((s.code, s.message.as_str(), s.elapsed_ms), (14, "down", 7));
        let s = status(Section::Channel, &Ok::<_, tonic::Status>(()), Duration::ZERO);
        assert_eq!(s.code, 0);
    }
}
