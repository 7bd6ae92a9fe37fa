use inetmon_core::event::{EventKind, LossStage, SockOp};

use super::{WebFilter, WebState};
use crate::metrics::tests::{drop_event, lost, sock};

#[test]
fn query_strings_use_the_command_lines_parsers() {
    let f = WebFilter::parse("type=drop,sock&port=80&port=443&comm=curl&ip=10.0.0.0%2F8&proto=udp")
        .unwrap();
    assert_eq!(f.monitor.kinds, [EventKind::Drop, EventKind::Sock]);
    assert_eq!(f.monitor.ports, [80, 443]);
    assert_eq!(f.monitor.protos, [17]);
    assert_eq!(f.comms, ["curl"]);
    assert_eq!(
        f.describe(),
        "type=drop,sock&ip=10.0.0.0/8&port=80,443&proto=17&comm=curl"
    );
    assert_eq!(WebFilter::parse("").unwrap().describe(), "all events");
    for (q, want) in [
        ("proto=bogus", "proto: unknown protocol \"bogus\""),
        ("type=packets", "type: unknown event type \"packets\""),
        ("port=99999", "port: \"99999\" is not a port (0-65535)"),
        ("ip=10.0.0.0/33", "ip: "),
        ("colour=red", "colour: unknown filter"),
    ] {
        let e = WebFilter::parse(q).unwrap_err().to_string();
        assert!(e.starts_with(want), "{q}: {e}");
    }
}

#[test]
fn filters_match_events_as_the_cli_does() {
    let f = WebFilter::parse("comm=curl&port=80").unwrap();
    assert!(f.matches(&sock(SockOp::Connected, 1, 0)));
    assert!(!WebFilter::parse("comm=wget")
        .unwrap()
        .matches(&sock(SockOp::Connected, 1, 0)));
    // A drop has no program here: a comm filter does not match it.
    assert!(!f.matches(&drop_event(2, "NO_SOCKET")));
    assert!(WebFilter::parse("port=8080")
        .unwrap()
        .matches(&drop_event(2, "NO_SOCKET")));
    // Loss always passes.
    assert!(WebFilter::parse("type=drop&comm=x")
        .unwrap()
        .matches(&lost(LossStage::Kernel, 1)));
    // Counted drops: a reason and an interface only.
    let any = WebFilter::default();
    assert!(any.matches_count("NO_SOCKET", "lo"));
    assert!(!any.matches_count("NOT_SPECIFIED", "lo"));
    assert!(WebFilter::parse("not-specified")
        .unwrap()
        .matches_count("NOT_SPECIFIED", "lo"));
    assert!(
        WebFilter::parse("reason=SKB_DROP_REASON_no_socket&iface=lo")
            .unwrap()
            .matches_count("NO_SOCKET", "lo")
    );
    assert!(!WebFilter::parse("iface=eth0")
        .unwrap()
        .matches_count("NO_SOCKET", "lo"));
    assert!(!WebFilter::parse("port=80")
        .unwrap()
        .matches_count("NO_SOCKET", "lo"));
    assert!(!WebFilter::parse("type=sock")
        .unwrap()
        .matches_count("NO_SOCKET", "lo"));
}

#[test]
fn view_keeps_open_connections_listeners_drops_and_losses() {
    let st = WebState::new();
    let now = 1_000_000;
    st.apply(
        now - 1,
        vec![
            sock(SockOp::Connected, 1, 0),
            sock(SockOp::Connected, 2, 0),
            sock(SockOp::Connected, 3, 111), // refused: audited, not open
            sock(SockOp::Listen, 4, 0),
            drop_event(2, "NO_SOCKET"),
            drop_event(2, "NO_SOCKET"),
            lost(LossStage::Kernel, 5),
        ],
    );
    st.apply(
        now,
        vec![sock(SockOp::Close, 1, 0), drop_event(2, "NO_SOCKET")],
    );
    st.apply_drop_counts(now, [(now, "NETFILTER_DROP", "lo", 7)]);
    let v = st.view(&WebFilter::default(), now);
    assert_eq!(v["processes"][0]["open"], 1, "{v}");
    assert_eq!(v["processes"][0]["comm"], "curl");
    assert_eq!(v["listening"][0]["port"], 40000, "{v}");
    let series = &v["drops"]["series"]["NO_SOCKET"];
    assert_eq!(
        (series[58].as_u64(), series[59].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["drops"]["series"]["NETFILTER_DROP"][59], 7, "{v}");
    assert_eq!(v["losses"]["total"][0]["count"], 5);
    let audit = v["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 4, "{v}");
    assert!(
        audit[0]
            .as_str()
            .unwrap()
            .contains("SERVER: (0, 0) \"tcp!127.0.0.1!40000\" Started by UID 1000"),
        "{v}"
    );
    assert!(
        audit[1]
            .as_str()
            .unwrap()
            .contains("CONNECTION: (0, 0) \"tcp!127.0.0.1!80\" Failed by UID 1000"),
        "{v}"
    );
    // Filtered: the drops only.
    let d = st.view(&WebFilter::parse("type=drop").unwrap(), now);
    assert_eq!(d["processes"].as_array().unwrap().len(), 0);
    assert_eq!(d["audit"].as_array().unwrap().len(), 0);
    assert_eq!(d["drops"]["series"]["NETFILTER_DROP"][59], 7);
    // A minute later the drops are gone; the open connection is not.
    st.apply(now + 60, vec![sock(SockOp::Create, 9, 0)]);
    let later = st.view(&WebFilter::default(), now + 60);
    assert_eq!(later["drops"]["series"], serde_json::json!({}), "{later}");
    assert_eq!(later["processes"][0]["open"], 1);
}
