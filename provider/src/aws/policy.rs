//! Does a KMS key policy let a principal use the key? (pure, no I/O)
//!
//! A deliberately small evaluator for the check SPEC §3 asks for: it reads
//! `Allow` statements whose `Principal` names the principal (`"*"`, or an
//! `AWS`/`Service` entry given as a string or a list), and whose `Action`
//! (string or list, `*` wildcards, case-insensitive) covers the wanted
//! actions. `Deny` statements for the principal take actions away.
//! `Condition`, `NotAction` and `NotPrincipal` are not evaluated: a statement
//! using `NotAction`/`NotPrincipal` is ignored, and conditions are assumed
//! to hold.

use serde_json::Value;

/// The actions the service principal needs on an EKMS key.
pub const REQUIRED_ACTIONS: [&str; 3] = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"];

/// Returns the actions of `wanted` that the policy does not allow
/// `principal` (empty when all are allowed), or an error when the policy is
/// not a JSON policy document.
pub fn missing_actions(
    policy: &str,
    principal: &str,
    wanted: &[&str],
) -> Result<Vec<String>, String> {
    let doc: Value =
        serde_json::from_str(policy).map_err(|e| format!("key policy is not JSON: {e}"))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err("key policy has no Statement".to_string()),
    };
    let mut allowed = vec![false; wanted.len()];
    let mut denied = vec![false; wanted.len()];
    for st in statements {
        if st.get("NotAction").is_some() || st.get("NotPrincipal").is_some() {
            continue;
        }
        if !names_principal(st.get("Principal"), principal) {
            continue;
        }
        let flags = match st.get("Effect").and_then(Value::as_str) {
            Some("Allow") => &mut allowed,
            Some("Deny") => &mut denied,
            _ => continue,
        };
        for pattern in strings(st.get("Action")) {
            for (i, action) in wanted.iter().enumerate() {
                if glob_match(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase()) {
                    flags[i] = true;
                }
            }
        }
    }
    Ok(wanted
        .iter()
        .enumerate()
        .filter(|&(i, _)| !allowed[i] || denied[i])
        .map(|(_, a)| (*a).to_string())
        .collect())
}

/// A string, or a list of strings; anything else yields nothing.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn names_principal(p: Option<&Value>, principal: &str) -> bool {
    let candidates = match p {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Object(map)) => ["AWS", "Service"]
            .iter()
            .flat_map(|k| strings(map.get(*k)))
            .collect(),
        _ => Vec::new(),
    };
    candidates
        .iter()
        .any(|c| c == "*" || same_principal(c, principal))
}

/// Equal, or an account id and that account's root ARN
/// (`111122223333` ≡ `arn:aws:iam::111122223333:root`), which AWS treats
/// as the same principal.
fn same_principal(a: &str, b: &str) -> bool {
    fn account(p: &str) -> Option<&str> {
        if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
            return Some(p);
        }
        let rest = p.strip_prefix("arn:")?;
        let (_partition, rest) = rest.split_once(":iam::")?;
        rest.strip_suffix(":root")
    }
    a == b || matches!((account(a), account(b)), (Some(x), Some(y)) if x == y)
}

/// `*` matches any run of characters, `?` exactly one.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "arn:aws:iam::444455556666:role/keyshift";

    fn policy(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
    }

    fn missing(p: &str, who: &str) -> Vec<String> {
        missing_actions(p, who, &REQUIRED_ACTIONS).unwrap()
    }

    #[test]
    fn allow_with_explicit_actions_and_list_principal() {
        let p = policy(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::1:root","{SVC}"]}},
               "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"}}"#
        ));
        assert!(missing(&p, SVC).is_empty());
        assert_eq!(missing(&p, "arn:aws:iam::444455556666:role/other").len(), 3);
    }

    #[test]
    fn wildcards_for_action_and_principal() {
        let p = policy(r#"{"Effect":"Allow","Principal":"*","Action":"kms:*"}"#);
        assert!(missing(&p, SVC).is_empty());
        let p = policy(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*"}"#);
        assert!(missing(&p, SVC).is_empty());
        let p = policy(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"KMS:encrypt"}"#);
        assert_eq!(missing(&p, SVC), ["kms:Decrypt", "kms:GenerateDataKey"]);
    }

    #[test]
    fn lists_missing_actions_and_honours_deny() {
        let p = policy(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{SVC}"}},"Action":"kms:Encrypt"}},
               {{"Effect":"Allow","Principal":{{"AWS":"{SVC}"}},"Action":["kms:Decrypt","kms:GenerateDataKey"]}},
               {{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt"}}"#
        ));
        assert_eq!(missing(&p, SVC), ["kms:Decrypt"]);
    }

    #[test]
    fn account_id_equals_root_arn_and_single_statement_object() {
        let p = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:*"}}"#;
        assert!(missing(p, "arn:aws:iam::444455556666:root").is_empty());
        assert_eq!(missing(p, SVC).len(), 3);
    }

    #[test]
    fn service_principals_and_ignored_statements() {
        let p = policy(
            r#"{"Effect":"Allow","Principal":{"Service":"keyshift.example.com"},"Action":"kms:*"},
               {"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"kms:*"}"#,
        );
        assert!(missing(&p, "keyshift.example.com").is_empty());
        assert_eq!(missing(&p, SVC).len(), 3);
    }

    #[test]
    fn malformed_policies_are_errors() {
        assert!(
            missing_actions("not json", SVC, &REQUIRED_ACTIONS)
                .unwrap_err()
                .contains("JSON")
        );
        assert!(
            missing_actions("{}", SVC, &REQUIRED_ACTIONS)
                .unwrap_err()
                .contains("Statement")
        );
    }

    #[test]
    fn glob() {
        assert!(glob_match("kms:generatedatakey*", "kms:generatedatakey"));
        assert!(glob_match("kms:*crypt", "kms:decrypt"));
        assert!(glob_match("kms:?ncrypt", "kms:encrypt"));
        assert!(!glob_match("kms:encrypt", "kms:encrypt2"));
        assert!(!glob_match("kms:re*", "kms:decrypt"));
    }
}
