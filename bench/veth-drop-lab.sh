# Sourced by the drop/trace benchmarks (POSIX sh): `veth_drop_lab A B NET`
# makes namespaces A and B joined by veth-a (A, NET.1) -- veth-b (B, NET.2),
# /24, both up and lo up in B, an nftables `udp dport 9999 counter drop`
# input rule in B (table inet storm, chain input), and checks A reaches B.
# NET is the first three octets, e.g. 10.201.0. The caller deletes A and B.
veth_drop_lab() {
	ip netns add "$1"; ip netns add "$2"
	ip link add veth-a netns "$1" type veth peer name veth-b netns "$2"
	ip -n "$1" addr add "$3.1/24" dev veth-a
	ip -n "$2" addr add "$3.2/24" dev veth-b
	ip -n "$1" link set veth-a up; ip -n "$2" link set veth-b up
	ip -n "$2" link set lo up
	printf 'table inet storm {\n chain input {\n  type filter hook input priority 0;\n  udp dport 9999 counter drop\n }\n}\n' | ip netns exec "$2" nft -f -
	ip netns exec "$1" ping -c1 -W1 "$3.2" >/dev/null
}
