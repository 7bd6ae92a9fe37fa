use super::*;
use crate::event::{self, PacketLog, Timestamp};

/// A TCP (or UDP) IPv4 packet 10.1.2.3:sport -> 192.168.1.9:dport.
fn ip4(proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, proto, 0, 0, 10, 1, 2, 3, 192, 168, 1, 9,
    ];
    p.extend(sport.to_be_bytes());
    p.extend(dport.to_be_bytes());
    p.extend([0; 16]);
    p
}

fn pkt(packet: Vec<u8>) -> PacketLog {
    PacketLog {
        log_tag: 7,
        nat_tag: "web".into(),
        packet,
        ..PacketLog::sample()
    }
}

fn t(secs: i64) -> Timestamp {
    Timestamp { secs, nanos: 0 }
}

/// Whether a one-line config with these conditions matches `p`.
fn hits(conds: &str, p: &PacketLog) -> bool {
    let mut c = parse(&format!("match {{ {conds}; }} do {{ nothing; }};")).unwrap();
    let n = c.matches(p, t(0)).count();
    n > 0
}

fn err(text: &str) -> ConfError {
    parse(text).unwrap_err()
}

#[test]
fn every_condition_matches_and_misses() {
    let p = pkt(ip4(6, 1234, 80));
    let cases: &[(&str, &str)] = &[
        ("direction = in", "direction = out"),
        ("srcip = 10.1.0.0/16", "srcip = 10.2.0.0/16"),
        ("dstip = 192.168.1.9/32", "dstip = 192.168.1.8/32"),
        ("srcip = 0.0.0.0/0", "srcip = fd00::/8"),
        ("srcport = 1234", "srcport = 1235"),
        ("dstport = 80", "dstport = 443"),
        ("protocol = tcp", "protocol = udp"),
        ("protocol = 6", "protocol = 17"),
        ("group = 0", "group = 1"),
        ("group = \"0\"", "group = other"),
        ("interface = \"eth0\"", "interface = \"eth1\""),
        ("logtag = 7", "logtag = 8"),
        ("nattag = \"web\"", "nattag = \"mail\""),
        ("result = block", "result = pass"),
        ("rule = 3", "rule = 4"),
        ("type = ipf", "type = nat"),
        (
            "direction = in, dstport = 80, protocol = tcp",
            "direction = in, dstport = 81",
        ),
    ];
    for (yes, no) in cases {
        assert!(hits(yes, &p), "{yes}");
        assert!(!hits(no, &p), "{no}");
    }
    assert!(!hits("type = state", &p));
    // Ports only for TCP and UDP.
    assert!(hits("dstport = 80", &pkt(ip4(17, 1, 80))));
    assert!(!hits("dstport = 80", &pkt(ip4(47, 1, 80))));
    // IPv6 prefixes (an extension).
    let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    v6.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend([0, 53, 0, 53, 0, 8, 0, 0]);
    assert!(hits(
        "srcip = fd00::/8, dstport = 53, protocol = udp",
        &pkt(v6.clone())
    ));
    assert!(!hits("srcip = 10.0.0.0/8", &pkt(v6)));
}

#[test]
fn result_follows_ip_filter_order() {
    let mut p = pkt(ip4(6, 1, 2));
    for (action, word) in [
        (event::Action::Pass, "pass"),
        (event::Action::Block, "block"),
        (event::Action::NoMatch, "nomatch"),
        (event::Action::Log, "log"),
        (event::Action::Unknown, "log"),
    ] {
        p.action = action;
        assert!(hits(&format!("result = {word}"), &p), "{action:?}");
    }
}

