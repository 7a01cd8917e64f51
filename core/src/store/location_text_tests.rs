use super::*;

#[test]
fn keyword_form_is_recognised_by_its_first_word() {
    let cases = [
        ("keyword", "host=h", true),
        ("spaces around =", "  dbname = x", true),
        ("underscore", "application_name=ks", true),
        ("path", "./host=h", false),
        ("absolute path", "/tmp/a=b", false),
        ("url", "postgres://h/db?sslmode=require", false),
        ("digit first", "1a=b", false),
        ("word without =", "keyshift store", false),
    ];
    for (name, text, want) in cases {
        assert_eq!(is_keyword_form(text), want, "{name}");
    }
}

#[test]
fn connection_strings_become_client_urls() {
    let cases = [
        (
            "plain",
            "host=127.0.0.1 port=5432 user=ks dbname=x",
            "postgres://?host=127.0.0.1&port=5432&user=ks&dbname=x",
        ),
        (
            "quoted and escaped values are percent-encoded",
            r"password='a b\'c&d@e' sslmode=verify-full sslrootcert=/etc/ca.pem",
            "postgres://?password=a%20b%27c%26d%40e&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        ),
        (
            "socket directory",
            "host=/var/run/postgresql dbname=x",
            "postgres://?host=%2Fvar%2Frun%2Fpostgresql&dbname=x",
        ),
        (
            "a URL is kept",
            "postgres://ks@h/db?sslmode=require",
            "postgres://ks@h/db?sslmode=require",
        ),
    ];
    for (name, text, want) in cases {
        assert_eq!(client_url(text).as_deref(), Ok(want), "{name}");
    }
}

#[test]
fn the_client_reads_a_converted_string_like_libpq() {
    let url = client_url("host=db.internal port=6543 user=ks password='p w' dbname=keys").unwrap();
    let config: postgres::Config = url.parse().unwrap();
    assert_eq!(config.get_user(), Some("ks"));
    assert_eq!(config.get_password(), Some(&b"p w"[..]));
    assert_eq!(config.get_dbname(), Some("keys"));
    assert_eq!(config.get_ports(), &[6543]);
    assert_eq!(
        config.get_hosts(),
        &[postgres::config::Host::Tcp("db.internal".into())]
    );
}

#[test]
fn malformed_connection_strings_name_the_parameter_not_the_secret() {
    let cases = [
        ("misspelt", "hots=h dbname=x", "parameter 1 (`hots`)"),
        ("no value", "host=h dbname", "parameter 2 (`dbname`)"),
        (
            "unquoted password with a space",
            "password=abc def dbname=x",
            "parameter 2 of the connection string",
        ),
        ("open quote", "host='h", "no closing quote"),
    ];
    for (name, text, want) in cases {
        let err = keyword_pairs(text).unwrap_err();
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            !err.contains("abc") && !err.contains("def"),
            "{name}: {err}"
        );
    }
}

#[test]
fn passwords_are_hidden_in_every_form() {
    let cases = [
        ("url", "postgres://u:pw@h/db", "postgres://u:***@h/db"),
        ("one slash", "postgres:/u:pw@h/db", "postgres:/u:***@h/db"),
        ("no slash", "postgresql:u:pw@h/db", "postgresql:u:***@h/db"),
        (
            "query",
            "postgres://h/db?sslpassword=k&password=pw",
            "postgres://h/db?sslpassword=***&password=***",
        ),
        (
            "keyword",
            "host=h password=pw dbname=x",
            "host=h password=*** dbname=x",
        ),
        ("keyword, any case", "PASSWORD = pw", "PASSWORD=***"),
        ("quoted", "password='p w' host=h", "password=*** host=h"),
        ("unterminated", "host='h password=pw", "host=***"),
        ("path", "/srv/keyshift store", "/srv/keyshift store"),
    ];
    for (name, text, want) in cases {
        assert_eq!(redact_password(text), want, "{name}");
    }
}
