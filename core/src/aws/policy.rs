//! Does a KMS key policy let a principal use the key? (pure, no I/O)
//!
//! A deliberately small evaluator for the EKMS key-policy check: it reads
//! `Allow` statements whose `Principal` names the principal (`"*"`, or an
//! `AWS`/`Service` entry given as a string or a list), and whose `Action`
//! (string or list, `*` wildcards, case-insensitive) covers the wanted
//! actions. `Deny` statements for the principal take actions away.
//! `Condition`, `NotAction` and `NotPrincipal` are not evaluated: a statement
//! using `NotAction`/`NotPrincipal` is ignored, and conditions are assumed
//! to hold.

//!
//! The same module renders the statement that satisfies the check
//! ([`required_statement`], [`required_policy`]), from the same
//! [`REQUIRED_ACTIONS`], so the `keyshift_ekms_key_policy` data source and
//! the apply-time check can never disagree.

use serde_json::{Value, json};

/// The actions the service principal needs on an EKMS key: `DescribeKey`
/// and `GetKeyPolicy` for the checks made when a key is configured,
/// `Encrypt`/`Decrypt` to wrap and unwrap container root keys, and
/// `GenerateDataKey` for data keys.
pub const REQUIRED_ACTIONS: [&str; 5] = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
];

/// [`REQUIRED_ACTIONS`] as a sentence for documentation and help text:
/// "`kms:Encrypt`, `kms:Decrypt`, … and `kms:GetKeyPolicy`".
pub fn required_actions_text() -> String {
    let quoted: Vec<String> = REQUIRED_ACTIONS.iter().map(|a| format!("`{a}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `Sid` of the rendered statement granting [`REQUIRED_ACTIONS`].
pub const STATEMENT_SID: &str = "AllowKeyshiftEkms";

/// The `Principal` element naming `principal`: an AWS service principal
/// (`name.amazonaws.com`, any dotted host name without `:`) goes under
/// `Service`, anything else (an ARN, an account id) under `AWS`.
fn principal_element(principal: &str) -> Value {
    let service = principal.contains('.') && !principal.contains(':');
    if service {
        json!({ "Service": principal })
    } else {
        json!({ "AWS": principal })
    }
}

/// The key-policy statement that lets `principal` perform every one of
/// [`REQUIRED_ACTIONS`] on the key (`Resource: "*"` means "this key" in a
/// key policy).
pub fn required_statement(principal: &str) -> Value {
    json!({
        "Sid": STATEMENT_SID,
        "Effect": "Allow",
        "Principal": principal_element(principal),
        "Action": REQUIRED_ACTIONS,
        "Resource": "*",
    })
}

/// A whole policy document (`Version` 2012-10-17) holding
/// [`required_statement`], preceded, when `admin` is given, by a statement
/// allowing `admin` every `kms:*` action (a key policy without an
/// administrator locks the account out of the key).
pub fn required_policy(principal: &str, admin: Option<&str>) -> Value {
    let mut statements = Vec::new();
    if let Some(a) = admin {
        statements.push(json!({
            "Sid": "EnableKeyAdministration",
            "Effect": "Allow",
            "Principal": principal_element(a),
            "Action": "kms:*",
            "Resource": "*",
        }));
    }
    statements.push(required_statement(principal));
    json!({ "Version": "2012-10-17", "Statement": statements })
}

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
               "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*",
               "kms:DescribeKey","kms:GetKeyPolicy"],"Resource":"*"}}"#
        ));
        assert!(missing(&p, SVC).is_empty());
        assert_eq!(
            missing(&p, "arn:aws:iam::444455556666:role/other"),
            REQUIRED_ACTIONS
        );
    }

    #[test]
    fn wildcards_for_action_and_principal() {
        let p = policy(r#"{"Effect":"Allow","Principal":"*","Action":"kms:*"}"#);
        assert!(missing(&p, SVC).is_empty());
        let p = policy(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*"}"#);
        assert!(missing(&p, SVC).is_empty());
        let p = policy(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"KMS:encrypt"}"#);
        assert_eq!(
            missing(&p, SVC),
            [
                "kms:Decrypt",
                "kms:GenerateDataKey",
                "kms:DescribeKey",
                "kms:GetKeyPolicy"
            ]
        );
    }

    #[test]
    fn lists_missing_actions_and_honours_deny() {
        let p = policy(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{SVC}"}},"Action":"kms:Encrypt"}},
               {{"Effect":"Allow","Principal":{{"AWS":"{SVC}"}},"Action":["kms:Decrypt","kms:GenerateDataKey","kms:Describe*","kms:GetKeyPolicy"]}},
               {{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt"}}"#
        ));
        assert_eq!(missing(&p, SVC), ["kms:Decrypt"]);
    }

    #[test]
    fn account_id_equals_root_arn_and_single_statement_object() {
        let p = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:*"}}"#;
        assert!(missing(p, "arn:aws:iam::444455556666:root").is_empty());
        assert_eq!(missing(p, SVC).len(), REQUIRED_ACTIONS.len());
    }

    #[test]
    fn service_principals_and_ignored_statements() {
        let p = policy(
            r#"{"Effect":"Allow","Principal":{"Service":"keyshift.example.com"},"Action":"kms:*"},
               {"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"kms:*"}"#,
        );
        assert!(missing(&p, "keyshift.example.com").is_empty());
        assert_eq!(missing(&p, SVC).len(), REQUIRED_ACTIONS.len());
    }

    #[test]
    fn rendered_policy_passes_the_checker() {
        let cases = [
            ("role ARN", SVC, Some("arn:aws:iam::444455556666:root")),
            ("account id", "444455556666", None),
            ("service principal", "keyshift.example.com", None),
        ];
        for (case, principal, admin) in cases {
            let doc = required_policy(principal, admin).to_string();
            assert!(missing(&doc, principal).is_empty(), "{case}: {doc}");
            let other = missing(&doc, "arn:aws:iam::999999999999:role/x");
            assert_eq!(other, REQUIRED_ACTIONS, "{case}: grants no one else");
            let alone = format!(r#"{{"Statement":[{}]}}"#, required_statement(principal));
            assert!(missing(&alone, principal).is_empty(), "{case}");
        }
        let st = required_statement("keyshift.example.com");
        assert_eq!(st["Principal"]["Service"], "keyshift.example.com");
        assert_eq!(required_statement(SVC)["Principal"]["AWS"], SVC);
        let with_admin = required_policy(SVC, Some("111122223333"));
        assert_eq!(with_admin["Statement"][0]["Action"], "kms:*");
        assert_eq!(with_admin["Statement"][1]["Sid"], STATEMENT_SID);
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