#[test]
fn every_n_seconds_and_packets() {
    let p = pkt(ip4(6, 1, 2));
    let mut c = parse("match { every 10 seconds; } do { nothing; };").unwrap();
    let got: Vec<bool> = [0, 5, 9, 10, 11, 19, 20]
        .iter()
        .map(|&s| c.matches(&p, t(s)).count() > 0)
        .collect();
    assert_eq!(got, [true, false, false, true, false, false, true]);
    let mut c = parse("match { every second; } do { nothing; };").unwrap();
    assert_eq!(
        (
            c.matches(&p, t(0)).count(),
            c.matches(&p, t(0)).count(),
            c.matches(&p, t(1)).count()
        ),
        (1, 0, 1)
    );
    let mut c = parse("match { every 3 packets, dstport = 2; } do { nothing; };").unwrap();
    let other = pkt(ip4(6, 1, 3));
    let mut got = Vec::new();
    for i in 0..7 {
        // Packets failing the other conditions do not count.
        assert_eq!(c.matches(&other, t(i)).count(), 0);
        got.push(c.matches(&p, t(i)).count() > 0);
    }
    assert_eq!(got, [true, false, false, true, false, false, true]);
    let mut c = parse("match { every packet; } do { nothing; };").unwrap();
    assert!((0..3).all(|i| c.matches(&p, t(i)).count() == 1));
}

#[test]
fn every_action() {
    let text = r#"
        # all the actions
        match { dstport = 80; }
        do { file("file:///var/log/web"), file("raw:///var/log/web.raw"), syslog,
             syslog("local0.info"), syslog("daemon."), syslog(".warning"),
             execute("/bin/cat > /dev/null"), nothing; };
        match { srcport = 1; } do { nothing; };
    "#;
    let mut c = parse(text).unwrap();
    assert_eq!(c.rules().len(), 2);
    assert_eq!(c.rules()[0].line, 3);
    let p = pkt(ip4(6, 1234, 80));
    let got: Vec<Action> = c.matches(&p, t(0)).cloned().collect();
    assert_eq!(
        got,
        [
            Action::AppendText("/var/log/web".into()),
            Action::AppendRaw("/var/log/web.raw".into()),
            Action::Syslog(SyslogLevel::default()),
            Action::Syslog(SyslogLevel {
                facility: Some(16),
                priority: Some(6)
            }),
            Action::Syslog(SyslogLevel {
                facility: Some(3),
                priority: None
            }),
            Action::Syslog(SyslogLevel {
                facility: None,
                priority: Some(4)
            }),
            Action::Execute("/bin/cat > /dev/null".into()),
            Action::Nothing,
        ]
    );
}

#[test]
fn all_matching_lines_contribute_in_order() {
    let text = "match { dstport = 80; } do { execute(\"a\"); };\n\
                match { protocol = udp; } do { execute(\"b\"); };\n\
                match { srcip = 10.0.0.0/8; } do { execute(\"c\"); };";
    let mut c = parse(text).unwrap();
    let got: Vec<_> = c.matches(&pkt(ip4(6, 1, 80)), t(0)).cloned().collect();
    assert_eq!(
        got,
        [Action::Execute("a".into()), Action::Execute("c".into())]
    );
}

#[test]
fn variables_and_lenient_semicolons() {
    let text = "PORT = \"80\";\nNET = \"10.1.0.0/16\";\n\
                match { dstport = $PORT, srcip = ${NET} } do { nothing }";
    let mut c = parse(text).unwrap();
    assert_eq!(c.rules()[0].conditions.dport, Some(80));
    assert_eq!(c.matches(&pkt(ip4(6, 1, 80)), t(0)).count(), 1);
    assert_eq!(parse("").unwrap().rules().len(), 0);
    assert_eq!(parse("# only a comment\n;;").unwrap().rules().len(), 0);
}

#[test]
fn doubling_variables_stop_at_the_expansion_cap() {
    let mut text = String::from("V0 = \";\";\n");
    for i in 1..=24 {
        text.push_str(&format!("V{i} = \"$V{j} $V{j}\";\n", j = i - 1));
    }
    text.push_str("$V24\n");
    let err = parse(&text).unwrap_err();
    assert_eq!(err.line, 26);
    assert!(
        matches!(err.kind, ConfErrorKind::VariableLoop(_)),
        "{err:?}"
    );
}

