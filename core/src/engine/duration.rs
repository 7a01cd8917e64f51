//! The one way durations are written, for every duration a user gives
//! (a key's `rotation_interval`, a break-glass grant's `ttl`): one or more
//! `<number><unit>` parts with units `d` (days), `h`, `m` and `s`, largest
//! unit first and each unit at most once, e.g. `30d`, `720h`, `1d12h`,
//! `1h30m`, `90s`. No sign, no spaces. Each rule checks its own range on
//! the seconds this returns.

/// The units, largest first, with their length in seconds.
const UNITS: [(char, i64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Any duration above this is "too long" for every rule (100 years).
const CAP_SECONDS: i64 = 100 * 366 * 86_400;

/// The seconds `text` stands for, or `None` when it is not a duration in
/// the form above. Values beyond 100 years come back as a value beyond
/// 100 years (never overflowing), so a range check refuses them.
pub fn seconds(text: &str) -> Option<i64> {
    let (mut total, mut number, mut next_unit) = (0i64, None::<i64>, 0usize);
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some((n * 10 + i64::from(d)).min(CAP_SECONDS + 1));
            continue;
        }
        let at = UNITS.iter().position(|(u, _)| *u == c)?;
        if at < next_unit {
            return None;
        }
        let n = number.take()?;
        total = total
            .saturating_add(n.saturating_mul(UNITS[at].1))
            .min(CAP_SECONDS + 1);
        next_unit = at + 1;
    }
    (number.is_none() && next_unit > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit_and_combined() {
        let cases = [
            ("seconds", "90s", Some(90)),
            ("minutes", "30m", Some(1_800)),
            ("hours", "720h", Some(2_592_000)),
            ("days", "1d", Some(86_400)),
            ("combined", "1h30m", Some(5_400)),
            ("all units", "1d2h3m4s", Some(93_784)),
            ("leading zeros", "007d", Some(604_800)),
            (
                "huge is capped",
                "99999999999999999999d",
                Some(CAP_SECONDS + 1),
            ),
            ("empty", "", None),
            ("number without unit", "30", None),
            ("trailing number", "1h30", None),
            ("unit without number", "d", None),
            ("unknown unit", "3w", None),
            ("smaller unit first", "30m1h", None),
            ("unit twice", "1h1h", None),
            ("sign", "+30d", None),
            ("negative", "-30d", None),
            ("space", " 30d", None),
            ("inner space", "1h 30m", None),
            ("capital unit", "1D", None),
            ("non-ascii digit", "٣d", None),
        ];
        for (name, text, want) in cases {
            assert_eq!(seconds(text), want, "{name}");
        }
    }
}
