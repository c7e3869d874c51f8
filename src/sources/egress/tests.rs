use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn policy(allow: &[&str], deny: &[&str]) -> EgressPolicy {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    EgressPolicy::new(&owned(allow), &owned(deny), true).unwrap()
}

#[test]
fn rules_parse_and_bad_ones_are_named() {
    assert_eq!(
        Rule::parse("10.0.0.0/8").unwrap(),
        Rule::Net("10.0.0.0/8".parse().unwrap())
    );
    assert_eq!(
        Rule::parse("10.1.2.3/8").unwrap(),
        Rule::Net("10.0.0.0/8".parse().unwrap())
    );
    assert_eq!(
        Rule::parse("192.0.2.7").unwrap(),
        Rule::Net("192.0.2.7/32".parse().unwrap())
    );
    assert_eq!(Rule::parse("[::1]").unwrap(), Rule::Net("::1/128".parse().unwrap()));
    assert_eq!(
        Rule::parse("DB.Example.com.").unwrap(),
        Rule::Name("db.example.com".into())
    );
    assert_eq!(
        Rule::parse("*.corp.example").unwrap(),
        Rule::Domain("corp.example".into())
    );
    for bad in ["10.0.0.0/33", "a b", "*.", "", "-x.example", "x/y", "db..example"] {
        let message = Rule::parse(bad).unwrap_err();
        assert!(message.contains(&format!("`{}`", bad.trim())), "{message}");
    }
}

#[test]
fn the_default_denies_link_local_and_metadata_and_allows_loopback_and_private() {
    let p = EgressPolicy::default();
    for denied in [
        "169.254.169.254",
        "169.254.0.1",
        "fe80::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "ff02::1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "::169.254.169.254",
    ] {
        assert!(p.check_host(denied).is_err(), "{denied} was allowed");
        assert!(p.check_resolved("db.example.com", &[ip(denied)]).is_err(), "{denied}");
    }
    for allowed in [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.10",
        "fd12::5",
        "203.0.113.9",
    ] {
        assert_eq!(p.check_host(allowed), Ok(()), "{allowed}");
        assert_eq!(p.check_resolved("db.example.com", &[ip(allowed)]), Ok(()), "{allowed}");
    }
    assert!(p.check_host("metadata.google.internal").is_err());
    assert!(p.check_host("METADATA.google.internal.").is_err());
    assert_eq!(p.check_host("db.example.com"), Ok(()));
}

#[test]
fn a_deny_rule_wins_over_an_allow_rule() {
    let p = policy(
        &["127.0.0.0/8", "db.corp.example"],
        &["127.0.0.2/32", "*.blocked.example"],
    );
    assert!(p.check_resolved("127.0.0.2", &[ip("127.0.0.2")]).is_err());
    assert!(p.check_host("127.0.0.2").is_err());
    assert_eq!(p.check_host("127.0.0.3"), Ok(()));
    // A name is refused when any address it resolves to is denied.
    assert!(
        p.check_resolved("db.corp.example", &[ip("127.0.0.3"), ip("127.0.0.2")])
            .is_err()
    );
    assert!(p.check_host("x.blocked.example").is_err());
    assert!(p.check_host("a.x.BLOCKED.example").is_err());
    assert_eq!(p.check_host("blocked.example"), Ok(()));
    assert_eq!(p.check_host("notblocked.example"), Ok(()));
}

#[test]
fn an_allow_list_admits_only_its_networks_and_names() {
    let p = policy(&["10.0.0.0/8", "*.corp.example"], &[]);
    assert_eq!(p.check_resolved("10.2.3.4", &[ip("10.2.3.4")]), Ok(()));
    assert!(p.check_resolved("192.168.0.1", &[ip("192.168.0.1")]).is_err());
    assert_eq!(p.check_resolved("db.other.example", &[ip("10.0.0.9")]), Ok(()));
    assert!(
        p.check_resolved("db.other.example", &[ip("10.0.0.9"), ip("192.168.0.1")])
            .is_err()
    );
    assert_eq!(p.check_resolved("pg.corp.example", &[ip("192.168.0.1")]), Ok(()));
    // Names allowed by name are still refused at a denied address.
    assert!(p.check_resolved("pg.corp.example", &[ip("169.254.169.254")]).is_err());
    assert!(p.check_resolved("pg.corp.example", &[]).is_err());
    assert_eq!(p.check_resolved("x", &[ip("::ffff:10.0.0.1")]), Ok(()));
}

#[test]
fn the_builtin_list_can_be_turned_off_and_the_message_names_only_the_host() {
    let off = EgressPolicy::new(&[], &[], false).unwrap();
    assert_eq!(off.check_host("169.254.169.254"), Ok(()));
    let error = EgressPolicy::default()
        .check_resolved("db.example.com", &[ip("169.254.169.254")])
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("`db.example.com`") && !text.contains("169.254"), "{text}");
    assert!(EgressPolicy::new(&["nope/1".into()], &[], true).is_err());
}