#[test]
fn errors_name_their_line() {
    let cases: &[(&str, usize, ConfErrorKind)] = &[
        (
            "\n\nmatch { dstport = http; } do { nothing; };",
            3,
            ConfErrorKind::BadValue {
                what: "dstport",
                value: "http".into(),
                why: "not a number in range",
            },
        ),
        (
            "match { srcip = 10.0.0.1; } do { nothing; };",
            1,
            ConfErrorKind::BadValue {
                what: "srcip",
                value: "10.0.0.1".into(),
                why: "the /mask is required",
            },
        ),
        (
            "match { srcip = 10.0.0.1/33; } do { nothing; };",
            1,
            ConfErrorKind::BadValue {
                what: "srcip",
                value: "33".into(),
                why: "mask longer than the address",
            },
        ),
        (
            "match { colour = red; } do { nothing; };",
            1,
            ConfErrorKind::UnknownCondition("colour".into()),
        ),
        (
            "match { rule = 1, rule = 2; } do { nothing; };",
            1,
            ConfErrorKind::Repeated("rule"),
        ),
        (
            "match { rule = 1; }\ndo { mail(\"x\"); };",
            2,
            ConfErrorKind::UnknownAction("mail".into()),
        ),
        (
            "match { rule = 1; } do { snmpv1(\"c h\"); };",
            1,
            ConfErrorKind::Unsupported("the snmpv1 action".into()),
        ),
        (
            "\nload_action foo \"/lib/foo.so\";",
            2,
            ConfErrorKind::Unsupported("load_action (actions from shared objects)".into()),
        ),
        (
            "match { rule = 1; } do { file(\"/tmp/x\"); };",
            1,
            ConfErrorKind::BadValue {
                what: "file",
                value: "/tmp/x".into(),
                why: "not file:///path or raw:///path",
            },
        ),
        (
            "match { rule = 1; } do { syslog(\"local9.info\"); };",
            1,
            ConfErrorKind::BadValue {
                what: "syslog",
                value: "local9.info".into(),
                why: "not facility.priority with known names",
            },
        ),
        (
            "match { dstport = $P; } do { nothing; };",
            1,
            ConfErrorKind::UndefinedVariable("P".into()),
        ),
        (
            "A = \"$A\";\nmatch { rule = $A; } do { nothing; };",
            2,
            ConfErrorKind::VariableLoop("A".into()),
        ),
        // Found by the ipmon_conf fuzz target: a variable whose value
        // uses it after other tokens grew the token list forever.
        (
            "# comp\nWEB = \t\";\n $WEB,   ;\ng0 \";\n $WEB,   ;\n",
            5,
            ConfErrorKind::VariableLoop("WEB".into()),
        ),
        (
            "A = \"; $B\"; B = \"; $A\";\n$A",
            2,
            ConfErrorKind::VariableLoop("A".into()),
        ),
        (
            "match { rule = 1; } do { nothing; ",
            1,
            ConfErrorKind::End {
                expected: "'}'".into(),
            },
        ),
        (
            "match { rule = 1; }\n\n  do { execute(\"x); };",
            3,
            ConfErrorKind::UnterminatedString,
        ),
        (
            "match { rule = 1; } done { nothing; };",
            1,
            ConfErrorKind::Unexpected {
                expected: "\"do\"".into(),
                found: "\"done\"".into(),
            },
        ),
        (
            "match { every 0 packets; } do { nothing; };",
            1,
            ConfErrorKind::BadValue {
                what: "every",
                value: "0".into(),
                why: "must be at least 1",
            },
        ),
        (
            "match { protocol = nosuch; } do { nothing; };",
            1,
            ConfErrorKind::BadValue {
                what: "protocol",
                value: "nosuch".into(),
                why: "unknown protocol name",
            },
        ),
        (
            "match { direction = sideways; } do { nothing; };",
            1,
            ConfErrorKind::BadValue {
                what: "direction",
                value: "sideways".into(),
                why: "not in or out",
            },
        ),
        (
            "match { rule = 1; } do { nothing; }; @",
            1,
            ConfErrorKind::BadChar('@'),
        ),
        (
            "match { rule = 1; } do { save(\"file:///x\"); };",
            1,
            ConfErrorKind::Unsupported("save(…) (IP Filter 4.1 syntax; use file(…))".into()),
        ),
    ];
    for (text, line, kind) in cases {
        assert_eq!(
            err(text),
            ConfError {
                line: *line,
                kind: kind.clone()
            },
            "{text}"
        );
    }
    assert_eq!(
        err("match { srcport = http; } do { nothing; };").to_string(),
        "line 1: bad value \"http\" for srcport: not a number in range"
    );
}

