use super::*;

#[test]
fn identifiers_are_printable_and_bounded() {
    let long = "a".repeat(257);
    let cases = [
        ("plain", "oncall@example.com", true),
        ("inner space", "Jane Doe", true),
        ("unicode letters", "José Müller", true),
        ("arn", "arn:aws:iam::123456789012:role/oncall", true),
        ("empty", "", false),
        ("blank", "   ", false),
        ("too long", long.as_str(), false),
        ("newline", "alice\nbreak_glass.repair", false),
        ("carriage return", "alice\r", false),
        ("tab", "alice\tok", false),
        ("ansi escape", "\u{1b}[31malice", false),
        ("nul", "alice\0", false),
        ("c1 control", "alice\u{85}", false),
        ("bidi override", "alice\u{202E}moc", false),
        ("line separator", "alice\u{2028}x", false),
        ("zero width", "al\u{200B}ice", false),
        ("leading space", " alice", false),
    ];
    for (name, value, ok) in cases {
        let r = identifier("principal", value, 256);
        assert_eq!(r.is_ok(), ok, "{name}");
        if let Err(e) = r {
            assert!(
                matches!(
                    e,
                    StoreError::Invalid {
                        field: "principal",
                        ..
                    }
                ),
                "{name}"
            );
        }
    }
}

#[test]
fn free_text_keeps_lines_and_refuses_escapes() {
    let long = "x".repeat(1025);
    let cases = [
        ("lines and tabs", "INC1\nsee\tticket", true),
        ("empty", "", true),
        ("ansi escape", "ok\u{1b}[2J", false),
        ("bell", "ok\u{7}", false),
        ("bidi override", "\u{202D}x", false),
        ("too long", long.as_str(), false),
    ];
    for (name, value, ok) in cases {
        assert_eq!(free_text("reason", value, 1024).is_ok(), ok, "{name}");
    }
}

#[test]
fn booleans_as_text() {
    let cases = [
        ("true", Some(true)),
        ("1", Some(true)),
        ("TRUE", Some(true)),
        (" True ", Some(true)),
        ("false", Some(false)),
        ("0", Some(false)),
        ("FALSE", Some(false)),
        ("yes", None),
        ("", None),
        ("2", None),
    ];
    for (text, want) in cases {
        assert_eq!(boolean(text), want, "{text:?}");
    }
}
