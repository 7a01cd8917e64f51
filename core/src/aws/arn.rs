//! Plan-time syntax of AWS KMS key ARNs (pure, no I/O).

use std::fmt;

/// A parsed AWS KMS key ARN:
/// `arn:<aws|aws-cn|aws-us-gov>:kms:<region>:<12 digits>:key/<key id>`,
/// where the key id is a UUID or a multi-Region `mrk-<32 hex>` id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KmsKeyArn {
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// The key's region, e.g. `eu-west-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
    /// The key id (UUID or `mrk-...`).
    pub key_id: String,
    /// True for a multi-Region (`mrk-`) key.
    pub multi_region: bool,
}

impl fmt::Display for KmsKeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kms:{}:{}:key/{}",
            self.partition, self.region, self.account, self.key_id
        )
    }
}

const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// Parses a KMS key ARN. Aliases (`alias/...`), bare key ids and ARNs of
/// other services are refused; the error says what is wrong and what a
/// valid ARN looks like.
pub fn parse_kms_key_arn(arn: &str) -> Result<KmsKeyArn, String> {
    let bad = |why: String| {
        Err(format!(
            "invalid AWS KMS key ARN {arn:?}: {why} (expected \
             arn:aws:kms:<region>:<12-digit account>:key/<key id>)"
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return bad("not an ARN (needs 6 ':'-separated fields)".into());
    };
    if prefix != "arn" {
        return bad("must start with \"arn:\"".into());
    }
    if !PARTITIONS.contains(&partition) {
        return bad(format!(
            "unknown partition {partition:?} (aws, aws-cn or aws-us-gov)"
        ));
    }
    if service != "kms" {
        return bad(format!("service is {service:?}, not \"kms\""));
    }
    if !valid_region(region) {
        return bad(format!("{region:?} is not a region name like us-east-1"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!("account {account:?} is not 12 digits"));
    }
    if resource.starts_with("alias/") {
        return bad("alias ARNs are not accepted; use the key's own ARN".into());
    }
    let Some(key_id) = resource.strip_prefix("key/") else {
        return bad(format!("resource {resource:?} is not key/<key id>"));
    };
    let multi_region = if let Some(hex) = key_id.strip_prefix("mrk-") {
        if hex.len() != 32 || !hex.bytes().all(is_lower_hex) {
            return bad(format!(
                "multi-Region key id {key_id:?} is not mrk-<32 hex digits>"
            ));
        }
        true
    } else if is_uuid(key_id) {
        false
    } else {
        return bad(format!(
            "key id {key_id:?} is neither a UUID nor mrk-<32 hex digits>"
        ));
    };
    Ok(KmsKeyArn {
        partition: partition.to_string(),
        region: region.to_string(),
        account: account.to_string(),
        key_id: key_id.to_string(),
        multi_region,
    })
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// `us-east-1`, `us-gov-west-1`, `ap-southeast-2`: lowercase words, a number last.
fn valid_region(region: &str) -> bool {
    let words: Vec<&str> = region.split('-').collect();
    let Some((last, rest)) = words.split_last() else {
        return false;
    };
    words.len() >= 3
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && rest
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(is_lower_hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const MRK: &str =
        "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";

    #[test]
    fn parses_single_region_key() {
        let a = parse_kms_key_arn(GOOD).unwrap();
        assert_eq!(
            (
                a.partition.as_str(),
                a.region.as_str(),
                a.account.as_str(),
                a.multi_region
            ),
            ("aws", "us-east-1", "111122223333", false)
        );
        assert_eq!(a.key_id, "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(a.to_string(), GOOD);
    }

    #[test]
    fn parses_multi_region_key() {
        let a = parse_kms_key_arn(MRK).unwrap();
        assert!(a.multi_region);
        assert_eq!(a.region, "us-gov-west-1");
        assert_eq!(a.key_id, "mrk-1234abcd12ab34cd56ef1234567890ab");
        assert!(parse_kms_key_arn(&MRK.replace("aws-us-gov", "aws-cn")).is_ok());
    }

    #[test]
    fn refuses_bad_arns_saying_why() {
        let cases = [
            ("", "not an ARN"),
            ("1234abcd-12ab-34cd-56ef-1234567890ab", "not an ARN"),
            (&GOOD.replace("arn:aws:", "urn:aws:"), "must start"),
            (&GOOD.replace("arn:aws:", "arn:azure:"), "partition"),
            (&GOOD.replace(":kms:", ":s3:"), "service is \"s3\""),
            (&GOOD.replace("us-east-1", "useast1"), "region"),
            (&GOOD.replace("us-east-1", "US-EAST-1"), "region"),
            (&GOOD.replace("111122223333", "11112222333"), "12 digits"),
            (&GOOD.replace("111122223333", "11112222333x"), "12 digits"),
            (
                "arn:aws:kms:us-east-1:111122223333:alias/my-key",
                "alias ARNs",
            ),
            (&GOOD.replace("key/", "keys/"), "key/<key id>"),
            (&GOOD.replace("1234abcd-", "1234abcg-"), "neither a UUID"),
            (
                &GOOD.replace("-1234567890ab", "-1234567890abc"),
                "neither a UUID",
            ),
            (&MRK.replace("mrk-1234", "mrk-123"), "mrk-<32 hex"),
            (&format!("{GOOD}:extra"), "neither a UUID"),
        ];
        for (arn, want) in cases {
            let err = parse_kms_key_arn(arn).unwrap_err();
            assert!(err.contains(want), "{arn:?}: {err}");
            assert!(err.contains("expected arn:aws:kms:"), "{err}");
        }
    }
}
