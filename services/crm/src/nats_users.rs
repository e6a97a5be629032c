//! One NATS user per service: what each may publish and read, from the consumers it declares
//! (see [`crm_events::permissions`]), and the same lists as the NATS chart's values that
//! configure a deployment's server (`k8s/nats-values.yaml`, which a test keeps in step).

use crm_events::permissions::{self, Permissions};

use crate::services::Service;

/// The NATS permissions of `service`'s user.
pub fn permissions(service: Service) -> Permissions {
    permissions::service_user(service.name(), &service.nats_client_name(), service.reads())
}

/// The environment variable holding the public nkey of `service`'s user on the NATS server.
pub fn nkey_variable(service: Service) -> String {
    format!("CRM_{}_NKEY", service.name().to_ascii_uppercase())
}

/// The users block of the NATS chart's values (`config.merge.authorization.users`): one per
/// domain service with its permissions, and the operator's (dead letters, stream
/// administration), each public nkey read from the server's environment.
pub fn chart_users() -> String {
    let mut out = String::from("      users:\n");
    let list = |out: &mut String, subjects: &[String]| {
        for subject in subjects {
            out.push_str(&format!("                - {subject:?}\n"));
        }
    };
    for service in Service::DOMAINS {
        let p = permissions(service);
        out.push_str(&format!(
            "        # {}\n        - nkey: << ${} >>\n          permissions:\n            publish:\n              allow:\n",
            service.name(),
            nkey_variable(service)
        ));
        list(&mut out, &p.publish);
        out.push_str("            subscribe:\n              allow:\n");
        list(&mut out, &p.subscribe);
    }
    out.push_str(
        "        # operators: crm dlq, stream administration\n        - nkey: << $CRM_OPERATOR_NKEY >>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_values_grant_what_the_services_declare() {
        let values = include_str!("../../../k8s/nats-values.yaml");
        let users = chart_users();
        assert!(
            values.contains(&users),
            "k8s/nats-values.yaml must list the users as the services declare them:\n{users}"
        );
        for service in Service::DOMAINS {
            assert!(
                values.contains(&format!("{}:\n", nkey_variable(service))),
                "the server reads {} from a secret",
                nkey_variable(service)
            );
        }
    }

    #[test]
    fn no_service_may_publish_another_domain_s_events() {
        for service in Service::DOMAINS {
            let p = permissions(service);
            for other in Service::DOMAINS.iter().filter(|&&o| o != service) {
                let prefix = format!("crm.{}.", other.name());
                assert!(
                    !p.publish.iter().any(|s| s.starts_with(&prefix)),
                    "{} may publish {prefix}>: {:?}",
                    service.name(),
                    p.publish
                );
            }
        }
    }
}
