// C++ reference side of bench/capnp.sh (libcapnp): the same work as bench_c.c.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "eon.capnp.h"

static double now()
{
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static kj::Array<capnp::word> build(unsigned n)
{
    capnp::MallocMessageBuilder b;
    auto p = b.initRoot<Domain::UpdateParams>();
    auto l = p.initUpdates(n);
    char name[64];
    for (unsigned i = 0; i < n; i++) {
        auto u = l[i];
        int k = snprintf(name, sizeof name, "host-%u.example.org", i);
        u.setName(capnp::Text::Reader(name, k));
        auto a = u.initAdd();
        a.setType(1);
        kj::byte v[4] = {10, (kj::byte)(i >> 16), (kj::byte)(i >> 8), (kj::byte)i};
        a.setValue(capnp::Data::Reader(v, 4));
        a.setTtl(3600);
    }
    return capnp::messageToFlatArray(b);
}

static uint64_t traverse(kj::ArrayPtr<const capnp::word> words)
{
    capnp::FlatArrayMessageReader r(words);
    uint64_t sum = 0;
    for (auto u : r.getRoot<Domain::UpdateParams>().getUpdates()) {
        sum += u.getName().size();
        if (u.which() == Update::ADD) {
            auto a = u.getAdd();
            auto v = a.getValue();
            sum += (uint64_t)a.getType() + (uint64_t)a.getTtl() + v.size();
            if (v.size() == 4) sum += v[3];
        }
    }
    return sum;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? atoi(argv[1]) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 200;
    size_t len = 0;
    // The best of 5 batches, as in bench_c.c.
    double tb = 1e30, tr = 1e30;
    auto msg = build(n);
    uint64_t sum = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int i = 0; i < rounds; i++) len = build(n).size() * 8;
        double t1 = now();
        sum = 0;
        for (int i = 0; i < rounds; i++) sum += traverse(msg);
        double t2 = now();
        if (t1 - t0 < tb) tb = t1 - t0;
        if (t2 - t1 < tr) tr = t2 - t1;
    }
    printf("%.1f %.1f %zu %llu\n", tb / rounds * 1e6, tr / rounds * 1e6, len,
           (unsigned long long)(sum / rounds));
    return 0;
}