#[test]
fn protocol_names_from_a_table() {
    let protocols = ProtocolNames::parse("tcp 6 TCP\nmyproto 253 X\n");
    let c = parse_with("match { protocol = myproto; } do { nothing; };", &protocols).unwrap();
    assert_eq!(c.rules()[0].conditions.protocol, Some(253));
}

proptest::proptest! {
    #[test]
    fn any_text_never_panics(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(vec![
        "match", "do", "{", "}", ";", ",", "=", "/", "(", ")", "every", "5", "seconds", "srcip", "1.2.3.4",
        "file", "\"file:///x\"", "syslog", "nothing", "$V", "V", "\"1\"", "rule", "type", "nat",
    ]), 0..30)) {
        let _ = parse(&words.join(" "));
    }
}

/// crate::cidr's rule: a mapped prefix is its IPv4 prefix (IP Filter's own
/// prefix type matched it against nothing), and one shorter than /96 is
/// refused at load time.
#[test]
fn mapped_prefixes_are_ipv4() {
    let p = pkt(ip4(6, 1, 80));
    assert!(hits("srcip = ::ffff:10.1.0.0/112", &p));
    assert!(hits("dstip = ::ffff:192.168.1.9/128", &p));
    assert!(!hits("srcip = ::ffff:10.2.0.0/112", &p));
    assert!(!hits("srcip = ::/0", &p));
    assert!(matches!(
        err("match { srcip = ::ffff:10.0.0.0/80; } do { nothing; };").kind,
        ConfErrorKind::BadValue { .. }
    ));
}

/// `type = nat` / `type = state` lines match NAT and state records on the
/// original direction's ends; lines without `type` do not, and packets do
/// not match them.
#[test]
fn nat_and_state_records_match_their_type_lines() {
    use crate::event::{Header, NatLog, NatType, Source, StateLog};
    let a = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let header = Header {
        time: t(0),
        source: Source::Conntrack,
        seq: 1,
    };
    let nat = event::Event::Nat(Box::new(NatLog {
        header: header.clone(),
        nat_type: NatType::Rdr,
        rule: 0,
        orig_src: (a("10.1.1.1"), 40000),
        orig_dst: (a("10.1.1.2"), 8080),
        new_src: (a("10.2.2.1"), 40000),
        new_dst: (a("10.2.2.2"), 80),
        ..NatLog::sample()
    }));
    let state = event::Event::State(Box::new(StateLog {
        header,
        protocol: 17,
        src: a("10.1.1.1"),
        dst: a("10.1.1.2"),
        ports: (5353, 53),
        ..StateLog::sample()
    }));
    let packet = event::Event::Packet(Box::new(pkt(ip4(6, 1234, 80))));
    let hit = |conds: &str, ev: &event::Event| {
        let mut c = parse(&format!("match {{ {conds}; }} do {{ nothing; }};")).unwrap();
        let n = c.matches_event(ev, t(0)).count();
        n > 0
    };
    for yes in [
        "type = nat",
        "type = nat, dstport = 8080, srcip = 10.1.0.0/16, protocol = tcp",
        "type = nat, srcport = 40000, dstip = 10.1.1.2/32",
    ] {
        assert!(hit(yes, &nat), "{yes}");
    }
    for no in [
        "type = state",
        "protocol = tcp",
        "type = ipf",
        "type = nat, dstport = 80",
        "type = nat, dstip = 10.2.2.2/32",
        "type = nat, protocol = udp",
    ] {
        assert!(!hit(no, &nat), "{no}");
    }
    assert!(hit("type = state, dstport = 53, protocol = udp", &state));
    assert!(!hit("type = state, dstport = 5353", &state));
    assert!(!hit("type = nat", &state));
    assert!(!hit("type = nat", &packet));
    assert!(!hit("type = state", &packet));
    assert!(hit("protocol = tcp", &packet));
    // Packet-only conditions are refused on these lines, at the match's line.
    let e = err("\nmatch { type = state,\n logtag = 3 ; } do { nothing ; } ;");
    assert_eq!(e.line, 2);
    assert_eq!(
        e.kind,
        ConfErrorKind::NotFor {
            condition: "logtag",
            record: "state"
        }
    );
}
