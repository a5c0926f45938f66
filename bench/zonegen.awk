# The benchmark zone: n records under zone z, shared by bench/qps.sh and
# bench/load.sh so both measure the same kind of zone.
#
#   awk -v n=RECORDS -v z=ZONE [-v deleg=K] [-v last=NAME] -f bench/zonegen.awk >FILE 2>HOSTS
#
# Per host hNNNNN: A always, AAAA every 2nd, TXT every 4th, MX every 8th, a
# CNAME wNNNNN every 50th. With deleg=K, every K-th host also gets a
# delegation dNNNNN (two NS, one in-zone with glue A and AAAA, one out of
# zone), so loading has cuts and occluded glue to handle. With last=NAME
# the file ends with "NAME A 192.0.2.99" (counted in n): the record a
# loading benchmark asks for to know the whole file is served. Prints the
# number of hosts on stderr. deleg=0 and no last give bench/qps.sh's zone
# of old, byte for byte.
# the last groups of an IPv6 address for i (one group of 16 bits while i
# fits, as qps.sh's zone always had)
function v6(i) {
    return i < 65536 ? sprintf("%x", i) : sprintf("%x:%x", int(i / 65536), i % 65536)
}
BEGIN {
    print "$ORIGIN " z "."
    print "$TTL 3600"
    print "@ SOA ns1 hostmaster 1 7200 3600 1209600 300"
    print "@ NS ns1"
    print "@ NS ns2"
    print "ns1 A 192.0.2.1"
    print "ns2 A 192.0.2.2"
    print "@ MX 10 mail"
    print "mail A 192.0.2.25"
    # qps.sh's zone of old counted the 7 records above as 8; with last
    # given the count is exact
    c = last != "" ? 7 : 8
    m = n - (last != "" ? 1 : 0)
    for (i = 0; c < m; i++) {
        printf "h%05d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256; c++
        if (i % 2 == 0 && c < m) { printf "h%05d AAAA 2001:db8::%s\n", i, v6(i); c++ }
        if (i % 4 == 0 && c < m) { printf "h%05d TXT \"host %d\"\n", i, i; c++ }
        if (i % 8 == 0 && c < m) { printf "h%05d MX 10 mail\n", i; c++ }
        if (i % 50 == 0 && c < m) { printf "w%05d CNAME h%05d\n", i, i; c++ }
        if (deleg > 0 && i % deleg == 0 && c + 4 <= m) {
            printf "d%05d NS ns1.d%05d\n", i, i
            printf "d%05d NS ns.example.net.\n", i
            printf "ns1.d%05d A 198.51.%d.%d\n", i, int(i / 256) % 256, i % 256
            printf "ns1.d%05d AAAA 2001:db8:1::%s\n", i, v6(i)
            c += 4
        }
    }
    if (last != "") { printf "%s A 192.0.2.99\n", last; c++ }
    print i > "/dev/stderr"
}
